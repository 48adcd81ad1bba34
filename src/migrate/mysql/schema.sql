-- The current database's schema as a JSON array of objects (tables' CREATE statements are read
-- separately with SHOW CREATE TABLE). MariaDB names CHECK constraints per table (CONSTRAINT_1 on
-- every table), so there the marked join condition is switched on; MySQL has no such column. Names are unqualified; view definitions drop the database
-- name so a clone in another database describes the same.
SELECT JSON_ARRAYAGG(JSON_OBJECT('rank', o.rnk, 'kind', o.kind, 'name', o.name, 'parent', o.parent,
                                 'definition', o.definition, 'create', o.create_sql, 'drop', o.drop_sql,
                                 'alter', o.alter_sql, 'with_table', o.with_table))
FROM (
    SELECT 4 AS rnk, 'table' AS kind, t.TABLE_NAME AS name, NULL AS parent,
           CONCAT('engine ', COALESCE(t.ENGINE, ''), ' collation ', COALESCE(t.TABLE_COLLATION, '')) AS definition,
           NULL AS create_sql, CONCAT('DROP TABLE IF EXISTS `', t.TABLE_NAME, '`') AS drop_sql, NULL AS alter_sql,
           0 AS with_table
    FROM information_schema.TABLES t
    WHERE t.TABLE_SCHEMA = DATABASE() AND t.TABLE_TYPE = 'BASE TABLE'
      AND t.TABLE_NAME NOT IN ('_sqlx_migrations', 'data_engineer_snapshots', 'data_engineer_seeds')
    UNION ALL
    SELECT 5, 'column', CONCAT(c.TABLE_NAME, '.', c.COLUMN_NAME), c.TABLE_NAME, c.def,
           CONCAT('ALTER TABLE `', c.TABLE_NAME, '` ADD COLUMN `', c.COLUMN_NAME, '` ', c.def),
           CONCAT('ALTER TABLE `', c.TABLE_NAME, '` DROP COLUMN `', c.COLUMN_NAME, '`'),
           CONCAT('ALTER TABLE `', c.TABLE_NAME, '` MODIFY COLUMN `', c.COLUMN_NAME, '` ', c.def), 1
    FROM (SELECT c.TABLE_NAME, c.COLUMN_NAME,
                 CONCAT(c.COLUMN_TYPE,
                        IF(c.COLLATION_NAME IS NULL, '', CONCAT(' COLLATE ', c.COLLATION_NAME)),
                        IF(c.GENERATION_EXPRESSION IS NOT NULL AND c.GENERATION_EXPRESSION <> '',
                           CONCAT(' AS (', c.GENERATION_EXPRESSION, ')', IF(c.EXTRA LIKE '%STORED%', ' STORED', ' VIRTUAL')),
                           CONCAT(IF(c.IS_NULLABLE = 'NO', ' NOT NULL', ' NULL'),
                                  IF(c.COLUMN_DEFAULT IS NULL OR c.COLUMN_DEFAULT = 'NULL', '', CONCAT(' DEFAULT ', c.COLUMN_DEFAULT)),
                                  IF(c.EXTRA LIKE '%auto_increment%', ' AUTO_INCREMENT', ''),
                                  IF(c.EXTRA LIKE '%on update%', CONCAT(' ', SUBSTRING(c.EXTRA, LOCATE('on update', c.EXTRA))), '')))
                 ) AS def
          FROM information_schema.COLUMNS c JOIN information_schema.TABLES t
            ON t.TABLE_SCHEMA = c.TABLE_SCHEMA AND t.TABLE_NAME = c.TABLE_NAME AND t.TABLE_TYPE = 'BASE TABLE'
          WHERE c.TABLE_SCHEMA = DATABASE() AND c.TABLE_NAME NOT IN ('_sqlx_migrations', 'data_engineer_snapshots', 'data_engineer_seeds')) c
    UNION ALL
    SELECT 6, 'constraint', CONCAT(tc.TABLE_NAME, '.', tc.CONSTRAINT_NAME), tc.TABLE_NAME,
           CONCAT('CHECK (', cc.CHECK_CLAUSE, ')'),
           CONCAT('ALTER TABLE `', tc.TABLE_NAME, '` ADD CONSTRAINT `', tc.CONSTRAINT_NAME, '` CHECK (', cc.CHECK_CLAUSE, ')'),
           CONCAT('ALTER TABLE `', tc.TABLE_NAME, '` DROP CONSTRAINT `', tc.CONSTRAINT_NAME, '`'), NULL, 1
    FROM information_schema.TABLE_CONSTRAINTS tc JOIN information_schema.CHECK_CONSTRAINTS cc
      ON cc.CONSTRAINT_SCHEMA = tc.CONSTRAINT_SCHEMA AND cc.CONSTRAINT_NAME = tc.CONSTRAINT_NAME
         /*mariadb: AND cc.TABLE_NAME = tc.TABLE_NAME*/
    WHERE tc.CONSTRAINT_SCHEMA = DATABASE() AND tc.CONSTRAINT_TYPE = 'CHECK'
    UNION ALL
    SELECT 7, 'foreign key', CONCAT(r.TABLE_NAME, '.', r.CONSTRAINT_NAME), r.TABLE_NAME,
           CONCAT('FOREIGN KEY (', k.cols, ') REFERENCES `', r.REFERENCED_TABLE_NAME, '` (', k.refcols, ') ON DELETE ',
                  r.DELETE_RULE, ' ON UPDATE ', r.UPDATE_RULE),
           CONCAT('ALTER TABLE `', r.TABLE_NAME, '` ADD CONSTRAINT `', r.CONSTRAINT_NAME, '` FOREIGN KEY (', k.cols,
                  ') REFERENCES `', r.REFERENCED_TABLE_NAME, '` (', k.refcols, ') ON DELETE ', r.DELETE_RULE,
                  ' ON UPDATE ', r.UPDATE_RULE),
           CONCAT('ALTER TABLE `', r.TABLE_NAME, '` DROP FOREIGN KEY `', r.CONSTRAINT_NAME, '`'), NULL, 1
    FROM information_schema.REFERENTIAL_CONSTRAINTS r
    JOIN (SELECT TABLE_NAME, CONSTRAINT_NAME,
                 GROUP_CONCAT(CONCAT('`', COLUMN_NAME, '`') ORDER BY ORDINAL_POSITION SEPARATOR ', ') AS cols,
                 GROUP_CONCAT(CONCAT('`', REFERENCED_COLUMN_NAME, '`') ORDER BY ORDINAL_POSITION SEPARATOR ', ') AS refcols
          FROM information_schema.KEY_COLUMN_USAGE
          WHERE TABLE_SCHEMA = DATABASE() AND REFERENCED_TABLE_NAME IS NOT NULL
          GROUP BY TABLE_NAME, CONSTRAINT_NAME) k
      ON k.TABLE_NAME = r.TABLE_NAME AND k.CONSTRAINT_NAME = r.CONSTRAINT_NAME
    WHERE r.CONSTRAINT_SCHEMA = DATABASE()
    UNION ALL
    SELECT 8, 'index', CONCAT(i.TABLE_NAME, '.', i.INDEX_NAME), i.TABLE_NAME,
           CONCAT(IF(i.NON_UNIQUE = 0, 'UNIQUE ', ''), i.INDEX_TYPE, ' (', i.cols, ')'),
           IF(i.INDEX_NAME = 'PRIMARY', CONCAT('ALTER TABLE `', i.TABLE_NAME, '` ADD PRIMARY KEY (', i.cols, ')'),
              CONCAT('CREATE ', IF(i.NON_UNIQUE = 0, 'UNIQUE ', ''),
                     IF(i.INDEX_TYPE IN ('FULLTEXT', 'SPATIAL'), CONCAT(i.INDEX_TYPE, ' '), ''),
                     'INDEX `', i.INDEX_NAME, '` ON `', i.TABLE_NAME, '` (', i.cols, ')')),
           IF(i.INDEX_NAME = 'PRIMARY', CONCAT('ALTER TABLE `', i.TABLE_NAME, '` DROP PRIMARY KEY'),
              CONCAT('DROP INDEX `', i.INDEX_NAME, '` ON `', i.TABLE_NAME, '`')), NULL, 1
    FROM (SELECT TABLE_NAME, INDEX_NAME, NON_UNIQUE, INDEX_TYPE,
                 GROUP_CONCAT(CONCAT('`', COLUMN_NAME, '`', IF(SUB_PART IS NULL, '', CONCAT('(', SUB_PART, ')')))
                              ORDER BY SEQ_IN_INDEX SEPARATOR ', ') AS cols
          FROM information_schema.STATISTICS
          WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME NOT IN ('_sqlx_migrations', 'data_engineer_snapshots', 'data_engineer_seeds')
          GROUP BY TABLE_NAME, INDEX_NAME, NON_UNIQUE, INDEX_TYPE) i
    UNION ALL
    SELECT 9, LOWER(r.ROUTINE_TYPE), r.ROUTINE_NAME, NULL,
           CONCAT(COALESCE(r.DTD_IDENTIFIER, ''), ' ', COALESCE(r.ROUTINE_DEFINITION, '')), NULL,
           CONCAT('DROP ', r.ROUTINE_TYPE, ' IF EXISTS `', r.ROUTINE_NAME, '`'), NULL, 0
    FROM information_schema.ROUTINES r WHERE r.ROUTINE_SCHEMA = DATABASE()
    UNION ALL
    SELECT 10, 'view', v.TABLE_NAME, NULL, REPLACE(v.VIEW_DEFINITION, CONCAT('`', DATABASE(), '`.'), ''),
           CONCAT('CREATE VIEW `', v.TABLE_NAME, '` AS ', REPLACE(v.VIEW_DEFINITION, CONCAT('`', DATABASE(), '`.'), '')),
           CONCAT('DROP VIEW IF EXISTS `', v.TABLE_NAME, '`'), NULL, 0
    FROM information_schema.VIEWS v WHERE v.TABLE_SCHEMA = DATABASE()
    UNION ALL
    SELECT 11, 'trigger', CONCAT(g.EVENT_OBJECT_TABLE, '.', g.TRIGGER_NAME), g.EVENT_OBJECT_TABLE,
           CONCAT(g.ACTION_TIMING, ' ', g.EVENT_MANIPULATION, ' FOR EACH ROW ', g.ACTION_STATEMENT),
           CONCAT('CREATE TRIGGER `', g.TRIGGER_NAME, '` ', g.ACTION_TIMING, ' ', g.EVENT_MANIPULATION, ' ON `',
                  g.EVENT_OBJECT_TABLE, '` FOR EACH ROW ', g.ACTION_STATEMENT),
           CONCAT('DROP TRIGGER IF EXISTS `', g.TRIGGER_NAME, '`'), NULL, 0
    FROM information_schema.TRIGGERS g WHERE g.TRIGGER_SCHEMA = DATABASE()
    UNION ALL
    SELECT 14, 'grant', CONCAT(p.TABLE_NAME, ' to ', p.GRANTEE), p.TABLE_NAME, p.privs,
           CONCAT('GRANT ', p.privs, ' ON `', p.TABLE_NAME, '` TO ', p.GRANTEE),
           CONCAT('REVOKE ', p.privs, ' ON `', p.TABLE_NAME, '` FROM ', p.GRANTEE), NULL, 0
    FROM (SELECT TABLE_NAME, GRANTEE, GROUP_CONCAT(PRIVILEGE_TYPE ORDER BY PRIVILEGE_TYPE SEPARATOR ', ') AS privs
          FROM information_schema.TABLE_PRIVILEGES WHERE TABLE_SCHEMA = DATABASE()
          GROUP BY TABLE_NAME, GRANTEE) p
) o
