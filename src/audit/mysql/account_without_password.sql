-- code: account-without-password
-- severity: critical
-- scope: rls
-- why: an account that authenticates with a password but has an empty one lets anyone who can reach the server log in as it (checked on every account the connected one may see in mysql.user)
SELECT CONCAT(QUOTE(User), '@', QUOTE(Host)) AS object,
       CONCAT('authenticates with ', IF(plugin = '', 'mysql_native_password', plugin), ' and an empty password') AS detail,
       CONCAT('ALTER USER ', QUOTE(User), '@', QUOTE(Host),
              ' IDENTIFIED BY ''<strong password>'';  -- or IDENTIFIED VIA unix_socket for a local admin, or DROP USER if unused') AS fix
FROM mysql.user
WHERE authentication_string = ''
  AND plugin IN ('', 'mysql_native_password', 'caching_sha2_password', 'sha256_password')
  AND Host <> ''  -- MariaDB roles have no host and no password by design
  AND User NOT IN ('mariadb.sys', 'mysql.sys', 'mysql.session', 'mysql.infoschema')  -- locked system accounts
ORDER BY User, Host
