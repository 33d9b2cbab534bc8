-- boxoffice schema for MySQL, version 9: group holds. The same column and table as
-- migrations/sqlite/012_group_holds.sql (read it for what they mean). Idempotent, as every
-- step: the column is added from information_schema, the table IF NOT EXISTS, and the rows
-- of the reservations made before it with INSERT IGNORE.

SET @step = IF(
    (SELECT COUNT(*) FROM information_schema.columns
      WHERE table_schema = DATABASE() AND table_name = 'reservations'
        AND column_name = 'seat_count') = 0,
    'ALTER TABLE reservations ADD COLUMN seat_count INT NOT NULL DEFAULT 1 CHECK (seat_count >= 1)',
    'DO 0');
PREPARE step FROM @step;
EXECUTE step;
DEALLOCATE PREPARE step;

CREATE TABLE IF NOT EXISTS reservation_seats (
    reservation_id BIGINT NOT NULL,
    seat_id        BIGINT NOT NULL,
    price          BIGINT NOT NULL CHECK (price >= 0),
    PRIMARY KEY (reservation_id, seat_id),
    KEY reservation_seats_by_seat (seat_id),
    CONSTRAINT reservation_seats_reservation FOREIGN KEY (reservation_id)
        REFERENCES reservations (id),
    CONSTRAINT reservation_seats_seat FOREIGN KEY (seat_id) REFERENCES seats (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

INSERT IGNORE INTO reservation_seats (reservation_id, seat_id, price)
SELECT id, seat_id, price FROM reservations;
