CREATE SCHEMA IF NOT EXISTS data_engineer;
CREATE TABLE IF NOT EXISTS data_engineer.snapshots (
    id BIGSERIAL PRIMARY KEY,
    label TEXT NOT NULL,
    taken_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    fingerprint TEXT NOT NULL,
    description TEXT NOT NULL
);
