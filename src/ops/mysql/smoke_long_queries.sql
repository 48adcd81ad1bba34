-- ? seconds a statement may run; sessions of this database only.
SELECT p.ID AS id, p.USER AS `user`, 'active' AS state, p.TIME AS seconds, LEFT(p.INFO, 200) AS query
FROM information_schema.PROCESSLIST p
WHERE p.ID <> CONNECTION_ID() AND p.DB = DATABASE() AND p.COMMAND = 'Query' AND p.TIME >= ?
ORDER BY p.TIME DESC
