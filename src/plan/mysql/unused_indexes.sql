-- Secondary, non-unique indexes of this database that performance_schema has seen no operation
-- through since the server started (tables not opened since then have no row here, so they are
-- never reported).
SELECT s.OBJECT_NAME AS `table`, s.INDEX_NAME AS `index`
FROM performance_schema.table_io_waits_summary_by_index_usage s
JOIN information_schema.STATISTICS st
  ON st.TABLE_SCHEMA = s.OBJECT_SCHEMA AND st.TABLE_NAME = s.OBJECT_NAME AND st.INDEX_NAME = s.INDEX_NAME
 AND st.SEQ_IN_INDEX = 1 AND st.NON_UNIQUE = 1
WHERE s.OBJECT_SCHEMA = DATABASE() AND s.INDEX_NAME IS NOT NULL AND s.INDEX_NAME <> 'PRIMARY' AND s.COUNT_STAR = 0
ORDER BY 1, 2
