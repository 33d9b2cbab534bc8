-- boxoffice schema for MySQL, version 3: purchase limits. The same column and index as
-- migrations/sqlite/006_purchase_limits.sql (read it for what they mean).
--
-- MySQL 8 has neither ADD COLUMN IF NOT EXISTS nor CREATE INDEX IF NOT EXISTS (MariaDB has
-- both), so each change is prepared from information_schema: the change when it is missing,
-- a statement that does nothing when it is there. That keeps the step idempotent, as every
-- step's must be.

SET @step = IF(
    (SELECT COUNT(*) FROM information_schema.columns
      WHERE table_schema = DATABASE() AND table_name = 'schedules'
        AND column_name = 'max_tickets_per_buyer') = 0,
    'ALTER TABLE schedules ADD COLUMN max_tickets_per_buyer BIGINT NULL
         CHECK (max_tickets_per_buyer BETWEEN 1 AND 1000)',
    'DO 0');
PREPARE step FROM @step;
EXECUTE step;
DEALLOCATE PREPARE step;

SET @step = IF(
    (SELECT COUNT(*) FROM information_schema.statistics
      WHERE table_schema = DATABASE() AND table_name = 'reservations'
        AND index_name = 'reservations_by_buyer') = 0,
    'CREATE INDEX reservations_by_buyer ON reservations (user_id, schedule_id, status, expires_at)',
    'DO 0');
PREPARE step FROM @step;
EXECUTE step;
DEALLOCATE PREPARE step
