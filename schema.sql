-- boxoffice schema, version 1 (PRAGMA user_version = 1).
--
-- Applied by src/store/sqlite/migrate.rs as migration step 1; later versions append their own
-- steps there instead of editing this file. Times are INTEGER milliseconds since the Unix epoch;
-- money is INTEGER minor units.

-- A buyer account with its prepaid balance. The balance always equals the sum of the user's
-- balance_history amounts.
CREATE TABLE users (
    id          INTEGER PRIMARY KEY,
    name        TEXT    NOT NULL,
    email       TEXT    NOT NULL,
    balance     INTEGER NOT NULL DEFAULT 0 CHECK (balance >= 0),
    created_at  INTEGER NOT NULL
);

-- A concert: a title sold in one or more shows (schedules).
CREATE TABLE concerts (
    id          INTEGER PRIMARY KEY,
    title       TEXT    NOT NULL,
    created_at  INTEGER NOT NULL
);

-- One show of a concert, with its own seats. total_seats is fixed when the show is created.
CREATE TABLE schedules (
    id          INTEGER PRIMARY KEY,
    concert_id  INTEGER NOT NULL REFERENCES concerts (id),
    start_time  INTEGER NOT NULL,
    total_seats INTEGER NOT NULL CHECK (total_seats >= 0)
);
CREATE INDEX schedules_by_concert ON schedules (concert_id);

-- One seat of one show. status 'held' means held_by holds it until held_until; a hold whose
-- held_until has passed counts as free even before the sweeper resets it. A sold seat keeps
-- held_by pointing at the reservation that bought it.
CREATE TABLE seats (
    id          INTEGER PRIMARY KEY,
    schedule_id INTEGER NOT NULL REFERENCES schedules (id),
    seat_number TEXT    NOT NULL,
    price       INTEGER NOT NULL CHECK (price >= 0),
    status      TEXT    NOT NULL DEFAULT 'available'
                        CHECK (status IN ('available', 'held', 'sold')),
    held_by     INTEGER REFERENCES reservations (id),
    held_until  INTEGER,
    UNIQUE (schedule_id, seat_number)
);
-- Availability counts: seats of a show that are free or whose hold ran out.
CREATE INDEX seats_by_availability ON seats (schedule_id, status, held_until);

-- A buyer's hold on one seat, later confirmed by a payment, or ended by time running out.
-- price is the seat's price when the hold was made, which is what the buyer pays.
CREATE TABLE reservations (
    id           INTEGER PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users (id),
    concert_id   INTEGER NOT NULL REFERENCES concerts (id),
    schedule_id  INTEGER NOT NULL REFERENCES schedules (id),
    seat_id      INTEGER NOT NULL REFERENCES seats (id),
    price        INTEGER NOT NULL CHECK (price >= 0),
    status       TEXT    NOT NULL
                         CHECK (status IN ('held', 'confirmed', 'expired', 'cancelled')),
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    confirmed_at INTEGER
);
-- The expiry sweep: held reservations whose time has come.
CREATE INDEX reservations_by_expiry ON reservations (status, expires_at);
-- The lazy expiry when a seat is held again.
CREATE INDEX reservations_by_seat ON reservations (seat_id, status, expires_at);

-- A completed payment: one per reservation, written only once the money has moved.
CREATE TABLE payments (
    id             INTEGER PRIMARY KEY,
    user_id        INTEGER NOT NULL REFERENCES users (id),
    reservation_id INTEGER NOT NULL UNIQUE REFERENCES reservations (id),
    amount         INTEGER NOT NULL CHECK (amount >= 0),
    created_at     INTEGER NOT NULL
);
CREATE INDEX payments_by_user ON payments (user_id, created_at);

-- One change of a user's balance: a charge or refund (positive amount) or a use (negative),
-- with the balance it left and what caused it ("reservation:7").
CREATE TABLE balance_history (
    id            INTEGER PRIMARY KEY,
    user_id       INTEGER NOT NULL REFERENCES users (id),
    kind          TEXT    NOT NULL CHECK (kind IN ('charge', 'use', 'refund')),
    amount        INTEGER NOT NULL,
    balance_after INTEGER NOT NULL CHECK (balance_after >= 0),
    created_at    INTEGER NOT NULL,
    reference     TEXT
);
CREATE INDEX balance_history_by_user ON balance_history (user_id, id);

-- The first successful answer to a request sent with an Idempotency-Key: a retry with the same
-- key and fingerprint gets this response back, one with another fingerprint is refused.
CREATE TABLE idempotency_keys (
    scope       TEXT    NOT NULL,
    key         TEXT    NOT NULL,
    fingerprint TEXT    NOT NULL,
    response    TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (scope, key)
);
CREATE INDEX idempotency_keys_by_age ON idempotency_keys (created_at);

-- A domain event written in the same transaction as the change it reports, waiting for (or
-- done with) delivery by the relay. Events with the same aggregate_key go out in id order.
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id        TEXT    NOT NULL UNIQUE,
    event_type      TEXT    NOT NULL,
    aggregate_key   TEXT    NOT NULL,
    envelope        TEXT    NOT NULL,
    occurred_at     INTEGER NOT NULL,
    state           TEXT    NOT NULL DEFAULT 'pending'
                            CHECK (state IN ('pending', 'delivered', 'dead')),
    attempts        INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at INTEGER NOT NULL,
    last_error      TEXT,
    delivered_at    INTEGER
);
CREATE INDEX outbox_by_state ON outbox (state, id);

-- A named value the server keeps across restarts, such as the queue token signing key.
CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value BLOB NOT NULL
);
