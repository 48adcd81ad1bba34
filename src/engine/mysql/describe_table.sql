SELECT TABLE_SCHEMA AS `schema`, TABLE_NAME AS name,
       CASE TABLE_TYPE WHEN 'BASE TABLE' THEN 'table' WHEN 'VIEW' THEN 'view' ELSE LOWER(TABLE_TYPE) END AS kind,
       TABLE_ROWS AS row_estimate,
       DATA_LENGTH + INDEX_LENGTH AS total_bytes,
       ENGINE AS storage_engine,
       NULLIF(TABLE_COMMENT, '') AS comment
FROM information_schema.TABLES
WHERE TABLE_SCHEMA = COALESCE(?, DATABASE()) AND TABLE_NAME = ?
