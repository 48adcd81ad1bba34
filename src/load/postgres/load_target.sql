-- The columns of the load-csv target ($1: a regclass oid): name, declared type, base type (a
-- domain's underlying type), nullability, whether the server fills it (default, identity,
-- generated), the declared length of varchar/char, and the primary key position.
select a.attname::text as name,
       format_type(a.atttypid, a.atttypmod) as type_name,
       coalesce(bt.typname, t.typname)::text as base_type,
       not a.attnotnull as nullable,
       (a.atthasdef or a.attidentity <> '' or a.attgenerated <> '') as has_default,
       case when coalesce(bt.typname, t.typname) in ('varchar', 'bpchar') and a.atttypmod > 4
            then a.atttypmod - 4 end as max_chars,
       (select k.ord::int
          from pg_index i cross join unnest(i.indkey) with ordinality k(attnum, ord)
         where i.indrelid = a.attrelid and i.indisprimary and k.attnum = a.attnum) as pk_position
  from pg_attribute a
  join pg_type t on t.oid = a.atttypid
  left join pg_type bt on t.typtype = 'd' and bt.oid = t.typbasetype
 where a.attrelid = $1 and a.attnum > 0 and not a.attisdropped
 order by a.attnum
