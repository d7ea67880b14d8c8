-- GENERATED from catalogs/categories/credit_repair.yaml (信用修复); see macros/staging.sql.
-- All delivered versions (is_current marks the current one: point-in-time needs the others).
{{ stage_category('credit_repair') }}
