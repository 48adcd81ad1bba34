-- code: mutable-search-path
-- severity: info
-- scope: schema
-- why: a function without a fixed search_path resolves names through the caller's path, so its behaviour depends on who calls it
SELECT format('%I.%I(%s)', n.nspname, p.proname, pg_get_function_identity_arguments(p.oid)) AS object,
       format('%s function without SET search_path', l.lanname) AS detail,
       format('ALTER FUNCTION %I.%I(%s) SET search_path = %I, pg_temp;', n.nspname, p.proname, pg_get_function_identity_arguments(p.oid), n.nspname) AS fix
FROM pg_proc p
JOIN pg_namespace n ON n.oid = p.pronamespace
JOIN pg_language l ON l.oid = p.prolang
WHERE NOT p.prosecdef AND l.lanname IN ('plpgsql', 'sql') AND p.prokind = 'f'
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e')
  AND NOT EXISTS (SELECT 1 FROM unnest(p.proconfig) c WHERE c LIKE 'search_path=%')
