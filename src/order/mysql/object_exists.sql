-- Whether a table/view (?1 = 'relation') or routine (?1 = 'function') named ?2 exists in the
-- connected database (or in database ?3 when the name was qualified).
SELECT CAST(CASE ?
    WHEN 'relation' THEN EXISTS (SELECT 1 FROM information_schema.tables
                                 WHERE table_schema = coalesce(?, database()) AND table_name = ?)
    ELSE EXISTS (SELECT 1 FROM information_schema.routines
                 WHERE routine_schema = coalesce(?, database()) AND routine_name = ?)
END AS SIGNED) AS present
