-- ?1 table or view name
SELECT json_object(
    'name', m.name,
    'kind', m.type,
    'columns', (SELECT json_group_array(json_object(
            'name', c.name,
            'type', c.type,
            'nullable', json(CASE WHEN c."notnull" THEN 'false' ELSE 'true' END),
            'default', c.dflt_value,
            'generated', json(CASE WHEN c.hidden IN (2, 3) THEN 'true' ELSE 'false' END)))
        FROM pragma_table_xinfo(m.name) c),
    'primary_key', (SELECT json_group_array(name) FROM (SELECT name FROM pragma_table_xinfo(m.name) WHERE pk > 0 ORDER BY pk)),
    'foreign_keys', (SELECT json_group_array(json_object(
            'id', f.id, 'column', f."from", 'references', f."table", 'referenced_column', f."to",
            'on_delete', f.on_delete, 'on_update', f.on_update))
        FROM pragma_foreign_key_list(m.name) f),
    'indexes', (SELECT json_group_array(json_object(
            'name', il.name,
            'unique', json(CASE WHEN il."unique" THEN 'true' ELSE 'false' END),
            'origin', il.origin,
            'partial', json(CASE WHEN il.partial THEN 'true' ELSE 'false' END),
            'columns', (SELECT json_group_array(ii.name) FROM pragma_index_info(il.name) ii)))
        FROM pragma_index_list(m.name) il),
    'definition', m.sql
)
FROM sqlite_schema m
WHERE m.name = ?1 AND m.type IN ('table', 'view')
