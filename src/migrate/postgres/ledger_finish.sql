UPDATE _sqlx_migrations SET execution_time = $1 WHERE version = $2
