INSERT INTO data_engineer_seeds (file, checksum) VALUES (?, ?)
ON DUPLICATE KEY UPDATE checksum = VALUES(checksum), applied_at = CURRENT_TIMESTAMP
