-- $1 order column, $2 limit. Needs pg_stat_statements in this database.
SELECT COALESCE(json_agg(t), '[]'::json)::text FROM (
    SELECT left(query, 500) AS query, calls,
           round(total_exec_time::numeric, 3) AS total_ms, round(mean_exec_time::numeric, 3) AS mean_ms,
           rows, shared_blks_hit AS cache_hits, shared_blks_read AS disk_reads, temp_blks_written AS temp_written
    FROM pg_stat_statements
    WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
      AND query NOT ILIKE '%pg_stat_statements%'
    ORDER BY CASE $1 WHEN 'calls' THEN calls::float8 WHEN 'mean_time' THEN mean_exec_time WHEN 'rows' THEN rows::float8
                     WHEN 'io' THEN (shared_blks_read + temp_blks_written)::float8 ELSE total_exec_time END DESC
    LIMIT $2
) t
