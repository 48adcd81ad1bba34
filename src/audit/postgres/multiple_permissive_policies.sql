-- code: multiple-permissive-policies
-- severity: warning
-- scope: rls
-- why: permissive policies for the same role and command are OR-ed together: the loosest one wins, and each adds work to every query
SELECT format('%I.%I', p.schemaname, p.tablename) AS object,
       format('%s permissive policies for role %s on %s: %s', count(*), r.role, p.cmd, string_agg(p.policyname, ', ' ORDER BY p.policyname)) AS detail,
       'merge them into one policy per role and command, or make the narrowing ones RESTRICTIVE' AS fix
FROM pg_policies p
CROSS JOIN LATERAL unnest(p.roles) AS r(role)
WHERE p.permissive = 'PERMISSIVE'
GROUP BY p.schemaname, p.tablename, r.role, p.cmd
HAVING count(*) > 1
