-- Example seed for {{name}}: safe to run again (a duplicate name changes nothing).
INSERT INTO items (name) VALUES ('example') ON DUPLICATE KEY UPDATE name = name;
