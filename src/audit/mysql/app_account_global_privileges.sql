-- code: app-account-global-privileges
-- severity: critical
-- scope: rls
-- why: the account this server connects as holds privileges on every database (or may grant them), far beyond what an application needs
SELECT CURRENT_USER() AS object,
       CONCAT('global privileges: ', GROUP_CONCAT(DISTINCT CONCAT(PRIVILEGE_TYPE, IF(IS_GRANTABLE = 'YES', ' (grantable)', '')) ORDER BY PRIVILEGE_TYPE SEPARATOR ', ')) AS detail,
       CONCAT('REVOKE ALL PRIVILEGES, GRANT OPTION FROM ', CURRENT_USER(), '; GRANT SELECT, INSERT, UPDATE, DELETE ON <database>.* TO ', CURRENT_USER(), ';') AS fix
FROM information_schema.USER_PRIVILEGES
WHERE GRANTEE = CONCAT('''', SUBSTRING_INDEX(CURRENT_USER(), '@', 1), '''@''', SUBSTRING_INDEX(CURRENT_USER(), '@', -1), '''')
  AND (PRIVILEGE_TYPE IN ('SUPER', 'FILE', 'PROCESS', 'SHUTDOWN', 'CREATE USER', 'RELOAD', 'DROP', 'ALTER') OR IS_GRANTABLE = 'YES')
HAVING COUNT(*) > 0
