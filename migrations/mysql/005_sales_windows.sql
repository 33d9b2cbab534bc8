-- boxoffice schema for MySQL, version 5: sales windows. The same columns as
-- migrations/sqlite/008_sales_windows.sql (read it for what they mean).
--
-- Each column is added from information_schema, as in 003_purchase_limits.sql, so the step
-- is idempotent; the shows it finds get their window once, while sales_end is still the
-- column's default 0 (a show created later never has a 0 end).

SET @step = IF(
    (SELECT COUNT(*) FROM information_schema.columns
      WHERE table_schema = DATABASE() AND table_name = 'schedules'
        AND column_name = 'sales_start') = 0,
    'ALTER TABLE schedules ADD COLUMN sales_start BIGINT NOT NULL DEFAULT 0',
    'DO 0');
PREPARE step FROM @step;
EXECUTE step;
DEALLOCATE PREPARE step;

SET @step = IF(
    (SELECT COUNT(*) FROM information_schema.columns
      WHERE table_schema = DATABASE() AND table_name = 'schedules'
        AND column_name = 'sales_end') = 0,
    'ALTER TABLE schedules ADD COLUMN sales_end BIGINT NOT NULL DEFAULT 0',
    'DO 0');
PREPARE step FROM @step;
EXECUTE step;
DEALLOCATE PREPARE step;

UPDATE schedules sc
  JOIN concerts c ON c.id = sc.concert_id
   SET sc.sales_start = LEAST(sc.start_time, c.created_at),
       sc.sales_end = sc.start_time
 WHERE sc.sales_end = 0
