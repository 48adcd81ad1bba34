-- Reverts the baseline of {{name}}. Dropping the table deletes its rows: they do not come back.
DROP TABLE IF EXISTS items;
