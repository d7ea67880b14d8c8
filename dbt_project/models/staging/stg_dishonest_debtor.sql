-- GENERATED from catalogs/categories/dishonest_debtor.yaml (失信被执行人); see macros/staging.sql.
-- All delivered versions (is_current marks the current one: point-in-time needs the others).
{{ stage_category('dishonest_debtor') }}
