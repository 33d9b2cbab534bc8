-- boxoffice schema for MySQL, version 10: tickets, one per sold seat. The same table as
-- migrations/sqlite/013_tickets.sql (read it for what a row is). MySQL has no partial index:
-- valid_seat is the seat while the ticket is valid and NULL after, and a unique key on it
-- keeps one valid ticket per seat. Idempotent, as every step: the table IF NOT EXISTS, and
-- the tickets of seats sold before it only for payments that have none yet (codes from
-- RANDOM_BYTES, the server's CSPRNG).
CREATE TABLE IF NOT EXISTS tickets (
    id             BIGINT      NOT NULL AUTO_INCREMENT PRIMARY KEY,
    code           CHAR(32)    NOT NULL,
    payment_id     BIGINT      NOT NULL,
    reservation_id BIGINT      NOT NULL,
    user_id        BIGINT      NOT NULL,
    schedule_id    BIGINT      NOT NULL,
    seat_id        BIGINT      NOT NULL,
    status         VARCHAR(16) NOT NULL DEFAULT 'valid' CHECK (status IN ('valid', 'refunded')),
    issued_at      BIGINT      NOT NULL,
    checked_in_at  BIGINT      NULL,
    checked_in_by  VARCHAR(255) NULL,
    valid_seat     BIGINT AS (IF(status = 'valid', seat_id, NULL)) STORED,
    UNIQUE KEY tickets_by_code (code),
    UNIQUE KEY tickets_one_valid_per_seat (valid_seat),
    KEY tickets_by_user (user_id, id),
    KEY tickets_by_schedule (schedule_id, status),
    CONSTRAINT tickets_payment FOREIGN KEY (payment_id) REFERENCES payments (id),
    CONSTRAINT tickets_reservation FOREIGN KEY (reservation_id) REFERENCES reservations (id),
    CONSTRAINT tickets_user FOREIGN KEY (user_id) REFERENCES users (id),
    CONSTRAINT tickets_schedule FOREIGN KEY (schedule_id) REFERENCES schedules (id),
    CONSTRAINT tickets_seat FOREIGN KEY (seat_id) REFERENCES seats (id),
    CONSTRAINT tickets_checked_in_together CHECK ((checked_in_at IS NULL) = (checked_in_by IS NULL))
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

INSERT INTO tickets (code, payment_id, reservation_id, user_id, schedule_id, seat_id, issued_at)
SELECT HEX(RANDOM_BYTES(16)), p.id, p.reservation_id, p.user_id, r.schedule_id, rs.seat_id,
       p.created_at
FROM payments p
JOIN reservations r ON r.id = p.reservation_id
JOIN reservation_seats rs ON rs.reservation_id = r.id
WHERE NOT EXISTS (SELECT 1 FROM tickets t WHERE t.payment_id = p.id)
ORDER BY p.id, rs.seat_id;
