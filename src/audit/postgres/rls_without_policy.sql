-- code: rls-without-policy
-- severity: warning
-- scope: rls
-- why: row level security is on but no policy exists, so every role but the owner and superusers sees no rows at all
SELECT format('%I.%I', n.nspname, c.relname) AS object,
       'row level security enabled, no policy' AS detail,
       format('CREATE POLICY ... ON %I.%I ... (policy-apply writes them), or DISABLE ROW LEVEL SECURITY if the table is not per-user', n.nspname, c.relname) AS fix
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relrowsecurity AND c.relkind IN ('r', 'p')
  AND NOT EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid)
