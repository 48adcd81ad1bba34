-- Why a rolled-back run of a write would still leave a trace: tables of an engine without
-- transactions (MyISAM, Aria, MEMORY, ...), AUTO_INCREMENT counters an INSERT advances, triggers
-- and stored functions (what they do outside the transaction cannot be vouched for).
-- ?1: target tables, ?2: tables inserted into, ?3: target tables again, ?4: functions called
-- by name; each a JSON array of strings.
SELECT CONCAT(TABLE_NAME, ' uses the ', ENGINE, ' engine, which keeps what a rollback should undo')
  FROM information_schema.TABLES
 WHERE TABLE_SCHEMA = DATABASE() AND JSON_CONTAINS(?, JSON_QUOTE(TABLE_NAME))
   AND COALESCE(ENGINE, '') <> 'InnoDB'
UNION ALL
SELECT CONCAT('inserting into ', TABLE_NAME, ' advances its AUTO_INCREMENT counter, and a rollback does not undo that')
  FROM information_schema.TABLES
 WHERE TABLE_SCHEMA = DATABASE() AND JSON_CONTAINS(?, JSON_QUOTE(TABLE_NAME))
   AND AUTO_INCREMENT IS NOT NULL
UNION ALL
SELECT CONCAT('trigger ', TRIGGER_NAME, ' runs on ', EVENT_OBJECT_TABLE)
  FROM information_schema.TRIGGERS
 WHERE TRIGGER_SCHEMA = DATABASE() AND JSON_CONTAINS(?, JSON_QUOTE(EVENT_OBJECT_TABLE))
UNION ALL
SELECT CONCAT(ROUTINE_NAME, '() is a stored function of this database')
  FROM information_schema.ROUTINES
 WHERE ROUTINE_SCHEMA = DATABASE() AND ROUTINE_TYPE = 'FUNCTION'
   AND JSON_CONTAINS(?, JSON_QUOTE(LOWER(ROUTINE_NAME)))
