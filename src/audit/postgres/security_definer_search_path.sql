-- code: security-definer-search-path
-- severity: critical
-- scope: schema
-- why: a SECURITY DEFINER function runs with its owner's rights; without a fixed search_path a caller can plant objects that it then resolves
SELECT format('%I.%I(%s)', n.nspname, p.proname, pg_get_function_identity_arguments(p.oid)) AS object,
       'SECURITY DEFINER without SET search_path' AS detail,
       format('ALTER FUNCTION %I.%I(%s) SET search_path = pg_catalog, pg_temp;', n.nspname, p.proname, pg_get_function_identity_arguments(p.oid)) AS fix
FROM pg_proc p
JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE p.prosecdef AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND NOT EXISTS (SELECT 1 FROM unnest(p.proconfig) c WHERE c LIKE 'search_path=%')
