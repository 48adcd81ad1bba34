SELECT COUNT(*) AS present FROM information_schema.TABLES
WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = '_sqlx_migrations'
