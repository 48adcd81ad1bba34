SELECT version, description, CAST(installed_on AS CHAR), success, checksum, execution_time FROM _sqlx_migrations ORDER BY version
