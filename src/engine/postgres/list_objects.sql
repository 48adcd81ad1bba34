-- $1 schema (nullable), $2 ILIKE pattern (nullable), $3 limit, $4 offset
WITH objects AS (
    SELECT n.nspname AS schema,
           c.relname AS name,
           CASE c.relkind WHEN 'r' THEN 'table' WHEN 'p' THEN 'partitioned table' WHEN 'v' THEN 'view'
                          WHEN 'm' THEN 'materialized view' WHEN 'f' THEN 'foreign table' END AS kind,
           CASE WHEN c.reltuples < 0 THEN NULL ELSE c.reltuples::bigint END AS row_estimate,
           c.relrowsecurity AS rls_enabled,
           c.relforcerowsecurity AS rls_forced,
           (SELECT count(*) FROM pg_policy p WHERE p.polrelid = c.oid) AS policies,
           obj_description(c.oid, 'pg_class') AS comment
    FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')
      AND NOT c.relispartition
      AND n.nspname NOT IN ('pg_catalog', 'information_schema')
      AND n.nspname NOT LIKE 'pg\_toast%' AND n.nspname NOT LIKE 'pg\_temp\_%'
      AND ($1::text IS NULL OR n.nspname = $1)
      AND ($2::text IS NULL OR c.relname ILIKE $2 OR n.nspname || '.' || c.relname ILIKE $2)
)
SELECT json_build_object(
    'total', (SELECT count(*) FROM objects),
    'objects', COALESCE((SELECT json_agg(o) FROM (SELECT * FROM objects ORDER BY schema, name LIMIT $3 OFFSET $4) o), '[]'::json)
)::text
