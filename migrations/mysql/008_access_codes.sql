-- boxoffice schema for MySQL, version 8: presale access codes. The same table as
-- migrations/sqlite/011_access_codes.sql (read it for what a row is). Idempotent (IF NOT
-- EXISTS), as every step.
CREATE TABLE IF NOT EXISTS access_codes (
    code_hash   BINARY(32)   NOT NULL PRIMARY KEY,
    schedule_id BIGINT       NOT NULL,
    created_at  BIGINT       NOT NULL,
    used_by     BIGINT       NULL,
    used_at     BIGINT       NULL,
    KEY access_codes_by_schedule (schedule_id, used_at),
    CONSTRAINT access_codes_schedule FOREIGN KEY (schedule_id) REFERENCES schedules (id),
    CONSTRAINT access_codes_user FOREIGN KEY (used_by) REFERENCES users (id),
    CONSTRAINT access_codes_used_together CHECK ((used_by IS NULL) = (used_at IS NULL))
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin
