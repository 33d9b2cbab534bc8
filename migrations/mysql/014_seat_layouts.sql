-- boxoffice schema for MySQL, version 14: seat layouts. The same columns as
-- migrations/sqlite/017_seat_layouts.sql (read it for what they mean), added in one ALTER
-- from information_schema so the step is idempotent.
SET @step = IF(
    (SELECT COUNT(*) FROM information_schema.columns
      WHERE table_schema = DATABASE() AND table_name = 'seats'
        AND column_name = 'plan_y') = 0,
    'ALTER TABLE seats
        ADD COLUMN section      VARCHAR(60) NULL,
        ADD COLUMN row_label    VARCHAR(20) NULL,
        ADD COLUMN number_label VARCHAR(20) NULL,
        ADD COLUMN category     VARCHAR(40) NULL,
        ADD COLUMN plan_x       INT NULL,
        ADD COLUMN plan_y       INT NULL',
    'DO 0');
PREPARE step FROM @step;
EXECUTE step;
DEALLOCATE PREPARE step
