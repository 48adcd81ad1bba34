-- The powers of the connected login that a read-only transaction does not take away, as a
-- comma-separated list (empty when there is none), and whether the reader role ($1) exists.
SELECT concat_ws(', ',
         CASE WHEN r.rolsuper THEN 'SUPERUSER' END,
         CASE WHEN r.rolcreaterole THEN 'CREATEROLE' END,
         CASE WHEN r.rolreplication THEN 'REPLICATION' END,
         CASE WHEN pg_has_role(current_user, 'pg_read_server_files', 'MEMBER') AND NOT r.rolsuper THEN 'pg_read_server_files' END,
         CASE WHEN pg_has_role(current_user, 'pg_write_server_files', 'MEMBER') AND NOT r.rolsuper THEN 'pg_write_server_files' END,
         CASE WHEN pg_has_role(current_user, 'pg_execute_server_program', 'MEMBER') AND NOT r.rolsuper THEN 'pg_execute_server_program' END,
         CASE WHEN pg_has_role(current_user, 'pg_signal_backend', 'MEMBER') AND NOT r.rolsuper THEN 'pg_signal_backend' END,
         (SELECT string_agg('EXECUTE on ' || f, ', ')
            FROM unnest(ARRAY['pg_read_file(text)', 'pg_read_binary_file(text)', 'pg_ls_dir(text)',
                              'lo_export(oid,text)', 'lo_import(text)', 'pg_reload_conf()', 'pg_switch_wal()',
                              'pg_rotate_logfile()', 'pg_create_restore_point(text)']) AS f
           WHERE NOT r.rolsuper
             AND to_regprocedure(f) IS NOT NULL
             AND has_function_privilege(to_regprocedure(f), 'EXECUTE'))
       ) AS powers,
       EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1) AS reader_exists,
       current_user::text AS login
  FROM pg_roles r
 WHERE r.rolname = current_user
