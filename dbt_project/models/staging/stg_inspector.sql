-- GENERATED from catalogs/categories/inspector.yaml (执法检查人员名录); see macros/staging.sql.
-- All delivered versions (is_current marks the current one: point-in-time needs the others).
{{ stage_category('inspector') }}
