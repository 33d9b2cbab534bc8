-- boxoffice schema for MySQL 8 / MariaDB 10.6 and later, version 1 (a row in schema_version).
--
-- The same tables, columns and meanings as schema.sql plus migrations/sqlite/002_waiting_room.sql
-- (read their comments for what each row is); only the types are MySQL's. Applied by
-- src/store/mysql/migrate.rs as migration step 1; later versions append their own steps
-- there instead of editing this file. Every statement is idempotent (IF NOT EXISTS), so a
-- step that failed half-way (MySQL commits each DDL statement on its own) is simply run again.
--
-- Times are BIGINT milliseconds since the Unix epoch and money is BIGINT minor units, as in
-- SQLite, so both stores compute with the same numbers. Every table is InnoDB, utf8mb4 with
-- the binary collation: text compares byte for byte as in SQLite, so `A1` and `a1` are two
-- seats and `K-1` and `k-1` two idempotency keys.

-- A buyer account with its prepaid balance, which always equals the sum of its history.
CREATE TABLE IF NOT EXISTS users (
    id          BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    name        TEXT         NOT NULL,
    email       TEXT         NOT NULL,
    balance     BIGINT       NOT NULL DEFAULT 0 CHECK (balance >= 0),
    created_at  BIGINT       NOT NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- A concert: a title sold in one or more shows (schedules).
CREATE TABLE IF NOT EXISTS concerts (
    id          BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    title       TEXT         NOT NULL,
    created_at  BIGINT       NOT NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- One show of a concert, with its own seats.
CREATE TABLE IF NOT EXISTS schedules (
    id          BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    concert_id  BIGINT       NOT NULL,
    start_time  BIGINT       NOT NULL,
    total_seats BIGINT       NOT NULL CHECK (total_seats >= 0),
    KEY schedules_by_concert (concert_id),
    CONSTRAINT schedules_concert FOREIGN KEY (concert_id) REFERENCES concerts (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- One seat of one show; 'held' means held_by holds it until held_until, and a hold whose
-- held_until has passed counts as free. held_by points at reservations (id); the constraint
-- is left out because the two tables point at each other.
CREATE TABLE IF NOT EXISTS seats (
    id          BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    schedule_id BIGINT       NOT NULL,
    seat_number VARCHAR(255) NOT NULL,
    price       BIGINT       NOT NULL CHECK (price >= 0),
    status      VARCHAR(16)  NOT NULL DEFAULT 'available'
                             CHECK (status IN ('available', 'held', 'sold')),
    held_by     BIGINT       NULL,
    held_until  BIGINT       NULL,
    UNIQUE KEY seats_by_number (schedule_id, seat_number),
    KEY seats_by_availability (schedule_id, status, held_until),
    CONSTRAINT seats_schedule FOREIGN KEY (schedule_id) REFERENCES schedules (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- A buyer's hold on one seat, later confirmed by a payment, or ended by time running out.
CREATE TABLE IF NOT EXISTS reservations (
    id           BIGINT      NOT NULL AUTO_INCREMENT PRIMARY KEY,
    user_id      BIGINT      NOT NULL,
    concert_id   BIGINT      NOT NULL,
    schedule_id  BIGINT      NOT NULL,
    seat_id      BIGINT      NOT NULL,
    price        BIGINT      NOT NULL CHECK (price >= 0),
    status       VARCHAR(16) NOT NULL
                             CHECK (status IN ('held', 'confirmed', 'expired', 'cancelled')),
    created_at   BIGINT      NOT NULL,
    expires_at   BIGINT      NOT NULL,
    confirmed_at BIGINT      NULL,
    KEY reservations_by_expiry (status, expires_at),
    KEY reservations_by_seat (seat_id, status, expires_at),
    CONSTRAINT reservations_user FOREIGN KEY (user_id) REFERENCES users (id),
    CONSTRAINT reservations_concert FOREIGN KEY (concert_id) REFERENCES concerts (id),
    CONSTRAINT reservations_schedule FOREIGN KEY (schedule_id) REFERENCES schedules (id),
    CONSTRAINT reservations_seat FOREIGN KEY (seat_id) REFERENCES seats (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- A completed payment: one per reservation.
CREATE TABLE IF NOT EXISTS payments (
    id             BIGINT    NOT NULL AUTO_INCREMENT PRIMARY KEY,
    user_id        BIGINT    NOT NULL,
    reservation_id BIGINT    NOT NULL,
    amount         BIGINT    NOT NULL CHECK (amount >= 0),
    created_at     BIGINT    NOT NULL,
    UNIQUE KEY payments_by_reservation (reservation_id),
    KEY payments_by_user (user_id, created_at),
    CONSTRAINT payments_user FOREIGN KEY (user_id) REFERENCES users (id),
    CONSTRAINT payments_reservation FOREIGN KEY (reservation_id) REFERENCES reservations (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- One change of a user's balance ('charge' or 'refund' positive, 'use' negative).
CREATE TABLE IF NOT EXISTS balance_history (
    id            BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    user_id       BIGINT       NOT NULL,
    kind          VARCHAR(16)  NOT NULL CHECK (kind IN ('charge', 'use', 'refund')),
    amount        BIGINT       NOT NULL,
    balance_after BIGINT       NOT NULL CHECK (balance_after >= 0),
    created_at    BIGINT       NOT NULL,
    reference     VARCHAR(255) NULL,
    KEY balance_history_by_user (user_id, id),
    CONSTRAINT balance_history_user FOREIGN KEY (user_id) REFERENCES users (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- The first successful answer to a request sent with an Idempotency-Key. The row is inserted
-- first in the transaction of the work it guards, so a concurrent request with the same key
-- waits on it and then reads the stored answer.
CREATE TABLE IF NOT EXISTS idempotency_keys (
    scope       VARCHAR(128) NOT NULL,
    `key`       VARCHAR(255) NOT NULL,
    fingerprint TEXT         NOT NULL,
    response    MEDIUMTEXT   NULL,
    created_at  BIGINT       NOT NULL,
    PRIMARY KEY (scope, `key`),
    KEY idempotency_keys_by_age (created_at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- A domain event written in the same transaction as the change it reports.
CREATE TABLE IF NOT EXISTS outbox (
    id              BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    event_id        VARCHAR(64)  NOT NULL,
    event_type      VARCHAR(64)  NOT NULL,
    aggregate_key   VARCHAR(128) NOT NULL,
    envelope        MEDIUMTEXT   NOT NULL,
    occurred_at     BIGINT       NOT NULL,
    state           VARCHAR(16)  NOT NULL DEFAULT 'pending'
                                 CHECK (state IN ('pending', 'delivered', 'dead')),
    attempts        BIGINT       NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at BIGINT       NOT NULL,
    last_error      MEDIUMTEXT   NULL,
    delivered_at    BIGINT       NULL,
    UNIQUE KEY outbox_by_event_id (event_id),
    KEY outbox_by_state (state, id),
    KEY outbox_by_key (state, aggregate_key, id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- A named value the server keeps across restarts, such as the queue token signing key.
CREATE TABLE IF NOT EXISTS settings (
    `key`   VARCHAR(128)   NOT NULL PRIMARY KEY,
    value   VARBINARY(1024) NOT NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- The in-process waiting room's lines: counters and tuned knobs (NULL: the start-up setting).
CREATE TABLE IF NOT EXISTS queue_lines (
    schedule_id      BIGINT  NOT NULL PRIMARY KEY,
    next_seq         BIGINT  NOT NULL CHECK (next_seq >= 1),
    journaled_seq    BIGINT  NOT NULL,
    front_seq        BIGINT  NOT NULL,
    max_active       BIGINT  NULL CHECK (max_active >= 1),
    admit_per_minute BIGINT  NULL CHECK (admit_per_minute >= 0),
    paused           TINYINT NULL CHECK (paused IN (0, 1)),
    updated_at       BIGINT  NOT NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- A buyer waiting in a line, at the place their token's seq says. token_id is the token's
-- unsigned 64-bit id stored as its two's-complement BIGINT, as in SQLite.
CREATE TABLE IF NOT EXISTS queue_waiting (
    schedule_id BIGINT NOT NULL,
    seq         BIGINT NOT NULL,
    user_id     BIGINT NOT NULL,
    token_id    BIGINT NOT NULL,
    issued_at   BIGINT NOT NULL,
    PRIMARY KEY (schedule_id, seq)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- A session: active until expires_at unless ended_at is set.
CREATE TABLE IF NOT EXISTS queue_sessions (
    schedule_id BIGINT NOT NULL,
    token_id    BIGINT NOT NULL,
    user_id     BIGINT NOT NULL,
    seq         BIGINT NOT NULL,
    issued_at   BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    ended_at    BIGINT NULL,
    PRIMARY KEY (schedule_id, token_id),
    KEY queue_sessions_by_end (ended_at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
