SELECT VERSION() AS version, CURRENT_USER() AS user, DATABASE() AS `database`,
       @@version_comment AS version_comment, @@performance_schema AS performance_schema, @@read_only AS server_read_only
