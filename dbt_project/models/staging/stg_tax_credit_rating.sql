-- GENERATED from catalogs/categories/tax_credit_rating.yaml (纳税信用评价); see macros/staging.sql.
-- All delivered versions (is_current marks the current one: point-in-time needs the others).
{{ stage_category('tax_credit_rating') }}
