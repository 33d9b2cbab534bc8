-- boxoffice schema, version 15 (PRAGMA user_version = 15): refunds.
--
-- Applied by src/store/sqlite/migrate.rs as migration step 15. One row is one refund of
-- seats of one payment (src/domain/refund.rs): amount is the sum of the prices the seats were
-- paid at, back on the buyer's balance with a 'refund' history row. The seats' tickets get
-- status 'refunded' and refund_id; each ticket turns refunded once (a conditional update), so
-- the refunds of a payment never add up to more than it.
CREATE TABLE refunds (
    id         INTEGER PRIMARY KEY,
    payment_id INTEGER NOT NULL REFERENCES payments (id),
    user_id    INTEGER NOT NULL REFERENCES users (id),
    amount     INTEGER NOT NULL CHECK (amount >= 0),
    created_at INTEGER NOT NULL
);
CREATE INDEX refunds_by_payment ON refunds (payment_id);
ALTER TABLE tickets ADD COLUMN refund_id INTEGER REFERENCES refunds (id);
