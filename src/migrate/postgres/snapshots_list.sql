SELECT id, label, taken_at::text, fingerprint FROM data_engineer.snapshots ORDER BY id
