-- $1 file, $2 checksum
INSERT INTO data_engineer_seeds (file, checksum) VALUES ($1, $2)
ON CONFLICT (file) DO UPDATE SET checksum = EXCLUDED.checksum, applied_at = now()
