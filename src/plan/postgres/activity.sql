-- Sessions doing something now (ours excluded), longest first, with who blocks them.
SELECT COALESCE(json_agg(t), '[]'::json)::text FROM (
    SELECT a.pid, a.usename AS "user", a.application_name AS application, a.state,
           round(extract(epoch FROM now() - COALESCE(a.xact_start, a.query_start)) * 1000) AS running_ms,
           a.wait_event_type, a.wait_event, pg_blocking_pids(a.pid) AS blocked_by,
           (SELECT json_agg(DISTINCT l.mode) FROM pg_locks l WHERE l.pid = a.pid AND NOT l.granted) AS waiting_for_locks,
           left(a.query, 300) AS query
    FROM pg_stat_activity a
    WHERE a.pid <> pg_backend_pid() AND a.datname = current_database() AND a.backend_type = 'client backend'
      AND a.state IS DISTINCT FROM 'idle'
    ORDER BY running_ms DESC NULLS LAST
    LIMIT 50
) t
