-- $1 table names (unqualified)
SELECT COALESCE(json_agg(json_build_object(
    'schema', s.schemaname, 'table', s.relname,
    'total_bytes', pg_total_relation_size(s.relid),
    'live_rows', s.n_live_tup, 'dead_rows', s.n_dead_tup,
    'seq_scans', s.seq_scan, 'index_scans', s.idx_scan,
    'last_analyze', GREATEST(s.last_analyze, s.last_autoanalyze),
    'last_vacuum', GREATEST(s.last_vacuum, s.last_autovacuum),
    'modified_since_analyze', s.n_mod_since_analyze
) ORDER BY s.relname), '[]'::json)::text
FROM pg_stat_user_tables s
WHERE s.relname = ANY ($1)
