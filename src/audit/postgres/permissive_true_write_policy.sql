-- code: permissive-true-write-policy
-- severity: critical
-- scope: rls
-- why: a write policy for everyone (PUBLIC, authenticated or anon) whose USING or WITH CHECK is simply true lets any user change every row, which defeats row level security
SELECT format('%I.%I', p.schemaname, p.tablename) AS object,
       format('policy %s (%s) has %s', p.policyname, p.cmd,
              concat_ws(' and ', CASE WHEN p.qual = 'true' THEN 'USING (true)' END, CASE WHEN p.with_check = 'true' THEN 'WITH CHECK (true)' END)) AS detail,
       format('ALTER POLICY %I ON %I.%I USING (<owner column> = (select <identity function>)) WITH CHECK (<same>);', p.policyname, p.schemaname, p.tablename) AS fix
FROM pg_policies p
WHERE p.cmd IN ('INSERT', 'UPDATE', 'DELETE', 'ALL') AND p.permissive = 'PERMISSIVE'
  AND (p.qual = 'true' OR p.with_check = 'true')
  -- A role-specific USING (true) (an admin role) is deliberate; everyone's is the leak.
  AND p.roles && ARRAY['public', 'authenticated', 'anon']::name[]
