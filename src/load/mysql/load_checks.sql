-- The CHECK constraints of the load-csv target (? = table name in the current database).
-- MariaDB's CHECK_CONSTRAINTS names the table; MySQL's does not, and there this query fails and
-- CHECKs are left to the merge.
SELECT CONSTRAINT_NAME AS name, CHECK_CLAUSE AS expression
  FROM information_schema.CHECK_CONSTRAINTS
 WHERE CONSTRAINT_SCHEMA = DATABASE() AND TABLE_NAME = ?
