-- The busiest statements of this database: digests of text-protocol statements, plus prepared
-- statements still open on connections using this database (MariaDB does not digest statements
-- run through the binary protocol, which is how drivers run prepared statements). `source` says
-- which; on MySQL 8, which digests both, a prepared statement can appear under both.
SELECT * FROM (
    SELECT 'digest' AS source, LEFT(DIGEST_TEXT, 500) AS query, COUNT_STAR AS calls,
           ROUND(SUM_TIMER_WAIT / 1e9, 3) AS total_ms, ROUND(AVG_TIMER_WAIT / 1e9, 3) AS mean_ms,
           SUM_ROWS_SENT AS `rows`, SUM_ROWS_EXAMINED AS rows_examined, SUM_NO_INDEX_USED AS no_index_used,
           SUM_CREATED_TMP_DISK_TABLES AS tmp_disk_tables
    FROM performance_schema.events_statements_summary_by_digest
    WHERE SCHEMA_NAME = DATABASE() AND DIGEST_TEXT NOT LIKE '%performance_schema%'
    UNION ALL
    SELECT 'prepared', LEFT(p.SQL_TEXT, 500), SUM(p.COUNT_EXECUTE),
           ROUND(SUM(p.SUM_TIMER_EXECUTE) / 1e9, 3), ROUND(SUM(p.SUM_TIMER_EXECUTE) / SUM(p.COUNT_EXECUTE) / 1e9, 3),
           SUM(p.SUM_ROWS_SENT), SUM(p.SUM_ROWS_EXAMINED), SUM(p.SUM_NO_INDEX_USED), SUM(p.SUM_CREATED_TMP_DISK_TABLES)
    FROM performance_schema.prepared_statements_instances p
    JOIN performance_schema.threads t ON t.THREAD_ID = p.OWNER_THREAD_ID
    WHERE t.PROCESSLIST_DB = DATABASE() AND p.COUNT_EXECUTE > 0
      AND p.SQL_TEXT NOT LIKE '%performance_schema%' AND p.SQL_TEXT NOT LIKE '%information_schema%'
    GROUP BY p.SQL_TEXT
) statements
ORDER BY CASE ? WHEN 'calls' THEN calls WHEN 'mean_time' THEN mean_ms WHEN 'rows' THEN `rows`
                WHEN 'io' THEN rows_examined ELSE total_ms END DESC
LIMIT ?
