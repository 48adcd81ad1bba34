CREATE TABLE IF NOT EXISTS data_engineer_seeds (
    file text PRIMARY KEY,
    checksum text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
