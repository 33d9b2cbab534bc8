-- boxoffice schema for MySQL, version 13: buyers' own cancellations. The same column as
-- migrations/sqlite/016_self_cancellation.sql (read it for what it means), added from
-- information_schema so the step is idempotent.
SET @step = IF(
    (SELECT COUNT(*) FROM information_schema.columns
      WHERE table_schema = DATABASE() AND table_name = 'schedules'
        AND column_name = 'self_cancel_until') = 0,
    'ALTER TABLE schedules ADD COLUMN self_cancel_until BIGINT NULL',
    'DO 0');
PREPARE step FROM @step;
EXECUTE step;
DEALLOCATE PREPARE step
