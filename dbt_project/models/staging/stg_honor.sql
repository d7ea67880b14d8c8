-- GENERATED from catalogs/categories/honor.yaml (诚实守信相关荣誉); see macros/staging.sql.
-- All delivered versions (is_current marks the current one: point-in-time needs the others).
{{ stage_category('honor') }}
