-- code: public-schema-create
-- severity: warning
-- scope: schema
-- why: every role may create objects in schema public, where they can shadow the application's own tables and functions
SELECT 'schema public' AS object,
       'PUBLIC has CREATE on schema public' AS detail,
       'REVOKE CREATE ON SCHEMA public FROM PUBLIC;' AS fix
FROM pg_namespace n
WHERE n.nspname = 'public'
  AND EXISTS (SELECT 1 FROM aclexplode(COALESCE(n.nspacl, acldefault('n', n.nspowner))) a WHERE a.grantee = 0 AND a.privilege_type = 'CREATE')
