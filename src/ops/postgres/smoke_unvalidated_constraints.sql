-- Constraints added NOT VALID and never validated: existing rows were not checked.
SELECT format('%I.%I', n.nspname, c.relname) AS "table", quote_ident(con.conname) AS "constraint",
       CASE con.contype WHEN 'f' THEN 'foreign key' WHEN 'c' THEN 'check' ELSE con.contype::text END AS kind
FROM pg_constraint con
JOIN pg_class c ON c.oid = con.conrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE NOT con.convalidated AND n.nspname NOT IN ('pg_catalog', 'information_schema')
ORDER BY 1, 2
