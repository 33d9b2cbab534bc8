-- boxoffice schema for MySQL, version 4: buyers sign in with a password, or are vouched for
-- by a JWT. The same tables as migrations/sqlite/007_buyer_sign_in.sql (read it for what a row is).
-- Every statement is idempotent, as every step's must be.

CREATE TABLE IF NOT EXISTS user_passwords (
    user_id       BIGINT       NOT NULL PRIMARY KEY,
    password_hash VARCHAR(255) NOT NULL,
    CONSTRAINT user_passwords_user FOREIGN KEY (user_id) REFERENCES users (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE IF NOT EXISTS buyer_sessions (
    token_hash  BINARY(32)   NOT NULL PRIMARY KEY,
    user_id     BIGINT       NOT NULL,
    created_at  BIGINT       NOT NULL,
    expires_at  BIGINT       NOT NULL,
    KEY buyer_sessions_by_expiry (expires_at),
    CONSTRAINT buyer_sessions_user FOREIGN KEY (user_id) REFERENCES users (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE IF NOT EXISTS user_subjects (
    subject     VARCHAR(255) NOT NULL PRIMARY KEY,
    user_id     BIGINT       NOT NULL,
    UNIQUE KEY user_subjects_by_user (user_id),
    CONSTRAINT user_subjects_user FOREIGN KEY (user_id) REFERENCES users (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin
