-- code: identity-per-row
-- severity: warning
-- scope: rls
-- why: the identity function is called for every row; wrapped in a sub-select it is evaluated once per statement (often 100x faster on big tables)
SELECT format('%I.%I', p.schemaname, p.tablename) AS object,
       format('policy %s calls %s per row', p.policyname,
              CASE WHEN concat(p.qual, p.with_check) LIKE '%auth.uid()%' THEN 'auth.uid()' ELSE 'current_setting()' END) AS detail,
       format('ALTER POLICY %I ON %I.%I USING (... = (select auth.uid())) -- wrap the call in (select ...)', p.policyname, p.schemaname, p.tablename) AS fix
FROM pg_policies p
WHERE (concat(p.qual, ' ', p.with_check) ~ '(auth\.uid\(\)|current_setting\()')
  AND concat(p.qual, ' ', p.with_check) !~* '\(\s*select\s+[(\s]*(nullif\s*\(\s*)?(auth\.uid\(\)|current_setting\()'
