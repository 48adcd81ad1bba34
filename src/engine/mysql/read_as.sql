-- The connected account's global privileges that a read-only transaction does not take away
-- (files on the server host, other sessions, server settings, accounts, handing privileges on),
-- comma-separated, NULL when it holds none; and the account as GRANT and REVOKE name it.
SELECT GROUP_CONCAT(DISTINCT p.privilege ORDER BY p.privilege SEPARATOR ', '),
       CONCAT('''', SUBSTRING_INDEX(CURRENT_USER(), '@', 1), '''@''', SUBSTRING_INDEX(CURRENT_USER(), '@', -1), '''')
  FROM (SELECT CASE WHEN IS_GRANTABLE = 'YES' THEN 'GRANT OPTION' ELSE PRIVILEGE_TYPE END AS privilege, PRIVILEGE_TYPE, GRANTEE
          FROM information_schema.USER_PRIVILEGES
        UNION ALL
        SELECT PRIVILEGE_TYPE, PRIVILEGE_TYPE, GRANTEE
          FROM information_schema.USER_PRIVILEGES) AS p
 WHERE p.GRANTEE = CONCAT('''', SUBSTRING_INDEX(CURRENT_USER(), '@', 1), '''@''', SUBSTRING_INDEX(CURRENT_USER(), '@', -1), '''')
   AND p.PRIVILEGE_TYPE IN ('FILE', 'SUPER', 'PROCESS', 'SHUTDOWN', 'RELOAD', 'CREATE USER', 'BINLOG ADMIN',
                            'CONNECTION ADMIN', 'READ_ONLY ADMIN', 'REPLICATION SLAVE ADMIN',
                            'REPLICATION MASTER ADMIN', 'FEDERATED ADMIN', 'SET USER')
