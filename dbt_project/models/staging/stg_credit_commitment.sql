-- GENERATED from catalogs/categories/credit_commitment.yaml (信用承诺及履行情况); see macros/staging.sql.
-- All delivered versions (is_current marks the current one: point-in-time needs the others).
{{ stage_category('credit_commitment') }}
