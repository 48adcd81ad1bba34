UPDATE _sqlx_migrations SET success = TRUE, execution_time = ? WHERE version = ?
