-- The columns of the load-csv target (? = table name in the current database): name, declared
-- type, data type, nullability, whether the server fills it, character length and the primary
-- key position.
select c.column_name as name,
       c.column_type as type_name,
       c.data_type as base_type,
       c.is_nullable = 'YES' as nullable,
       (c.column_default is not null or c.extra like '%auto_increment%' or c.extra like '%GENERATED%') as has_default,
       c.character_maximum_length as max_chars,
       k.ordinal_position as pk_position
  from information_schema.columns c
  left join information_schema.key_column_usage k
    on k.table_schema = c.table_schema and k.table_name = c.table_name
   and k.column_name = c.column_name and k.constraint_name = 'PRIMARY'
 where c.table_schema = database() and c.table_name = ?
 order by c.ordinal_position
