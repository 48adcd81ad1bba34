-- A standby that has replayed everything it received is not behind, however long ago its
-- primary last committed (the replay timestamp alone grows on an idle primary). Otherwise the
-- lag is the age of the last transaction it replayed.
SELECT pg_is_in_recovery() AS replica,
       CASE
           WHEN NOT pg_is_in_recovery() THEN NULL
           WHEN pg_last_wal_receive_lsn() IS NOT NULL
                AND pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
           ELSE extract(epoch FROM now() - pg_last_xact_replay_timestamp())
       END::float8 AS lag_seconds
