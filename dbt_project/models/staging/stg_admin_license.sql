-- GENERATED from catalogs/categories/admin_license.yaml (行政许可); see macros/staging.sql.
-- All delivered versions (is_current marks the current one: point-in-time needs the others).
{{ stage_category('admin_license') }}
