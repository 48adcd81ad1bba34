INSERT INTO data_engineer_snapshots (label, fingerprint, description) VALUES (?, ?, ?)
