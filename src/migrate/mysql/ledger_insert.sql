-- MySQL commits DDL implicitly: the row goes in first, not yet successful, as sqlx does.
INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) VALUES (?, ?, FALSE, ?, -1)
