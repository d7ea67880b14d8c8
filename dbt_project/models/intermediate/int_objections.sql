-- Objections (all delivered versions) with the subject they concern.
{{ versions_with_subject(ref('stg_objection'), category='objection') }}
