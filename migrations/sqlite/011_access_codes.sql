-- boxoffice schema, version 11 (PRAGMA user_version = 11): presale access codes.
--
-- Applied by src/store/sqlite/migrate.rs as migration step 11. One row is one single-use code
-- of one show, made by the admin API (src/domain/access_code.rs). code_hash is the SHA-256 of
-- the code's canonical form; the code itself is shown to the admin once and never stored.
-- used_by and used_at are set together, once, by the conditional update that uses the code up
-- (WHERE used_at IS NULL): the buyer who joined the line with it, and when.
CREATE TABLE access_codes (
    code_hash   BLOB    NOT NULL PRIMARY KEY,
    schedule_id INTEGER NOT NULL REFERENCES schedules (id),
    created_at  INTEGER NOT NULL,
    used_by     INTEGER REFERENCES users (id),
    used_at     INTEGER,
    CHECK ((used_by IS NULL) = (used_at IS NULL))
) WITHOUT ROWID;
-- A show's codes, for counting them.
CREATE INDEX access_codes_by_schedule ON access_codes (schedule_id, used_at);
