-- boxoffice schema, version 12 (PRAGMA user_version = 12): group holds. One reservation holds
-- one or more seats of one show, paid or given back as a whole.
--
-- Applied by src/store/sqlite/migrate.rs as migration step 12. reservation_seats lists every
-- seat of a reservation with the price it was held at; reservations keeps its first seat
-- (lowest id) in seat_id and the sum of the prices in price, as a single-seat reservation
-- always had them, and counts its seats in seat_count for the purchase limit. A seat is in at
-- most one live hold because the hold itself is still the seat row's conditional update
-- (seats.held_by names the reservation); this table only says which seats a reservation has.
-- Every reservation made before this step has one seat: it is listed here as such.
ALTER TABLE reservations ADD COLUMN seat_count INTEGER NOT NULL DEFAULT 1 CHECK (seat_count >= 1);

CREATE TABLE reservation_seats (
    reservation_id INTEGER NOT NULL REFERENCES reservations (id),
    seat_id        INTEGER NOT NULL REFERENCES seats (id),
    price          INTEGER NOT NULL CHECK (price >= 0),
    PRIMARY KEY (reservation_id, seat_id)
) WITHOUT ROWID;

INSERT INTO reservation_seats (reservation_id, seat_id, price)
SELECT id, seat_id, price FROM reservations;
