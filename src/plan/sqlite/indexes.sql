SELECT m.name AS "table", il.name AS "index", il."unique" AS is_unique,
       (SELECT group_concat(ii.name, ',') FROM (SELECT name FROM pragma_index_info(il.name) ORDER BY seqno) ii) AS columns
FROM sqlite_schema m, pragma_index_list(m.name) il
WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite\_%' ESCAPE '\'
