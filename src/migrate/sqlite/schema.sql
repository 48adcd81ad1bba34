-- The schema as a JSON array of objects: tables (their CREATE text is the definition: SQLite
-- keeps constraints inside it), columns, indexes, views and triggers.
SELECT json_group_array(json_object('rank', o.rnk, 'kind', o.kind, 'name', o.name, 'parent', o.parent,
                                    'definition', o.definition, 'create', o.create_sql, 'drop', o.drop_sql,
                                    'alter', NULL, 'with_table', json(o.with_table)))
FROM (
    SELECT 4 AS rnk, 'table' AS kind, m.name AS name, NULL AS parent, m.sql AS definition, m.sql AS create_sql,
           'DROP TABLE IF EXISTS "' || replace(m.name, '"', '""') || '"' AS drop_sql, 'false' AS with_table
    FROM sqlite_schema m
    WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite\_%' ESCAPE '\'
      AND m.name NOT IN ('_sqlx_migrations', 'data_engineer_snapshots', 'data_engineer_seeds')
    UNION ALL
    SELECT 5, 'column', m.name || '.' || p.name, m.name,
           trim(p.type || CASE WHEN p."notnull" THEN ' NOT NULL' ELSE '' END
                || CASE WHEN p.dflt_value IS NOT NULL THEN ' DEFAULT ' || p.dflt_value ELSE '' END
                || CASE WHEN p.pk > 0 THEN ' PRIMARY KEY' ELSE '' END),
           'ALTER TABLE "' || replace(m.name, '"', '""') || '" ADD COLUMN "' || replace(p.name, '"', '""') || '" '
               || p.type || CASE WHEN p."notnull" THEN ' NOT NULL' ELSE '' END
               || CASE WHEN p.dflt_value IS NOT NULL THEN ' DEFAULT ' || p.dflt_value ELSE '' END,
           'ALTER TABLE "' || replace(m.name, '"', '""') || '" DROP COLUMN "' || replace(p.name, '"', '""') || '"',
           'true'
    FROM sqlite_schema m, pragma_table_info(m.name) p
    WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite\_%' ESCAPE '\'
      AND m.name NOT IN ('_sqlx_migrations', 'data_engineer_snapshots', 'data_engineer_seeds')
    UNION ALL
    SELECT CASE m.type WHEN 'index' THEN 8 WHEN 'view' THEN 10 ELSE 11 END, m.type, m.name,
           CASE WHEN m.type = 'view' THEN NULL ELSE m.tbl_name END, m.sql, m.sql,
           'DROP ' || upper(m.type) || ' IF EXISTS "' || replace(m.name, '"', '""') || '"', 'false'
    FROM sqlite_schema m
    WHERE m.type IN ('index', 'view', 'trigger') AND m.sql IS NOT NULL
      AND m.tbl_name NOT IN ('_sqlx_migrations', 'data_engineer_snapshots', 'data_engineer_seeds')
) o
