-- INVALID indexes of this name (a failed CREATE INDEX CONCURRENTLY leaves one), schema-qualified
-- and quoted, in schemas the session's search_path can see.
SELECT format('%I.%I', n.nspname, c.relname)
FROM pg_index i
JOIN pg_class c ON c.oid = i.indexrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relname = $1 AND NOT i.indisvalid AND n.nspname = ANY (current_schemas(false))
