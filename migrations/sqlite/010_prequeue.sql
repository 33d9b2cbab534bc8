-- boxoffice schema, version 10 (PRAGMA user_version = 10): the waiting room's pre-queue.
--
-- Applied by src/store/sqlite/migrate.rs as migration step 10. A line learns when it opens
-- (its show's salesStart) from the joins; before it nobody is let in, and a buyer who joins
-- draws a random key (below 2^52, from the OS CSPRNG) that orders the pre-queue at the opening
-- (src/waiting_room/memory/line.rs). The key is kept with the waiting buyer, so a restart
-- gives everyone the same place.
--
-- queue_lines.opens_at: the opening as a join last told it, in milliseconds; NULL when no
-- join named one. Once passed, the line stays open.
-- queue_waiting.prequeue_key: the key of a buyer who joined before the opening; NULL for one
-- who joined after it (they queue in seq order behind the pre-queue).
-- queue_waiting.skip_line: 1 for a buyer in the pre-queue who skips the line (a presale
-- code): let in first, at the opening.
ALTER TABLE queue_lines ADD COLUMN opens_at INTEGER;
ALTER TABLE queue_waiting ADD COLUMN prequeue_key INTEGER CHECK (prequeue_key >= 0);
ALTER TABLE queue_waiting ADD COLUMN skip_line INTEGER NOT NULL DEFAULT 0 CHECK (skip_line IN (0, 1));
