SELECT version, description, installed_on::text, success, checksum, execution_time FROM _sqlx_migrations ORDER BY version
