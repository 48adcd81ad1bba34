-- ?1: an id or a label (the newest snapshot with that label)
SELECT id, label, taken_at, fingerprint, description FROM data_engineer_snapshots
WHERE CAST(id AS TEXT) = ?1 OR label = ?1 ORDER BY (CAST(id AS TEXT) = ?1) DESC, id DESC LIMIT 1
