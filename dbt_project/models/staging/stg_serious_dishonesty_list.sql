-- GENERATED from catalogs/categories/serious_dishonesty_list.yaml (严重失信主体名单); see macros/staging.sql.
-- All delivered versions (is_current marks the current one: point-in-time needs the others).
{{ stage_category('serious_dishonesty_list') }}
