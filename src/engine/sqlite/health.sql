SELECT json_object(
    'version', sqlite_version(),
    'journal_mode', (SELECT journal_mode FROM pragma_journal_mode),
    'foreign_keys', (SELECT foreign_keys FROM pragma_foreign_keys),
    'file', (SELECT file FROM pragma_database_list WHERE name = 'main'),
    'page_count', (SELECT page_count FROM pragma_page_count),
    'page_size', (SELECT page_size FROM pragma_page_size)
)
