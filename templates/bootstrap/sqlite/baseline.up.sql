-- Baseline for {{name}}: the conventions every table follows.
--   id          INTEGER PRIMARY KEY (the rowid)
--   created_at  when the row was inserted (ISO 8601 text, UTC)
--   updated_at  when it last changed, kept by a trigger
-- SQLite has no COMMENT ON: the comments inside CREATE TABLE are stored with the schema
-- (sqlite_schema.sql) and document it there. `items` is an example: rename it or replace it.

CREATE TABLE items (
    id INTEGER PRIMARY KEY, -- surrogate key, assigned by SQLite
    name TEXT NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 200), -- unique human-readable name
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')), -- when the row was inserted
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) -- when it last changed
);

-- Keeps updated_at current; the WHEN clause leaves an explicit updated_at alone and stops recursion.
CREATE TRIGGER items_set_updated_at
AFTER UPDATE ON items
FOR EACH ROW WHEN NEW.updated_at = OLD.updated_at
BEGIN
    UPDATE items SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = NEW.id;
END;
