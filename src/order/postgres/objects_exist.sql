-- Which of the named objects exist: $1 kinds, $2 schemas (NULL: the search path), $3 names.
-- Names arrive case-folded as the parser saw them; quote_ident keeps them exact.
SELECT CASE o.kind
    WHEN 'relation' THEN to_regclass(coalesce(quote_ident(o.schema) || '.', '') || quote_ident(o.name)) IS NOT NULL
    WHEN 'type' THEN to_regtype(coalesce(quote_ident(o.schema) || '.', '') || quote_ident(o.name)) IS NOT NULL
    WHEN 'function' THEN EXISTS (
        SELECT 1 FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE p.proname = o.name
          AND (n.nspname = o.schema OR (o.schema IS NULL AND pg_function_is_visible(p.oid))))
    WHEN 'schema' THEN EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = o.name)
    WHEN 'extension' THEN EXISTS (SELECT 1 FROM pg_extension WHERE extname = o.name)
END AS present
FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS o(kind, schema, name, ord)
ORDER BY o.ord
