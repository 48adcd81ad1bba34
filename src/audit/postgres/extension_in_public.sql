-- code: extension-in-public
-- severity: info
-- scope: schema
-- why: an extension's objects in schema public mix with application objects and can be shadowed or exposed through it
SELECT e.extname AS object,
       format('extension %s is installed in schema public', e.extname) AS detail,
       format('CREATE SCHEMA IF NOT EXISTS extensions; ALTER EXTENSION %I SET SCHEMA extensions; -- where the extension is relocatable', e.extname) AS fix
FROM pg_extension e
JOIN pg_namespace n ON n.oid = e.extnamespace
WHERE n.nspname = 'public' AND e.extname <> 'plpgsql'
