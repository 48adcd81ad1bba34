-- $1: an id or a label (the newest snapshot with that label)
SELECT id, label, taken_at::text, fingerprint, description FROM data_engineer.snapshots
WHERE id::text = $1 OR label = $1 ORDER BY (id::text = $1) DESC, id DESC LIMIT 1
