-- $1 schema (nullable: first match on the search_path), $2 relation name
WITH rel AS (
    SELECT c.oid, n.nspname, c.relname, c.relkind, c.reltuples, c.relrowsecurity, c.relforcerowsecurity
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relname = $2 AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
      AND ($1::text IS NULL OR n.nspname = $1)
    ORDER BY (n.nspname = ANY (current_schemas(false))) DESC, array_position(current_schemas(false), n.nspname), n.nspname
    LIMIT 1
)
SELECT json_build_object(
    'schema', rel.nspname,
    'name', rel.relname,
    'kind', CASE rel.relkind WHEN 'r' THEN 'table' WHEN 'p' THEN 'partitioned table' WHEN 'v' THEN 'view'
                             WHEN 'm' THEN 'materialized view' WHEN 'f' THEN 'foreign table' END,
    'row_estimate', CASE WHEN rel.reltuples < 0 THEN NULL ELSE rel.reltuples::bigint END,
    'total_bytes', pg_total_relation_size(rel.oid),
    'comment', obj_description(rel.oid, 'pg_class'),
    'columns', (
        SELECT COALESCE(json_agg(json_build_object(
            'name', a.attname,
            'type', format_type(a.atttypid, a.atttypmod),
            'nullable', NOT a.attnotnull,
            'default', pg_get_expr(d.adbin, d.adrelid),
            'identity', NULLIF(a.attidentity, ''),
            'generated', NULLIF(a.attgenerated, ''),
            'comment', col_description(a.attrelid, a.attnum)
        ) ORDER BY a.attnum), '[]'::json)
        FROM pg_attribute a
        LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE a.attrelid = rel.oid AND a.attnum > 0 AND NOT a.attisdropped
    ),
    'primary_key', (
        SELECT json_agg(a.attname ORDER BY k.ord)
        FROM pg_constraint con
        CROSS JOIN LATERAL unnest(con.conkey) WITH ORDINALITY AS k(attnum, ord)
        JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum
        WHERE con.conrelid = rel.oid AND con.contype = 'p'
    ),
    'foreign_keys', (
        SELECT COALESCE(json_agg(json_build_object(
            'name', con.conname,
            'definition', pg_get_constraintdef(con.oid),
            'references', con.confrelid::regclass::text,
            'validated', con.convalidated
        ) ORDER BY con.conname), '[]'::json)
        FROM pg_constraint con WHERE con.conrelid = rel.oid AND con.contype = 'f'
    ),
    'checks', (
        SELECT COALESCE(json_agg(json_build_object(
            'name', con.conname, 'definition', pg_get_constraintdef(con.oid), 'validated', con.convalidated
        ) ORDER BY con.conname), '[]'::json)
        FROM pg_constraint con WHERE con.conrelid = rel.oid AND con.contype IN ('c', 'u', 'x')
    ),
    'indexes', (
        SELECT COALESCE(json_agg(json_build_object(
            'name', ic.relname,
            'definition', pg_get_indexdef(i.indexrelid),
            'unique', i.indisunique,
            'primary', i.indisprimary,
            'valid', i.indisvalid,
            'bytes', pg_relation_size(i.indexrelid),
            'columns', (SELECT json_agg(a.attname ORDER BY k.ord)
                        FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
                        JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum)
        ) ORDER BY ic.relname), '[]'::json)
        FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid WHERE i.indrelid = rel.oid
    ),
    'row_level_security', json_build_object(
        'enabled', rel.relrowsecurity,
        'forced', rel.relforcerowsecurity,
        'policies', (
            SELECT COALESCE(json_agg(json_build_object(
                'name', p.policyname, 'command', p.cmd, 'permissive', p.permissive = 'PERMISSIVE',
                'roles', p.roles, 'using', p.qual, 'with_check', p.with_check
            ) ORDER BY p.policyname), '[]'::json)
            FROM pg_policies p WHERE p.schemaname = rel.nspname AND p.tablename = rel.relname
        )
    ),
    'view_definition', CASE WHEN rel.relkind IN ('v', 'm') THEN pg_get_viewdef(rel.oid, true) END
)::text
FROM rel
