SELECT LEFT(DIGEST_TEXT, 500) AS query, COUNT_STAR AS calls,
       ROUND(SUM_TIMER_WAIT / 1e9, 3) AS total_ms, ROUND(AVG_TIMER_WAIT / 1e9, 3) AS mean_ms,
       SUM_ROWS_SENT AS `rows`, SUM_ROWS_EXAMINED AS rows_examined, SUM_NO_INDEX_USED AS no_index_used,
       SUM_CREATED_TMP_DISK_TABLES AS tmp_disk_tables
FROM performance_schema.events_statements_summary_by_digest
WHERE SCHEMA_NAME = DATABASE() AND DIGEST_TEXT NOT LIKE '%performance_schema%'
ORDER BY CASE ? WHEN 'calls' THEN COUNT_STAR WHEN 'mean_time' THEN AVG_TIMER_WAIT WHEN 'rows' THEN SUM_ROWS_SENT
                WHEN 'io' THEN SUM_ROWS_EXAMINED ELSE SUM_TIMER_WAIT END DESC
LIMIT ?
