-- $1 seconds a query may run, $2 seconds a session may sit idle in a transaction; this database only.
SELECT pid AS id, usename AS "user", state,
       extract(epoch FROM now() - CASE WHEN state = 'active' THEN query_start ELSE state_change END)::int AS seconds,
       left(query, 200) AS query
FROM pg_stat_activity
WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'
  AND ((state = 'active' AND now() - query_start > make_interval(secs => $1))
    OR (state LIKE 'idle in transaction%' AND now() - state_change > make_interval(secs => $2)))
ORDER BY seconds DESC
