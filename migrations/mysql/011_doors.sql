-- boxoffice schema for MySQL, version 11: doors, the scoped credentials that check tickets
-- in. The same table as migrations/sqlite/014_doors.sql (read it for what a row is).
-- Idempotent (IF NOT EXISTS), as every step.
CREATE TABLE IF NOT EXISTS doors (
    id          BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    name        VARCHAR(255) NOT NULL,
    schedule_id BIGINT       NULL,
    token_hash  BINARY(32)   NOT NULL,
    created_at  BIGINT       NOT NULL,
    revoked_at  BIGINT       NULL,
    UNIQUE KEY doors_by_token (token_hash),
    CONSTRAINT doors_schedule FOREIGN KEY (schedule_id) REFERENCES schedules (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin
