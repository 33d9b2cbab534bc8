-- boxoffice schema, version 4 (PRAGMA user_version = 4): each show counts its sold seats, so
-- `availableSeats` no longer counts every free seat on every read.
--
-- Applied by src/store/sqlite/migrate.rs as migration step 4. A show's available seats are
-- total_seats - sold_seats - its live holds; live holds are few and found through
-- seats_by_availability, where counting the free seats walked up to total_seats index
-- entries per show (6% of the server's CPU in the flow load test, a millisecond for a show of
-- 20,000 seats). The triggers keep the count equal to the seat rows whatever statement sells a
-- seat; a sold seat never goes back today, but if one does, the count follows.
ALTER TABLE schedules ADD COLUMN sold_seats INTEGER NOT NULL DEFAULT 0 CHECK (sold_seats >= 0);

UPDATE schedules
SET sold_seats = (SELECT COUNT(*) FROM seats s WHERE s.schedule_id = schedules.id AND s.status = 'sold');

CREATE TRIGGER seats_sold AFTER UPDATE OF status ON seats
WHEN NEW.status = 'sold' AND OLD.status <> 'sold'
BEGIN
    UPDATE schedules SET sold_seats = sold_seats + 1 WHERE id = NEW.schedule_id;
END;

CREATE TRIGGER seats_unsold AFTER UPDATE OF status ON seats
WHEN OLD.status = 'sold' AND NEW.status <> 'sold'
BEGIN
    UPDATE schedules SET sold_seats = sold_seats - 1 WHERE id = OLD.schedule_id;
END;
