-- boxoffice schema for MySQL, version 16: how a remembered session ended. The same column as
-- migrations/sqlite/020_closed_sessions.sql (read it for what it means).
--
-- The column is added from information_schema, as in 007_prequeue.sql, so the step is
-- idempotent.

SET @step = IF(
    (SELECT COUNT(*) FROM information_schema.columns
      WHERE table_schema = DATABASE() AND table_name = 'queue_sessions'
        AND column_name = 'closed') = 0,
    'ALTER TABLE queue_sessions ADD COLUMN closed TINYINT NOT NULL DEFAULT 0 CHECK (closed IN (0, 1))',
    'DO 0');
PREPARE step FROM @step;
EXECUTE step;
DEALLOCATE PREPARE step
