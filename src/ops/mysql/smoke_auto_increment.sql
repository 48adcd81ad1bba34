-- ? the used share (0-1) past which an AUTO_INCREMENT column is near its type's maximum.
WITH ai AS (
    SELECT t.TABLE_NAME AS tbl, c.COLUMN_NAME AS col, c.COLUMN_TYPE AS col_type, t.AUTO_INCREMENT - 1 AS last_value,
           CAST(CASE c.DATA_TYPE WHEN 'tinyint' THEN 127 WHEN 'smallint' THEN 32767 WHEN 'mediumint' THEN 8388607
                                 WHEN 'int' THEN 2147483647 ELSE 9223372036854775807 END AS DECIMAL(20, 0))
               * IF(c.COLUMN_TYPE LIKE '%unsigned%', 2, 1) + IF(c.COLUMN_TYPE LIKE '%unsigned%', 1, 0) AS max_value
    FROM information_schema.TABLES t
    JOIN information_schema.COLUMNS c
      ON c.TABLE_SCHEMA = t.TABLE_SCHEMA AND c.TABLE_NAME = t.TABLE_NAME AND c.EXTRA LIKE '%auto_increment%'
    WHERE t.TABLE_SCHEMA = DATABASE() AND t.AUTO_INCREMENT IS NOT NULL
)
SELECT tbl AS `table`, col AS `column`, col_type AS `type`, last_value, max_value,
       ROUND(last_value / max_value, 4) AS used
FROM ai
WHERE last_value / max_value > ?
ORDER BY used DESC
