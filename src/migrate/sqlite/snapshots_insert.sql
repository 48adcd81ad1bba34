INSERT INTO data_engineer_snapshots (label, fingerprint, description) VALUES (?1, ?2, ?3) RETURNING id
