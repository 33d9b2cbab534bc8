-- boxoffice schema, version 7: buyers sign in with a password, or are vouched for by a JWT.

-- The password of a buyer account that has one, as an Argon2id PHC string. Accounts created
-- without a password (by the admin API, or before this version) have no row and cannot sign
-- in with one.
CREATE TABLE user_passwords (
    user_id       INTEGER NOT NULL PRIMARY KEY REFERENCES users (id),
    password_hash TEXT    NOT NULL
);

-- A signed-in session of a buyer. token_hash is the SHA-256 of the session token; the token
-- itself is only ever known to the buyer. Signing out deletes the row.
CREATE TABLE buyer_sessions (
    token_hash  BLOB    NOT NULL PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users (id),
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
) WITHOUT ROWID;
-- The purge of expired sessions.
CREATE INDEX buyer_sessions_by_expiry ON buyer_sessions (expires_at);

-- The user a JWT's `sub` stands for (`--buyer-auth jwt`), made on first sight of it.
CREATE TABLE user_subjects (
    subject     TEXT    NOT NULL PRIMARY KEY,
    user_id     INTEGER NOT NULL UNIQUE REFERENCES users (id)
) WITHOUT ROWID;
