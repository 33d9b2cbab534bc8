-- boxoffice schema for MySQL, version 15: balance adjustments. The same kind and column as
-- migrations/sqlite/018_balance_adjustments.sql (read it for what they mean). The check on
-- kind is replaced by a named one that allows 'adjustment': MariaDB keeps the old check with
-- the column (redefining the column drops it), MySQL 8 as a table constraint named by the
-- server (found by its clause and dropped). Idempotent, as every step.
ALTER TABLE balance_history MODIFY kind VARCHAR(16) NOT NULL;

SET @old_check = (
    SELECT tc.CONSTRAINT_NAME FROM information_schema.TABLE_CONSTRAINTS tc
    JOIN information_schema.CHECK_CONSTRAINTS cc
      ON cc.CONSTRAINT_SCHEMA = tc.CONSTRAINT_SCHEMA AND cc.CONSTRAINT_NAME = tc.CONSTRAINT_NAME
    WHERE tc.TABLE_SCHEMA = DATABASE() AND tc.TABLE_NAME = 'balance_history'
      AND tc.CONSTRAINT_TYPE = 'CHECK' AND tc.CONSTRAINT_NAME <> 'balance_history_kind'
      AND cc.CHECK_CLAUSE LIKE '%refund%'
    LIMIT 1);
SET @step = IF(@old_check IS NULL, 'DO 0',
    CONCAT('ALTER TABLE balance_history DROP CONSTRAINT `', @old_check, '`'));
PREPARE step FROM @step;
EXECUTE step;
DEALLOCATE PREPARE step;

SET @step = IF(
    (SELECT COUNT(*) FROM information_schema.TABLE_CONSTRAINTS
      WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'balance_history'
        AND CONSTRAINT_NAME = 'balance_history_kind') = 0,
    'ALTER TABLE balance_history ADD CONSTRAINT balance_history_kind
         CHECK (kind IN (''charge'', ''use'', ''refund'', ''adjustment''))',
    'DO 0');
PREPARE step FROM @step;
EXECUTE step;
DEALLOCATE PREPARE step;

SET @step = IF(
    (SELECT COUNT(*) FROM information_schema.columns
      WHERE table_schema = DATABASE() AND table_name = 'balance_history'
        AND column_name = 'reason') = 0,
    'ALTER TABLE balance_history ADD COLUMN reason VARCHAR(200) NULL',
    'DO 0');
PREPARE step FROM @step;
EXECUTE step;
DEALLOCATE PREPARE step
