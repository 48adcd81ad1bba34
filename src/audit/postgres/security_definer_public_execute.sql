-- code: security-definer-public-execute
-- severity: warning
-- scope: schema
-- why: every role may call this SECURITY DEFINER function, which runs with its owner's rights
SELECT format('%I.%I(%s)', n.nspname, p.proname, pg_get_function_identity_arguments(p.oid)) AS object,
       'SECURITY DEFINER and executable by PUBLIC' AS detail,
       format('REVOKE EXECUTE ON FUNCTION %I.%I(%s) FROM PUBLIC; -- then GRANT EXECUTE to the roles that need it', n.nspname, p.proname, pg_get_function_identity_arguments(p.oid)) AS fix
FROM pg_proc p
JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE p.prosecdef AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND (p.proacl IS NULL OR EXISTS (SELECT 1 FROM aclexplode(p.proacl) a WHERE a.grantee = 0 AND a.privilege_type = 'EXECUTE'))
