-- Which identity mechanism the database has: Supabase's auth.uid() and authenticated role, and
-- whether anything configures the session setting ($1) outside the application.
SELECT to_regprocedure('auth.uid()') IS NOT NULL AS supabase,
       EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'authenticated') AS authenticated_role,
       (EXISTS (SELECT 1 FROM pg_db_role_setting s, unnest(s.setconfig) c WHERE c LIKE $1 || '=%')
        OR coalesce(current_setting($1, true), '') <> '') AS setting_configured
