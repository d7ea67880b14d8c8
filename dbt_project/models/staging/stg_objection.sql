-- GENERATED from catalogs/categories/objection.yaml (异议); see macros/staging.sql.
-- All delivered versions (is_current marks the current one: point-in-time needs the others).
{{ stage_category('objection') }}
