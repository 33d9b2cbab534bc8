-- boxoffice schema, version 8 (PRAGMA user_version = 8): sales windows.
--
-- Applied by src/store/sqlite/migrate.rs as migration step 8. A show sells from sales_start
-- up to, not including, sales_end (milliseconds since the epoch, as every time here); before
-- it a buyer may join the line but not hold or pay, after it nothing is sold
-- (src/domain/sales_window.rs). A show created without a window sells from its creation until
-- it starts; so do the shows this step finds, from their concert's creation (or their own
-- start, if that was earlier) until they start.
ALTER TABLE schedules ADD COLUMN sales_start INTEGER NOT NULL DEFAULT 0;
ALTER TABLE schedules ADD COLUMN sales_end INTEGER NOT NULL DEFAULT 0;

UPDATE schedules
   SET sales_start = MIN(start_time,
                         (SELECT created_at FROM concerts c WHERE c.id = schedules.concert_id)),
       sales_end = start_time;
