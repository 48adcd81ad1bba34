-- code: app-role-password-never-expires
-- severity: info
-- scope: schema
-- why: the password of the role this server connects as never expires, so a leaked one stays valid until someone notices
SELECT r.rolname::text AS object,
       'login role without VALID UNTIL' AS detail,
       format('ALTER ROLE %I VALID UNTIL ''<date>''; -- and rotate it on a schedule', r.rolname) AS fix
FROM pg_roles r
WHERE r.rolname = current_user AND r.rolcanlogin AND r.rolvaliduntil IS NULL
