-- boxoffice schema, version 16 (PRAGMA user_version = 16): buyers' own cancellations.
--
-- Applied by src/store/sqlite/migrate.rs as migration step 16. self_cancel_until is when a
-- buyer may last cancel a purchase of the show themselves (a full refund of what is left of
-- it); NULL, the default, means never: only an admin refunds.
ALTER TABLE schedules ADD COLUMN self_cancel_until INTEGER;
