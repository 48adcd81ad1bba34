SELECT json_build_object(
    'version', version(),
    'server_version_num', current_setting('server_version_num')::int,
    'database', current_database(),
    'user', current_user,
    'superuser', r.rolsuper,
    'bypassrls', r.rolbypassrls,
    'createrole', r.rolcreaterole,
    'createdb', r.rolcreatedb,
    'can_create_in_database', has_database_privilege(current_database(), 'CREATE'),
    'can_create_in_public', has_schema_privilege('public', 'CREATE'),
    'in_recovery', pg_is_in_recovery(),
    'ssl', COALESCE((SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()), false),
    'shared_preload_libraries', current_setting('shared_preload_libraries'),
    'extensions', (
        SELECT COALESCE(json_agg(json_build_object('name', name, 'installed', installed_version, 'available', default_version) ORDER BY name), '[]'::json)
        FROM pg_available_extensions
        WHERE name IN ('pg_stat_statements', 'hypopg', 'vector', 'pgcrypto', 'postgis', 'pg_trgm', 'uuid-ossp')
    )
)::text
FROM pg_roles r WHERE r.rolname = current_user
