CREATE TABLE IF NOT EXISTS data_engineer_snapshots (
    id INTEGER PRIMARY KEY,
    label TEXT NOT NULL,
    taken_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
    fingerprint TEXT NOT NULL,
    description TEXT NOT NULL
)
