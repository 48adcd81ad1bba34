-- The constraints load-csv checks staged rows against (? twice: the target table in the current
-- database): foreign keys with the parent (quoted; qualified when in another database) and its columns, and unique keys on whole columns
-- (no prefix or expression parts). Columns are newline-separated, in key order.
SELECT k.CONSTRAINT_NAME AS name, 'foreign key' AS kind,
       GROUP_CONCAT(k.COLUMN_NAME ORDER BY k.ORDINAL_POSITION SEPARATOR '\n') AS columns,
       CONCAT(IF(k.REFERENCED_TABLE_SCHEMA = DATABASE(), '', CONCAT('`', REPLACE(k.REFERENCED_TABLE_SCHEMA, '`', '``'), '`.')),
              '`', REPLACE(k.REFERENCED_TABLE_NAME, '`', '``'), '`') AS parent,
       k.REFERENCED_TABLE_NAME AS parent_name,
       GROUP_CONCAT(k.REFERENCED_COLUMN_NAME ORDER BY k.ORDINAL_POSITION SEPARATOR '\n') AS parent_columns
  FROM information_schema.KEY_COLUMN_USAGE k
 WHERE k.TABLE_SCHEMA = DATABASE() AND k.TABLE_NAME = ? AND k.REFERENCED_TABLE_NAME IS NOT NULL
 GROUP BY k.CONSTRAINT_NAME, k.REFERENCED_TABLE_SCHEMA, k.REFERENCED_TABLE_NAME
UNION ALL
SELECT s.INDEX_NAME, 'unique', GROUP_CONCAT(s.COLUMN_NAME ORDER BY s.SEQ_IN_INDEX SEPARATOR '\n'), NULL, NULL, NULL
  FROM information_schema.STATISTICS s
 WHERE s.TABLE_SCHEMA = DATABASE() AND s.TABLE_NAME = ? AND s.NON_UNIQUE = 0
 GROUP BY s.INDEX_NAME
HAVING MAX(s.SUB_PART IS NOT NULL) = 0 AND MAX(s.COLUMN_NAME IS NULL) = 0
