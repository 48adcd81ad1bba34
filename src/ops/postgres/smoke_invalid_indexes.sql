-- Indexes left invalid by a failed CREATE INDEX CONCURRENTLY or REINDEX: never used, still maintained.
SELECT format('%I.%I', n.nspname, ic.relname) AS "index", format('%I.%I', n.nspname, tc.relname) AS "table"
FROM pg_index i
JOIN pg_class ic ON ic.oid = i.indexrelid
JOIN pg_class tc ON tc.oid = i.indrelid
JOIN pg_namespace n ON n.oid = ic.relnamespace
WHERE NOT i.indisvalid AND n.nspname NOT IN ('pg_catalog', 'information_schema')
ORDER BY 1
