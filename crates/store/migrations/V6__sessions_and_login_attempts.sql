-- Browser sessions, kept here so that any instance can check one and
-- logging out, a new password or removing the user ends it at once. The
-- cookie holds a random token; only its SHA-256 digest is stored, so reading
-- this table does not give anyone a session.
CREATE TABLE admin_sessions (
    session_sha256 bytea PRIMARY KEY CHECK (length(session_sha256) = 32),
    user_id        bigint NOT NULL REFERENCES admin_users ON DELETE CASCADE,
    created_at     timestamptz NOT NULL DEFAULT now(),
    last_seen_at   timestamptz NOT NULL DEFAULT now(),
    expires_at     timestamptz NOT NULL,
    -- Where the login came from and with which browser, for the owner's list.
    address        varchar(64),
    user_agent     varchar(300)
);
CREATE INDEX admin_sessions_user_id ON admin_sessions (user_id);

-- Login attempts, counted per key (an account and an address together, an
-- address, an account) in a fixed window. One row per key, updated in place
-- under its row lock, so concurrent attempts each see their own count: an
-- attempt is counted before its password is checked, and a burst cannot
-- slip past the limit. Replaces login_failures (one row per failure,
-- counted after the check).
CREATE TABLE login_attempts (
    key            varchar(400) PRIMARY KEY,
    window_start   timestamptz NOT NULL DEFAULT now(),
    window_minutes integer NOT NULL CHECK (window_minutes > 0),
    attempts       integer NOT NULL CHECK (attempts >= 0),
    -- window_start + window_minutes, for pruning by an index.
    expires_at     timestamptz NOT NULL
);
CREATE INDEX login_attempts_expires_at ON login_attempts (expires_at);
DROP TABLE login_failures;
