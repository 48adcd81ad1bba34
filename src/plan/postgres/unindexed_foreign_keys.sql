-- Foreign keys no index starts with, outside system schemas, as a JSON array.
SELECT COALESCE((SELECT json_agg(json_build_object(
                                      'schema', n.nspname, 'table', t.relname, 'constraint', c.conname,
                                      'columns', (SELECT json_agg(a.attname ORDER BY k.ord) FROM unnest(c.conkey) WITH ORDINALITY k(attnum, ord)
                                                  JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum),
                                      'references', c.confrelid::regclass::text))
                                  FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid JOIN pg_namespace n ON n.oid = t.relnamespace
                                  WHERE c.contype = 'f' AND n.nspname NOT IN ('pg_catalog', 'information_schema')
                                    AND NOT EXISTS (SELECT 1 FROM pg_index x WHERE x.indrelid = c.conrelid
                                                    AND (string_to_array(x.indkey::text, ' ')::int2[])[1:array_length(c.conkey, 1)] = c.conkey)), '[]'::json)::text
