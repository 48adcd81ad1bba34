-- code: privileged-app-role
-- severity: critical
-- scope: rls
-- why: the role this server (and likely the application) connects as bypasses row level security and every other check
SELECT current_user::text AS object,
       concat_ws(', ', CASE WHEN r.rolsuper THEN 'SUPERUSER' END, CASE WHEN r.rolbypassrls THEN 'BYPASSRLS' END) AS detail,
       'connect the application as a role without SUPERUSER or BYPASSRLS, owning nothing it reads through policies' AS fix
FROM pg_roles r
WHERE r.rolname = current_user AND (r.rolsuper OR r.rolbypassrls)
