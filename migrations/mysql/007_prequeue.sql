-- boxoffice schema for MySQL, version 7: the waiting room's pre-queue. The same columns as
-- migrations/sqlite/010_prequeue.sql (read it for what they mean).
--
-- Each column is added from information_schema, as in 003_purchase_limits.sql, so the step
-- is idempotent.

SET @step = IF(
    (SELECT COUNT(*) FROM information_schema.columns
      WHERE table_schema = DATABASE() AND table_name = 'queue_lines'
        AND column_name = 'opens_at') = 0,
    'ALTER TABLE queue_lines ADD COLUMN opens_at BIGINT NULL',
    'DO 0');
PREPARE step FROM @step;
EXECUTE step;
DEALLOCATE PREPARE step;

SET @step = IF(
    (SELECT COUNT(*) FROM information_schema.columns
      WHERE table_schema = DATABASE() AND table_name = 'queue_waiting'
        AND column_name = 'prequeue_key') = 0,
    'ALTER TABLE queue_waiting ADD COLUMN prequeue_key BIGINT NULL CHECK (prequeue_key >= 0)',
    'DO 0');
PREPARE step FROM @step;
EXECUTE step;
DEALLOCATE PREPARE step;

SET @step = IF(
    (SELECT COUNT(*) FROM information_schema.columns
      WHERE table_schema = DATABASE() AND table_name = 'queue_waiting'
        AND column_name = 'skip_line') = 0,
    'ALTER TABLE queue_waiting ADD COLUMN skip_line TINYINT NOT NULL DEFAULT 0 CHECK (skip_line IN (0, 1))',
    'DO 0');
PREPARE step FROM @step;
EXECUTE step;
DEALLOCATE PREPARE step
