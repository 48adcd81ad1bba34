-- The constraints load-csv checks staged rows against (?1 = the target table): foreign keys
-- (one row per column; "to" is NULL when the parent's primary key is meant), unique indexes on
-- plain columns without a WHERE (one row per column; a NULL column marks an expression), and the
-- primary key (which an INTEGER PRIMARY KEY keeps outside any index).
SELECT 'foreign key' AS kind, 'fk' || f.id AS name, f.seq AS position, f."from" AS "column", f."table" AS parent,
       f."to" AS parent_column
  FROM pragma_foreign_key_list(?1) f
UNION ALL
SELECT 'unique', l.name, i.seqno, i.name, NULL, NULL
  FROM pragma_index_list(?1) l JOIN pragma_index_info(l.name) i
 WHERE l."unique" = 1 AND l.partial = 0
UNION ALL
SELECT 'unique', 'primary key', p.pk, p.name, NULL, NULL
  FROM pragma_table_info(?1) p WHERE p.pk > 0
ORDER BY 1, 2, 3
