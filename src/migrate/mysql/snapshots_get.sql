-- ?: an id or a label (the newest snapshot with that label), given twice
SELECT id, label, CAST(taken_at AS CHAR), fingerprint, description FROM data_engineer_snapshots
WHERE CAST(id AS CHAR) = ? OR label = ? ORDER BY id DESC LIMIT 1
