-- code: rls-not-forced
-- severity: info
-- scope: rls
-- why: the table's owner bypasses its policies unless row level security is forced; an application connecting as the owner sees every row
SELECT format('%I.%I', n.nspname, c.relname) AS object,
       format('row level security enabled but not forced; owner %s bypasses it', pg_get_userbyid(c.relowner)) AS detail,
       format('ALTER TABLE %I.%I FORCE ROW LEVEL SECURITY;', n.nspname, c.relname) AS fix
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relrowsecurity AND NOT c.relforcerowsecurity AND c.relkind IN ('r', 'p')
