-- boxoffice schema, version 6 (PRAGMA user_version = 6): purchase limits.
--
-- Applied by src/store/sqlite/migrate.rs as migration step 6. A show may set the most seats
-- one buyer holds or owns of it; NULL follows the server's --max-tickets-per-buyer. A hold
-- counts the buyer's paid seats and live holds of the show through reservations_by_buyer,
-- which holds every column the count reads.
ALTER TABLE schedules ADD COLUMN max_tickets_per_buyer INTEGER
    CHECK (max_tickets_per_buyer BETWEEN 1 AND 1000);

CREATE INDEX reservations_by_buyer ON reservations (user_id, schedule_id, status, expires_at);
