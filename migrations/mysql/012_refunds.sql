-- boxoffice schema for MySQL, version 12: refunds. The same table and column as
-- migrations/sqlite/015_refunds.sql (read it for what they mean). Idempotent, as every step.
CREATE TABLE IF NOT EXISTS refunds (
    id         BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    payment_id BIGINT NOT NULL,
    user_id    BIGINT NOT NULL,
    amount     BIGINT NOT NULL CHECK (amount >= 0),
    created_at BIGINT NOT NULL,
    KEY refunds_by_payment (payment_id),
    CONSTRAINT refunds_payment FOREIGN KEY (payment_id) REFERENCES payments (id),
    CONSTRAINT refunds_user FOREIGN KEY (user_id) REFERENCES users (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

SET @step = IF(
    (SELECT COUNT(*) FROM information_schema.columns
      WHERE table_schema = DATABASE() AND table_name = 'tickets'
        AND column_name = 'refund_id') = 0,
    'ALTER TABLE tickets ADD COLUMN refund_id BIGINT NULL',
    'DO 0');
PREPARE step FROM @step;
EXECUTE step;
DEALLOCATE PREPARE step
