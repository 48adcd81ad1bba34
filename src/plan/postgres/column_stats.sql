-- $1 table, $2 column names: the planner's statistics for them, and the table's row estimate.
SELECT s.attname::text, s.n_distinct::float8,
       COALESCE(s.most_common_vals::text::text[], '{}'::text[]),
       COALESCE(s.most_common_freqs, '{}'::real[]),
       GREATEST(c.reltuples, 0)::float8
FROM pg_stats s
JOIN pg_namespace n ON n.nspname = s.schemaname
JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = s.tablename
WHERE s.tablename = $1 AND s.attname = ANY ($2) AND pg_table_is_visible(c.oid)
