-- $1 a table name as written by the user (resolved on the search_path); no row when it does not exist.
SELECT format('%I.%I', n.nspname, c.relname) AS "table", c.relrowsecurity AS enabled, c.relforcerowsecurity AS forced
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.oid = to_regclass($1)
