-- The columns of the load-csv target (? = table name): name, declared type, nullability,
-- whether SQLite fills it (a default, or the rowid alias INTEGER PRIMARY KEY) and the primary key
-- position.
select name,
       type as type_name,
       upper(type) as base_type,
       "notnull" = 0 as nullable,
       (dflt_value is not null or (pk = 1 and upper(type) = 'INTEGER'
            and (select count(*) from pragma_table_info(?1) where pk > 0) = 1)) as has_default,
       null as max_chars,
       nullif(pk, 0) as pk_position
  from pragma_table_info(?1)
 order by cid
