-- GENERATED from catalogs/categories/abnormal_operation.yaml (经营异常名录); see macros/staging.sql.
-- All delivered versions (is_current marks the current one: point-in-time needs the others).
{{ stage_category('abnormal_operation') }}
