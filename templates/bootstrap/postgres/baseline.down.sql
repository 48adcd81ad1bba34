-- Reverts the baseline of {{name}}. Dropping the table deletes its rows: they do not come back.
DROP TABLE IF EXISTS items;
DROP FUNCTION IF EXISTS set_updated_at();
