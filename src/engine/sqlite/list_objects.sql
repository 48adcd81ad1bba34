-- ?1 LIKE pattern (nullable), ?2 limit, ?3 offset
SELECT json_object(
    'total', (SELECT count(*) FROM sqlite_schema
              WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite\_%' ESCAPE '\'
                AND (?1 IS NULL OR name LIKE ?1 ESCAPE '\')),
    'objects', (SELECT json_group_array(json_object('name', name, 'kind', type)) FROM (
        SELECT name, type FROM sqlite_schema
        WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite\_%' ESCAPE '\'
          AND (?1 IS NULL OR name LIKE ?1 ESCAPE '\')
        ORDER BY name LIMIT ?2 OFFSET ?3))
)
