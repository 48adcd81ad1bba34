SELECT COUNT(*) AS present FROM sqlite_schema WHERE type = 'table' AND name = '_sqlx_migrations'
