SELECT ID AS id, USER AS `user`, COMMAND AS command, TIME * 1000 AS running_ms, STATE AS state, LEFT(INFO, 300) AS query
FROM information_schema.PROCESSLIST
WHERE ID <> CONNECTION_ID() AND COMMAND NOT IN ('Sleep', 'Daemon', 'Binlog Dump') AND DB = DATABASE()
ORDER BY TIME DESC
LIMIT 50
