-- Why a rolled-back run of a write would still leave a trace: the sequences its INSERT advances,
-- the triggers and user-defined volatile functions it runs (what they do outside the
-- transaction cannot be vouched for), the foreign tables it writes.
-- $1: target tables (quoted names), $2: whether each inserts, $3: each INSERT's column list
-- (newline-separated; NULL: no list, every column not given gets its default), $4: functions
-- the statement calls by name.
WITH targets AS (
    SELECT to_regclass(t.name) AS oid, t.inserts, string_to_array(t.columns, E'\n') AS columns
      FROM unnest($1::text[], $2::bool[], $3::text[]) AS t(name, inserts, columns)
)
SELECT format('inserting into %s advances the sequence behind column %I, and a rollback does not undo that',
              t.oid::regclass, a.attname)
  FROM targets t
  JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum > 0 AND NOT a.attisdropped
  LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
 WHERE t.inserts
   AND (a.attidentity <> '' OR pg_get_expr(d.adbin, d.adrelid) LIKE '%nextval(%')
   AND (t.columns IS NULL OR NOT a.attname::text = ANY (t.columns))
UNION ALL
SELECT format('trigger %I on %s runs %s()', tg.tgname, t.oid::regclass, tg.tgfoid::regproc)
  FROM targets t
  JOIN pg_trigger tg ON tg.tgrelid = t.oid AND NOT tg.tgisinternal AND tg.tgenabled <> 'D'
UNION ALL
SELECT format('%s is a foreign table: writes to it reach another server', t.oid::regclass)
  FROM targets t
  JOIN pg_class c ON c.oid = t.oid
 WHERE c.relkind = 'f'
UNION ALL
SELECT DISTINCT format('%I.%I() is a volatile function defined in this database', n.nspname, p.proname)
  FROM pg_proc p
  JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE p.proname = ANY ($4::text[])
   AND p.provolatile = 'v'
   AND n.nspname NOT IN ('pg_catalog', 'information_schema')
   -- Functions of an installed extension are known code, not the application's.
   AND NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = 'pg_proc'::regclass AND e.objid = p.oid AND e.deptype = 'e')
