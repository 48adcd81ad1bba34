-- code: table-without-primary-key
-- severity: warning
-- scope: schema
-- why: without a primary key InnoDB adds a hidden one, rows cannot be addressed reliably, and row-based replication scans the table for every change
SELECT CONCAT(t.TABLE_SCHEMA, '.', t.TABLE_NAME) AS object,
       'no primary key' AS detail,
       CONCAT('ALTER TABLE ', t.TABLE_NAME, ' ADD COLUMN id BIGINT AUTO_INCREMENT PRIMARY KEY FIRST; -- or a PRIMARY KEY on the natural key') AS fix
FROM information_schema.TABLES t
WHERE t.TABLE_SCHEMA = DATABASE() AND t.TABLE_TYPE = 'BASE TABLE'
  -- STATISTICS, not TABLE_CONSTRAINTS: an account with only SELECT sees the former's rows.
  AND NOT EXISTS (SELECT 1 FROM information_schema.STATISTICS k
                  WHERE k.TABLE_SCHEMA = t.TABLE_SCHEMA AND k.TABLE_NAME = t.TABLE_NAME AND k.INDEX_NAME = 'PRIMARY')
