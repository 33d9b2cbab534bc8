-- boxoffice schema, version 5: an email address belongs to one user, whatever its case.

-- One row per email address in use. email_key is the address in lower case, as the
-- application writes it; users.email keeps the address as it was given. Users created before
-- this version that share an address (in any case) keep it, and only the first of them is
-- listed here.
CREATE TABLE user_emails (
    email_key   TEXT    NOT NULL PRIMARY KEY,
    user_id     INTEGER NOT NULL UNIQUE REFERENCES users (id)
) WITHOUT ROWID;

INSERT INTO user_emails (email_key, user_id)
    SELECT lower(email), MIN(id) FROM users GROUP BY lower(email);
