-- GENERATED from catalogs/categories/inspection.yaml (行政检查); see macros/staging.sql.
-- All delivered versions (is_current marks the current one: point-in-time needs the others).
{{ stage_category('inspection') }}
