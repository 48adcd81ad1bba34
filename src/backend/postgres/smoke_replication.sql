SELECT pg_is_in_recovery() AS replica,
       extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8 AS lag_seconds
