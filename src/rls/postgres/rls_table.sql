-- The table policy-apply or test-as-user works on: its canonical name and row security state.
SELECT n.nspname::text AS schema_name, c.relname::text AS table_name, c.relrowsecurity, c.relforcerowsecurity,
       pg_get_userbyid(c.relowner)::text AS owner
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.oid = to_regclass($1) AND c.relkind IN ('r', 'p')
