-- boxoffice schema, version 2 (PRAGMA user_version = 2): what the in-process waiting room
-- needs to rebuild its lines after a restart.
--
-- Applied by src/store/sqlite/migrate.rs as migration step 2, after schema.sql (step 1). The
-- waiting room writes these tables behind the request path, one transaction per admission
-- tick (src/store/sqlite/waiting_room_state.rs). Times are INTEGER milliseconds since the Unix epoch;
-- token ids are the token's unsigned 64-bit id stored as its two's-complement INTEGER.

-- One waiting line per show: its counters, and the knobs tuned through the admin API (NULL:
-- the start-up setting applies). next_seq is reserved ahead of the seqs handed out; the seqs
-- from journaled_seq up to next_seq may belong to tokens whose join was not saved before a
-- crash. front_seq is the admission watermark: nobody with a lower seq is still waiting.
CREATE TABLE queue_lines (
    schedule_id      INTEGER PRIMARY KEY,
    next_seq         INTEGER NOT NULL CHECK (next_seq >= 1),
    journaled_seq    INTEGER NOT NULL,
    front_seq        INTEGER NOT NULL,
    max_active       INTEGER CHECK (max_active >= 1),
    admit_per_minute INTEGER CHECK (admit_per_minute >= 0),
    paused           INTEGER CHECK (paused IN (0, 1)),
    updated_at       INTEGER NOT NULL
);

-- A buyer waiting in a line, at the place their token's seq says.
CREATE TABLE queue_waiting (
    schedule_id INTEGER NOT NULL,
    seq         INTEGER NOT NULL,
    user_id     INTEGER NOT NULL,
    token_id    INTEGER NOT NULL,
    issued_at   INTEGER NOT NULL,
    PRIMARY KEY (schedule_id, seq)
) WITHOUT ROWID;

-- A session: active until expires_at unless ended_at is set (paid, or ended early). Ended rows
-- are kept while the token still identifies its buyer (balance, receipts), then deleted.
CREATE TABLE queue_sessions (
    schedule_id INTEGER NOT NULL,
    token_id    INTEGER NOT NULL,
    user_id     INTEGER NOT NULL,
    seq         INTEGER NOT NULL,
    issued_at   INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    ended_at    INTEGER,
    PRIMARY KEY (schedule_id, token_id)
) WITHOUT ROWID;
CREATE INDEX queue_sessions_by_end ON queue_sessions (ended_at) WHERE ended_at IS NOT NULL;
