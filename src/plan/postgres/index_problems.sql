-- Unused and duplicate indexes outside system schemas (foreign keys: unindexed_foreign_keys.sql).
WITH idx AS (
    SELECT x.indexrelid, x.indrelid, i.relname AS index, t.relname AS "table", n.nspname AS schema,
           x.indisunique, x.indisprimary, x.indkey::text AS keys,
           pg_get_expr(x.indpred, x.indrelid) AS predicate, pg_get_expr(x.indexprs, x.indrelid) AS expressions,
           pg_relation_size(x.indexrelid) AS bytes, COALESCE(s.idx_scan, 0) AS scans
    FROM pg_index x
    JOIN pg_class i ON i.oid = x.indexrelid
    JOIN pg_class t ON t.oid = x.indrelid
    JOIN pg_namespace n ON n.oid = t.relnamespace
    LEFT JOIN pg_stat_user_indexes s ON s.indexrelid = x.indexrelid
    WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_toast%'
)
SELECT json_build_object(
    'unused', COALESCE((SELECT json_agg(json_build_object('schema', schema, 'table', "table", 'index', index, 'bytes', bytes) ORDER BY bytes DESC)
                        FROM idx WHERE scans = 0 AND NOT indisunique AND NOT indisprimary), '[]'::json),
    'duplicates', COALESCE((SELECT json_agg(json_build_object('schema', a.schema, 'table', a."table", 'index', a.index, 'same_as', b.index, 'bytes', a.bytes))
                            FROM idx a JOIN idx b ON a.indrelid = b.indrelid AND a.indexrelid <> b.indexrelid AND a.keys = b.keys
                             AND a.predicate IS NOT DISTINCT FROM b.predicate AND a.expressions IS NOT DISTINCT FROM b.expressions
                             AND NOT a.indisprimary AND (b.indisprimary OR (a.indisunique = b.indisunique AND a.indexrelid > b.indexrelid) OR (b.indisunique AND NOT a.indisunique))), '[]'::json)
)::text
