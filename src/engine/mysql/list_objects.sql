-- binds: schema (nullable: the connection's database), pattern, pattern, limit, offset
SELECT TABLE_SCHEMA AS `schema`,
       TABLE_NAME AS name,
       CASE TABLE_TYPE WHEN 'BASE TABLE' THEN 'table' WHEN 'VIEW' THEN 'view' WHEN 'SYSTEM VIEW' THEN 'view'
                       ELSE LOWER(TABLE_TYPE) END AS kind,
       TABLE_ROWS AS row_estimate,
       ENGINE AS storage_engine,
       NULLIF(TABLE_COMMENT, '') AS comment
FROM information_schema.TABLES
WHERE TABLE_SCHEMA = COALESCE(?, DATABASE())
  AND (? IS NULL OR TABLE_NAME LIKE ?)
ORDER BY TABLE_NAME
LIMIT ? OFFSET ?
