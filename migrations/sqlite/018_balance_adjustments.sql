-- boxoffice schema, version 18 (PRAGMA user_version = 18): balance adjustments.
--
-- Applied by src/store/sqlite/migrate.rs as migration step 18. The venue credits or debits a
-- balance by hand (POST /api/admin/users/{id}/balance-adjustments): a history row of the new
-- kind 'adjustment' with the signed amount and, in the new column reason, why. SQLite cannot
-- change a CHECK constraint in place, so the table is rebuilt with every row and id kept; no
-- other table refers to it.
CREATE TABLE balance_history_v18 (
    id            INTEGER PRIMARY KEY,
    user_id       INTEGER NOT NULL REFERENCES users (id),
    kind          TEXT    NOT NULL CHECK (kind IN ('charge', 'use', 'refund', 'adjustment')),
    amount        INTEGER NOT NULL,
    balance_after INTEGER NOT NULL CHECK (balance_after >= 0),
    created_at    INTEGER NOT NULL,
    reference     TEXT,
    reason        TEXT
);
INSERT INTO balance_history_v18 (id, user_id, kind, amount, balance_after, created_at, reference)
SELECT id, user_id, kind, amount, balance_after, created_at, reference FROM balance_history;
DROP TABLE balance_history;
ALTER TABLE balance_history_v18 RENAME TO balance_history;
CREATE INDEX balance_history_by_user ON balance_history (user_id, id);
