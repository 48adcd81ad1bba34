-- Reverts the baseline of {{name}}. Dropping the table deletes its rows: they do not come back.
DROP TRIGGER IF EXISTS items_set_updated_at;
DROP TABLE IF EXISTS items;
