{#- Delta builds: the incremental path of the evaluation (docs/performance.md, "The
    incremental path"; dbt_project/README.md, "Delta builds").

    A re-run for the same evaluation date, models and parameters recomputes only the
    subjects whose inputs changed since the last successful build: the subjects code
    governance logged in codes.subject_changes (every reference added, removed or
    re-resolved, every codes.subjects row that changed) after the generation that build
    consumed. The pipeline (pipelines/warehouse/delta.py) decides and passes the
    environment variables CREDIT_DBT_DELTA=true and CREDIT_DBT_SINCE_GENERATION=N (or
    --vars '{delta: true, since_generation: N}' by hand); anything else (another as_of, a changed
    model, seed or macro, a failed full build, a code-governance full resolution, too many
    changed subjects) is a full build.

    Every model of a subject (or its records) is partitioned by subject: its rows for one
    subject depend only on that subject's inputs and on configuration. A delta model
    * is materialized 'incremental' in a delta build and 'table' otherwise
      (delta_materialization()), with the custom strategy 'subject_delta';
    * filters its inputs with delta_filter(column): true in a full build, "column is a
      changed subject" in a delta build;
    * has its rows of the changed subjects deleted and the recomputed ones inserted
      (get_incremental_subject_delta_sql) — a subject that disappeared loses its rows.
    So after a delta build every table equals what a full build gives (tests/dbt:
    test_delta_build_equals_full_build). Models over every subject at once (the sampling
    plan and draw, the inspector roster, penalty windows) stay full tables. -#}

{#- The code-governance generation a delta build starts after: `--vars
    '{since_generation: N}'`, else the environment variable CREDIT_DBT_SINCE_GENERATION (how
    the pipeline passes it, changing every run: see as_of_str), else 0. -#}
{% macro since_generation() -%}
    {{ return(var('since_generation', env_var('CREDIT_DBT_SINCE_GENERATION', '0')) | int) }}
{%- endmacro %}

{#- A delta build? `--vars '{delta: true}'`, else the environment variable
    CREDIT_DBT_DELTA (how the pipeline passes it: a change of --vars re-parses the whole
    project, a changed environment variable only the models that read it), else false. -#}
{% macro delta_requested() -%}
    {%- set v = var('delta', env_var('CREDIT_DBT_DELTA', 'false')) -%}
    {{ return(v is sameas true or (v | string | lower) in ('true', '1', 'yes')) }}
{%- endmacro %}

{#- 'incremental' in a delta build, else 'table' (a full rebuild). -#}
{% macro delta_materialization() -%}
    {{ return('incremental' if delta_requested() else 'table') }}
{%- endmacro %}

{#- True while this model is being updated in place for the changed subjects only. -#}
{% macro is_delta() -%}
    {{ return(delta_requested() and is_incremental()) }}
{%- endmacro %}

{#- Does the delta include records whose subject could not be resolved (NULL)? Asked of
    the warehouse at run time, so that the common case (no) compiles to no NULL branch. -#}
{% macro delta_has_null_subject() -%}
    {%- if not (execute and is_delta()) -%}
        {{ return(false) }}
    {%- endif -%}
    {%- set rows = run_query('select count(*) from ' ~ delta_subjects_relation() ~ ' where subject_id is null') -%}
    {{ return(rows.columns[0].values()[0] > 0) }}
{%- endmacro %}

{#- The relation of int_delta_subjects, looked up in the graph rather than by ref(): data
    tests read it too, and a test has no dependency on it (the delta models do:
    delta_depends_on()). -#}
{% macro delta_subjects_relation() -%}
    {%- set node = graph.nodes.values() | selectattr('resource_type', 'equalto', 'model')
                   | selectattr('name', 'equalto', 'int_delta_subjects') | first -%}
    {{ return(api.Relation.create(database=node.database, schema=node.schema, identifier=node.alias)) }}
{%- endmacro %}

{#- "column is one of the changed subjects" (never true for NULL). -#}
{% macro delta_subject_in(column) -%}
    {{ column }} in (select subject_id from {{ delta_subjects_relation() }} where subject_id is not null)
{%- endmacro %}

{#- A predicate on a subject column: true in a full build; in a delta build true for the
    changed subjects (and for NULL when unresolved records changed). -#}
{% macro delta_filter(column) -%}
    {%- if is_delta() -%}
        ({{ delta_subject_in(column) }}
        {%- if delta_has_null_subject() %} or {{ column }} is null{% endif %})
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}

{#- The rows of a table that delta_filter(column) keeps, as a subquery to select from. In
    a delta build the row ids of the changed subjects are found first, reading the one
    column, and only those rows are then fetched whole: a filter through the semi-join
    reads every column of every row group before it can drop a row (a wide record table
    read that way costs about twice as much). A full build: the relation itself. For tables
    (rowid), where a model selects every column of a wide one. -#}
{% macro delta_rows(relation, column='subject_id') -%}
    {%- if is_delta() -%}
        (select * from {{ relation }} where rowid in (select rowid from {{ relation }} where {{ delta_filter(column) }}))
    {%- else -%}
        {{ relation }}
    {%- endif -%}
{%- endmacro %}

{#- The custom incremental strategy: the target's rows of the changed subjects go (a
    subject with no row left in the new result is removed too), the temp relation's rows
    (the changed subjects, recomputed) come in. incremental_predicates narrow the delete
    (the as_of of the history marts).

    It also switches off DuckDB's vacuum for the rest of the build (max_vacuum_tasks, a
    setting of the database, not of the connection): at the checkpoint when dbt closes
    the warehouse, DuckDB would otherwise merge the row groups the deletes touched with
    the partly filled ones the previous delta build appended, rewriting them — about 2 s
    for each of the three 9M-row record tables at 2 % of the subjects changed, the
    largest part of that checkpoint (docs/performance.md, "The delta build's
    checkpoint"). The next checkpoint with vacuum does the merge, whatever it writes: in
    the scheduled runs the build's bookkeeping right after dbt; the landing job's writers
    defer it to those runs (pipelines/defs/resources.py DEFER_VACUUM). A full build (every
    build for another evaluation date) writes every table anew. -#}
{% macro get_incremental_subject_delta_sql(arg_dict) -%}
    {%- set target = arg_dict['target_relation'] -%}
    {%- set cols = get_quoted_csv(arg_dict['dest_columns'] | map(attribute='name')) -%}
    set max_vacuum_tasks = 0;
    delete from {{ target }}
    where {{ delta_filter(config.get('delta_key', 'subject_id')) }}
    {%- for predicate in (arg_dict['incremental_predicates'] or []) %}
      and {{ predicate }}
    {%- endfor %};
    insert into {{ target }} ({{ cols }})
    select {{ cols }} from {{ arg_dict['temp_relation'] }}
{%- endmacro %}

{#- In a delta build, the model reads the changed subjects (a dependency dbt must know
    before it runs). Nothing in a full build, so that unit tests (which run only in full
    builds: a delta build changes no code) need no such input. -#}
{% macro delta_depends_on() -%}
    {%- if delta_requested() -%}
        -- depends_on: {{ ref('int_delta_subjects') }}
    {%- endif -%}
{%- endmacro %}

{#- Data tests in a delta build (dbt calls get_where_subquery for the model a generic test
    reads). The rows of unchanged subjects are the rows the previous build wrote and tested;
    a delta build replaced only the changed subjects' rows, so a test of a delta model reads
    those rows only. Every key tested for uniqueness contains subject_id — so no changed row
    can collide with an unchanged one — except credit_records.record_id: a uniqueness test
    on one column without subject_id reads every row whose value is one of the changed
    rows' values (a changed row colliding with an unchanged one is found; two unchanged rows
    were tested by the build that wrote them) — a semi-join instead of grouping all 9M
    record ids; on several such columns it reads the whole table. In a full build, and for
    the models rebuilt in full (sampling plan, draw, roster, seeds), tests read everything;
    a test's own `where` config still applies. -#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') -%}
    {%- set scoped = delta_test_scope(relation) -%}
    {%- set conditions = [] -%}
    {%- if where %}{% do conditions.append('(' ~ where ~ ')') %}{% endif -%}
    {%- if scoped %}{% do conditions.append(scoped) %}{% endif -%}
    {%- if conditions -%}
        {%- do return('(select * from ' ~ relation ~ ' where ' ~ conditions | join(' and ') ~ ') dbt_subquery') -%}
    {%- else -%}
        {%- do return(relation) -%}
    {%- endif -%}
{%- endmacro %}

{% macro delta_test_scope(relation) -%}
    {%- if not (execute and delta_requested()) -%}{{ return(none) }}{%- endif -%}
    {%- set node = (graph.nodes.values()
                    | selectattr('resource_type', 'equalto', 'model')
                    | selectattr('alias', 'equalto', relation.identifier)
                    | selectattr('schema', 'equalto', relation.schema)
                    | list) -%}
    {%- if not node -%}{{ return(none) }}{%- endif -%}
    {%- set cfg = node[0].config -%}
    {%- if cfg.get('incremental_strategy') != 'subject_delta' and not (cfg.get('meta') or {}).get('delta_scoped') -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set meta = model.get('test_metadata') or {} -%}
    {%- set kwargs = meta.get('kwargs') or {} -%}
    {%- set changed = '(' ~ delta_subject_in('subject_id') ~ ' or subject_id is null)' -%}
    {%- if meta.get('name') in ('unique', 'credit_unique_combination') -%}
        {%- set columns = kwargs.get('columns') or [kwargs.get('column_name')] -%}
        {%- if 'subject_id' not in columns -%}
            {%- if columns | length == 1 -%}
                {{ return(columns[0] ~ ' in (select ' ~ columns[0] ~ ' from ' ~ relation ~ ' where ' ~ changed ~ ')') }}
            {%- endif -%}
            {{ return(none) }}
        {%- endif -%}
    {%- endif -%}
    {{ return(changed) }}
{%- endmacro %}
