-- GENERATED from catalogs/categories/registration.yaml (登记注册基本信息); see macros/staging.sql.
-- All delivered versions (is_current marks the current one: point-in-time needs the others).
{{ stage_category('registration') }}
