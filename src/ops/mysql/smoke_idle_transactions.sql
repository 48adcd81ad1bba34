-- ? seconds a session may sit idle inside an open InnoDB transaction (needs the PROCESS privilege).
SELECT p.ID AS id, p.USER AS `user`, 'idle in transaction' AS state, p.TIME AS seconds,
       CAST(x.trx_started AS CHAR) AS transaction_started
FROM information_schema.INNODB_TRX x
JOIN information_schema.PROCESSLIST p ON p.ID = x.trx_mysql_thread_id
WHERE p.ID <> CONNECTION_ID() AND p.DB = DATABASE() AND p.COMMAND = 'Sleep' AND p.TIME >= ?
ORDER BY p.TIME DESC
