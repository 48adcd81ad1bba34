-- Columns of a table with what owner detection and test inserts need: type, defaults, uniqueness,
-- and the table a single-column foreign key references.
SELECT a.attname::text AS name,
       format_type(a.atttypid, a.atttypmod) AS type,
       a.attnotnull AS not_null,
       (a.atthasdef OR a.attidentity <> '') AS has_default,
       (a.attgenerated <> '') AS generated,
       EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = a.attrelid AND i.indisunique AND a.attnum = ANY (i.indkey)) AS is_unique,
       (SELECT fc.relname::text
          FROM pg_constraint con JOIN pg_class fc ON fc.oid = con.confrelid
         WHERE con.conrelid = a.attrelid AND con.contype = 'f' AND con.conkey = ARRAY[a.attnum]
         LIMIT 1) AS references_table
FROM pg_attribute a
WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum
