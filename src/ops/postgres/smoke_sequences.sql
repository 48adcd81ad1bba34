-- $1 the used share (0-1) past which a sequence is near exhaustion.
SELECT format('%I.%I', schemaname, sequencename) AS "sequence", last_value, max_value,
       round(last_value::numeric / max_value, 4)::float8 AS used
FROM pg_sequences
WHERE last_value IS NOT NULL AND increment_by > 0 AND last_value::numeric / max_value > $1
ORDER BY used DESC
