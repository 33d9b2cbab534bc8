-- boxoffice schema, version 20 (PRAGMA user_version = 20): how a remembered session ended.
--
-- Applied by src/store/sqlite/migrate.rs as migration step 20. The in-process waiting room
-- keeps only the latest ended tokens in memory and reads older ones from queue_sessions
-- (src/waiting_room/memory/mod.rs), so the table now says what memory said:
-- queue_sessions.closed is 1 for a waiting buyer whose place the line's closing released
-- (their token answers `closed`), 0 for every other ended or active session. Rows from
-- before this step read as 0, which is what a restart answered for them until now.
ALTER TABLE queue_sessions ADD COLUMN closed INTEGER NOT NULL DEFAULT 0 CHECK (closed IN (0, 1));
