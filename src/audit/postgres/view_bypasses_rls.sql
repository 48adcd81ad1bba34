-- code: view-bypasses-rls
-- severity: critical
-- scope: rls
-- why: a view runs with its owner's rights unless security_invoker is set, so it returns rows the caller's policies would hide
SELECT format('%I.%I', n.nspname, v.relname) AS object,
       format('view reads %s (row level security) with its owner''s rights', string_agg(DISTINCT t.relname, ', ')) AS detail,
       format('ALTER VIEW %I.%I SET (security_invoker = true);', n.nspname, v.relname) AS fix
FROM pg_class v
JOIN pg_namespace n ON n.oid = v.relnamespace
JOIN pg_rewrite r ON r.ev_class = v.oid
JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid AND d.refclassid = 'pg_class'::regclass
JOIN pg_class t ON t.oid = d.refobjid AND t.oid <> v.oid
WHERE v.relkind = 'v' AND t.relrowsecurity
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND NOT COALESCE(v.reloptions::text[] && ARRAY['security_invoker=true', 'security_invoker=on', 'security_invoker=1'], false)
GROUP BY n.nspname, v.relname
