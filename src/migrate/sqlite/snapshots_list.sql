SELECT id, label, taken_at, fingerprint FROM data_engineer_snapshots ORDER BY id
