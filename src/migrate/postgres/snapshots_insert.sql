INSERT INTO data_engineer.snapshots (label, fingerprint, description) VALUES ($1, $2, $3) RETURNING id
