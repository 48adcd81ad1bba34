-- code: app-account-wildcard-host
-- severity: warning
-- scope: rls
-- why: the account this server connects as accepts logins from any host, so a leaked password works from anywhere
SELECT CURRENT_USER() AS object,
       'the account''s host is a wildcard' AS detail,
       CONCAT('RENAME USER ', QUOTE(SUBSTRING_INDEX(CURRENT_USER(), '@', 1)), '@', QUOTE(SUBSTRING_INDEX(CURRENT_USER(), '@', -1)),
              ' TO ', QUOTE(SUBSTRING_INDEX(CURRENT_USER(), '@', 1)), '@''<application host or subnet>'';') AS fix
FROM DUAL
WHERE SUBSTRING_INDEX(CURRENT_USER(), '@', -1) LIKE '%\%%'
