-- code: rls-disabled-tenant-table
-- severity: critical
-- scope: rls
-- why: the table holds per-user or per-tenant rows but row level security is off, so any role allowed to SELECT reads everyone's rows
SELECT format('%I.%I', n.nspname, c.relname) AS object,
       format('owner column %s, row level security disabled', string_agg(a.attname, ', ')) AS detail,
       format('ALTER TABLE %I.%I ENABLE ROW LEVEL SECURITY; ALTER TABLE %I.%I FORCE ROW LEVEL SECURITY; -- then add policies (policy-apply)', n.nspname, c.relname, n.nspname, c.relname) AS fix
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
WHERE c.relkind IN ('r', 'p') AND NOT c.relrowsecurity
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_%'
  AND a.attname IN ('user_id', 'owner_id', 'tenant_id', 'created_by', 'org_id', 'organization_id', 'account_id', 'customer_id')
GROUP BY n.nspname, c.relname
