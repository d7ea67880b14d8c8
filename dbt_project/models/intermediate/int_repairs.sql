-- Credit repair decisions (all delivered versions) with the subject they concern.
{{ versions_with_subject(ref('stg_credit_repair'), category='credit_repair') }}
