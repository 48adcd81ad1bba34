-- The constraints load-csv checks staged rows against ($1: the target, as regclass text):
-- foreign keys (with the parent and its columns), CHECKs (with their expression) and unique
-- keys (unique indexes on plain columns, without a predicate), each with its columns in order.
select c.conname::text as name,
       case c.contype when 'f' then 'foreign key' else 'check' end as kind,
       array(select a.attname::text
               from unnest(c.conkey) with ordinality k(n, o)
               join pg_attribute a on a.attrelid = c.conrelid and a.attnum = k.n
              order by k.o) as columns,
       case when c.contype = 'f' then c.confrelid::regclass::text end as parent,
       array(select a.attname::text
               from unnest(c.confkey) with ordinality k(n, o)
               join pg_attribute a on a.attrelid = c.confrelid and a.attnum = k.n
              order by k.o) as parent_columns,
       case when c.contype = 'c' then pg_get_expr(c.conbin, c.conrelid) end as expression
  from pg_constraint c
 where c.conrelid = $1::regclass and c.contype in ('f', 'c')
union all
select i.indexrelid::regclass::text, 'unique',
       array(select a.attname::text
               from unnest(i.indkey::int2[]) with ordinality k(n, o)
               join pg_attribute a on a.attrelid = i.indrelid and a.attnum = k.n
              where k.o <= i.indnkeyatts
              order by k.o),
       null, '{}', null
  from pg_index i
 where i.indrelid = $1::regclass and i.indisunique and i.indpred is null and i.indexprs is null
