-- Example seed for {{name}}: safe to run again (a conflict on the unique name does nothing).
INSERT INTO items (name) VALUES ('example') ON CONFLICT (name) DO NOTHING;
