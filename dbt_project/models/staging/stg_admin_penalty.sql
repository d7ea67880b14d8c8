-- GENERATED from catalogs/categories/admin_penalty.yaml (行政处罚); see macros/staging.sql.
-- All delivered versions (is_current marks the current one: point-in-time needs the others).
{{ stage_category('admin_penalty') }}
