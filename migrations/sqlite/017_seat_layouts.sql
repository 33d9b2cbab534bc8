-- boxoffice schema, version 17 (PRAGMA user_version = 17): seat layouts.
--
-- Applied by src/store/sqlite/migrate.rs as migration step 17. Where a seat is and what it
-- is sold as, each part as the admin gave it when the show was created (src/domain/seat_plan.rs
-- checks them): section, row_label and number_label as printed on the ticket, category the
-- name of its price category, plan_x and plan_y its point on the plan (both or neither, and
-- no two seats of a show at one point). NULL, and every seat created before this step, means
-- not given: the seat map generates that part.
ALTER TABLE seats ADD COLUMN section TEXT;
ALTER TABLE seats ADD COLUMN row_label TEXT;
ALTER TABLE seats ADD COLUMN number_label TEXT;
ALTER TABLE seats ADD COLUMN category TEXT;
ALTER TABLE seats ADD COLUMN plan_x INTEGER;
ALTER TABLE seats ADD COLUMN plan_y INTEGER;
