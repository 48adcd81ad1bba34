-- Tables with policies whose row level security is off: the policies are written but not enforced.
SELECT format('%I.%I', n.nspname, c.relname) AS "table", count(*) AS policies
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_policy p ON p.polrelid = c.oid
WHERE NOT c.relrowsecurity
GROUP BY n.nspname, c.relname
ORDER BY 1
