-- code: policies-without-rls
-- severity: critical
-- scope: rls
-- why: policies exist but row level security is disabled, so none of them is enforced
SELECT format('%I.%I', n.nspname, c.relname) AS object,
       format('%s policies, row level security disabled', count(p.oid)) AS detail,
       format('ALTER TABLE %I.%I ENABLE ROW LEVEL SECURITY;', n.nspname, c.relname) AS fix
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_policy p ON p.polrelid = c.oid
WHERE NOT c.relrowsecurity
GROUP BY n.nspname, c.relname
