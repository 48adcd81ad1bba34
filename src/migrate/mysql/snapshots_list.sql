SELECT id, label, CAST(taken_at AS CHAR), fingerprint FROM data_engineer_snapshots ORDER BY id
