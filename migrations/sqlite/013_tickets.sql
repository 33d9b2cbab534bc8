-- boxoffice schema, version 13 (PRAGMA user_version = 13): tickets, one per sold seat.
--
-- Applied by src/store/sqlite/migrate.rs as migration step 13. A ticket is made in the
-- payment's transaction for each seat it pays for (src/domain/ticket.rs); code is what the
-- door scans: 128 random bits as 32 uppercase hex digits. status is 'valid' until the seat
-- is refunded; checked_in_at and checked_in_by (the door's name) are set together, once, by
-- the conditional update of a check-in. A seat has at most one valid ticket (the partial
-- unique index); a refunded seat sold again gets a new one.
--
-- Seats sold before this step get their tickets here, with codes from SQLite's randomblob
-- (its ChaCha20 generator, seeded by the operating system).
CREATE TABLE tickets (
    id             INTEGER PRIMARY KEY,
    code           TEXT    NOT NULL UNIQUE,
    payment_id     INTEGER NOT NULL REFERENCES payments (id),
    reservation_id INTEGER NOT NULL REFERENCES reservations (id),
    user_id        INTEGER NOT NULL REFERENCES users (id),
    schedule_id    INTEGER NOT NULL REFERENCES schedules (id),
    seat_id        INTEGER NOT NULL REFERENCES seats (id),
    status         TEXT    NOT NULL DEFAULT 'valid' CHECK (status IN ('valid', 'refunded')),
    issued_at      INTEGER NOT NULL,
    checked_in_at  INTEGER,
    checked_in_by  TEXT,
    CHECK ((checked_in_at IS NULL) = (checked_in_by IS NULL))
);
CREATE UNIQUE INDEX tickets_one_valid_per_seat ON tickets (seat_id) WHERE status = 'valid';
-- A buyer's tickets; a show's attendees.
CREATE INDEX tickets_by_user ON tickets (user_id, id);
CREATE INDEX tickets_by_schedule ON tickets (schedule_id, status);

INSERT INTO tickets (code, payment_id, reservation_id, user_id, schedule_id, seat_id, issued_at)
SELECT hex(randomblob(16)), p.id, p.reservation_id, p.user_id, r.schedule_id, rs.seat_id,
       p.created_at
FROM payments p
JOIN reservations r ON r.id = p.reservation_id
JOIN reservation_seats rs ON rs.reservation_id = r.id
ORDER BY p.id, rs.seat_id;
