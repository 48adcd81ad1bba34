-- Text columns of ordinary tables, with their table, for the plaintext-secret-columns rule.
SELECT n.nspname::text AS schema, c.relname::text AS table, a.attname::text AS column
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped
  AND a.atttypid IN ('text'::regtype, 'varchar'::regtype, 'bpchar'::regtype)
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_%'
  AND has_column_privilege(c.oid, a.attnum, 'SELECT')
