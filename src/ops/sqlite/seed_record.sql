INSERT INTO data_engineer_seeds (file, checksum) VALUES (?1, ?2)
ON CONFLICT (file) DO UPDATE SET checksum = excluded.checksum, applied_at = CURRENT_TIMESTAMP
