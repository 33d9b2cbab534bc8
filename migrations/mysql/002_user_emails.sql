-- boxoffice schema for MySQL, version 2: an email address belongs to one user, whatever its
-- case. The same table as migrations/sqlite/005_user_emails.sql (read it for what a row is). Both
-- statements are idempotent, as every step's must be.

CREATE TABLE IF NOT EXISTS user_emails (
    email_key   VARCHAR(254) NOT NULL PRIMARY KEY,
    user_id     BIGINT       NOT NULL,
    UNIQUE KEY user_emails_by_user (user_id),
    CONSTRAINT user_emails_user FOREIGN KEY (user_id) REFERENCES users (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

INSERT IGNORE INTO user_emails (email_key, user_id)
    SELECT LOWER(email), MIN(id) FROM users GROUP BY LOWER(email)
