-- Whether a table, view or index named ?1 exists (SQLite folds nothing: compare case-insensitively,
-- as it resolves names).
SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type IN ('table', 'view', 'index') AND name = ?1 COLLATE NOCASE)
