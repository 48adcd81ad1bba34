-- code: table-without-primary-key
-- severity: warning
-- scope: schema
-- why: without a primary key rows cannot be addressed reliably: updates, deduplication and logical replication all need one
SELECT format('%I.%I', n.nspname, c.relname) AS object,
       'no primary key' AS detail,
       format('ALTER TABLE %I.%I ADD COLUMN id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY; -- or a PRIMARY KEY on the natural key', n.nspname, c.relname) AS fix
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_%'
  AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conrelid = c.oid AND k.contype = 'p')
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = 'e')
