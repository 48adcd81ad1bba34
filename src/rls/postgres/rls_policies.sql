-- A table's policies as the database holds them, comparable field by field.
SELECT policyname::text AS name, cmd::text AS command, array_to_string(roles, ',') AS roles,
       coalesce(qual, '') AS using_expr, coalesce(with_check, '') AS check_expr, permissive::text AS permissive
FROM pg_policies
WHERE schemaname = $1 AND tablename = $2
ORDER BY policyname
