-- boxoffice schema, version 14 (PRAGMA user_version = 14): doors, the scoped credentials
-- that check tickets in.
--
-- Applied by src/store/sqlite/migrate.rs as migration step 14. One row is one door's token
-- (src/domain/door.rs): only its SHA-256 is kept. schedule_id limits the door to one show
-- (NULL: every show); revoked_at ends the token for good.
CREATE TABLE doors (
    id          INTEGER PRIMARY KEY,
    name        TEXT    NOT NULL,
    schedule_id INTEGER REFERENCES schedules (id),
    token_hash  BLOB    NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL,
    revoked_at  INTEGER
);
