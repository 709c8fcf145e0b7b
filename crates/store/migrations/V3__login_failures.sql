-- Failed logins, for the api's rate limit per account and per client address
-- (shared by every instance). Rows older than a day are pruned on insert.
CREATE TABLE login_failures (
    key text NOT NULL,
    at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX login_failures_key_at ON login_failures (key, at);
