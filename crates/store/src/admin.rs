//! The write API's accounts: admin users, their bearer tokens and browser
//! sessions, and the login attempts counted against them. Passwords
//! arrive hashed (argon2id, by the api); tokens as their SHA-256 digest.

use chrono::{DateTime, Utc};
use tokio_postgres::Client;
use tokio_postgres::error::SqlState;

use super::{DbError, Target};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub user_id: i64,
    pub email: String,
    pub password_hash: String,
}

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("there is already an admin user {0}")]
    Exists(String),
    #[error("there is no admin user {0}")]
    NoSuchUser(String),
    #[error(transparent)]
    Db(#[from] DbError),
}

pub async fn create_user(
    client: &Client,
    target: &Target,
    email: &str,
    password_hash: &str,
) -> Result<i64, AccountError> {
    client
        .query_one(
            "INSERT INTO admin_users (email, password_hash) VALUES ($1, $2) RETURNING user_id",
            &[&email, &password_hash],
        )
        .await
        .map(|row| row.get(0))
        .map_err(|e| {
            if e.code() == Some(&SqlState::UNIQUE_VIOLATION) {
                AccountError::Exists(email.to_owned())
            } else {
                AccountError::Db(target.query_error("creating an admin user")(e))
            }
        })
}

/// Sets a user's password and ends every session they have, in one
/// transaction: the update first, which waits for a login keeping its
/// session with the old hash (`create_session` locks the user's row), then
/// the delete, which sees that session; a login after the update finds the
/// new hash and keeps nothing.
pub async fn set_password(
    client: &mut Client,
    target: &Target,
    email: &str,
    password_hash: &str,
) -> Result<(), AccountError> {
    let failed = || target.query_error("setting a password");
    let tx = client.transaction().await.map_err(failed())?;
    let user = tx
        .query_opt(
            "UPDATE admin_users SET password_hash = $2, updated_at = now() WHERE email = $1
             RETURNING user_id",
            &[&email, &password_hash],
        )
        .await
        .map_err(failed())?;
    let Some(user) = user else {
        return Err(AccountError::NoSuchUser(email.to_owned()));
    };
    let user_id: i64 = user.get(0);
    tx.execute("DELETE FROM admin_sessions WHERE user_id = $1", &[&user_id])
        .await
        .map_err(failed())?;
    tx.commit().await.map_err(failed())?;
    Ok(())
}

pub async fn user_by_email(
    client: &Client,
    target: &Target,
    email: &str,
) -> Result<Option<User>, DbError> {
    let row = client
        .query_opt(
            "SELECT user_id, email, password_hash FROM admin_users WHERE email = $1",
            &[&email],
        )
        .await
        .map_err(target.query_error("reading an admin user"))?;
    Ok(row.map(|r| User {
        user_id: r.get(0),
        email: r.get(1),
        password_hash: r.get(2),
    }))
}

/// Stores a new token's digest for the user; returns the token's id.
pub async fn create_token(
    client: &Client,
    target: &Target,
    email: &str,
    name: &str,
    sha256: &[u8],
) -> Result<i64, AccountError> {
    let row = client
        .query_opt(
            "INSERT INTO api_tokens (user_id, token_sha256, name)
             SELECT user_id, $2, $3 FROM admin_users WHERE email = $1 RETURNING token_id",
            &[&email, &sha256, &name],
        )
        .await
        .map_err(target.query_error("creating an API token"))?;
    row.map(|r| r.get(0))
        .ok_or_else(|| AccountError::NoSuchUser(email.to_owned()))
}

/// The user a live (unrevoked) token belongs to, noting its use.
pub async fn user_for_token(
    client: &Client,
    target: &Target,
    sha256: &[u8],
) -> Result<Option<(i64, String)>, DbError> {
    let row = client
        .query_opt(
            "UPDATE api_tokens t SET last_used_at = now()
             FROM admin_users u
             WHERE t.token_sha256 = $1 AND t.revoked_at IS NULL AND u.user_id = t.user_id
             RETURNING u.user_id, u.email",
            &[&sha256],
        )
        .await
        .map_err(target.query_error("checking an API token"))?;
    Ok(row.map(|r| (r.get(0), r.get(1))))
}

/// Revokes a token by id; false if there is no live token with that id.
pub async fn revoke_token(
    client: &Client,
    target: &Target,
    token_id: i64,
) -> Result<bool, DbError> {
    client
        .execute(
            "UPDATE api_tokens SET revoked_at = now() WHERE token_id = $1 AND revoked_at IS NULL",
            &[&token_id],
        )
        .await
        .map(|n| n == 1)
        .map_err(target.query_error("revoking an API token"))
}

/// A browser session as the owner's list shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRow {
    /// SHA-256 of the session's token (not the token: it cannot be used).
    pub sha256: Vec<u8>,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub address: Option<String>,
    pub user_agent: Option<String>,
}

/// A new session's facts.
#[derive(Debug, Clone)]
pub struct NewSession<'a> {
    pub sha256: &'a [u8],
    pub user_id: i64,
    pub expires_at: DateTime<Utc>,
    pub address: Option<&'a str>,
    pub user_agent: Option<&'a str>,
    /// The password hash the login was checked against: the session is kept
    /// only if it is still the user's, so a login that raced a new password
    /// (or the user's removal) keeps nothing.
    pub password_hash: &'a str,
}

/// Keeps a new session (and forgets expired ones); false if the user's
/// password changed since the login checked it, or the user is gone.
pub async fn create_session(
    client: &Client,
    target: &Target,
    session: &NewSession<'_>,
) -> Result<bool, DbError> {
    let clip =
        |text: Option<&str>, max: usize| text.map(|t| t.chars().take(max).collect::<String>());
    client
        .execute(
            "WITH expired AS (DELETE FROM admin_sessions WHERE expires_at <= now())
             INSERT INTO admin_sessions (session_sha256, user_id, expires_at, address, user_agent)
             SELECT $1, user_id, $3, $4, $5 FROM admin_users
             WHERE user_id = $2 AND password_hash = $6
             FOR SHARE",
            &[
                &session.sha256,
                &session.user_id,
                &session.expires_at,
                &clip(session.address, 64),
                &clip(session.user_agent, 300),
                &session.password_hash,
            ],
        )
        .await
        .map(|n| n == 1)
        .map_err(target.query_error("keeping a new session"))
}

/// The user of a live session, noting (at most once a minute) that it was
/// seen.
pub async fn session_user(
    client: &Client,
    target: &Target,
    sha256: &[u8],
) -> Result<Option<(i64, String)>, DbError> {
    let row = client
        .query_opt(
            "WITH live AS (
                 SELECT s.session_sha256, u.user_id, u.email
                 FROM admin_sessions s JOIN admin_users u USING (user_id)
                 WHERE s.session_sha256 = $1 AND s.expires_at > now()
             ), seen AS (
                 UPDATE admin_sessions SET last_seen_at = now()
                 WHERE session_sha256 IN (SELECT session_sha256 FROM live)
                   AND last_seen_at < now() - interval '1 minute'
             )
             SELECT user_id, email FROM live",
            &[&sha256],
        )
        .await
        .map_err(target.query_error("checking a session"))?;
    Ok(row.map(|r| (r.get(0), r.get(1))))
}

/// A user's live sessions, the most recently seen first.
pub async fn sessions_of(
    client: &Client,
    target: &Target,
    user_id: i64,
) -> Result<Vec<SessionRow>, DbError> {
    let rows = client
        .query(
            "SELECT session_sha256, created_at, last_seen_at, expires_at, address, user_agent
             FROM admin_sessions WHERE user_id = $1 AND expires_at > now()
             ORDER BY last_seen_at DESC",
            &[&user_id],
        )
        .await
        .map_err(target.query_error("listing sessions"))?;
    Ok(rows
        .iter()
        .map(|r| SessionRow {
            sha256: r.get(0),
            created_at: r.get(1),
            last_seen_at: r.get(2),
            expires_at: r.get(3),
            address: r.get(4),
            user_agent: r.get(5),
        })
        .collect())
}

/// Ends sessions of `user_id`: the one with digest `only`, or, without it,
/// every one but `except`'s. Returns how many ended.
pub async fn end_sessions(
    client: &Client,
    target: &Target,
    user_id: i64,
    only: Option<&[u8]>,
    except: Option<&[u8]>,
) -> Result<u64, DbError> {
    client
        .execute(
            "DELETE FROM admin_sessions WHERE user_id = $1
               AND ($2::bytea IS NULL OR session_sha256 = $2)
               AND ($3::bytea IS NULL OR session_sha256 <> $3)",
            &[&user_id, &only, &except],
        )
        .await
        .map_err(target.query_error("ending sessions"))
}

/// Removes an admin user, with their sessions and tokens.
pub async fn remove_user(
    client: &Client,
    target: &Target,
    email: &str,
) -> Result<(), AccountError> {
    let n = client
        .execute("DELETE FROM admin_users WHERE email = $1", &[&email])
        .await
        .map_err(target.query_error("removing an admin user"))?;
    if n == 0 {
        return Err(AccountError::NoSuchUser(email.to_owned()));
    }
    Ok(())
}

/// Counts an attempt under each of `hits` (a key and its window in
/// minutes), in one statement: each key's row is updated under its lock, so
/// concurrent attempts each get a count of their own. A key whose window has
/// passed starts again at 1. Also reads the counts of `peek`'s keys (within
/// their windows) without counting. Returns every key's count.
pub async fn count_attempts(
    client: &Client,
    target: &Target,
    hits: &[(&str, i32)],
    peek: &[&str],
) -> Result<Vec<(String, i64)>, DbError> {
    // Rows are locked in key order, so two attempts never wait on each other
    // in a cycle.
    let mut hits = hits.to_vec();
    hits.sort_unstable();
    let (keys, windows): (Vec<&str>, Vec<i32>) = hits.into_iter().unzip();
    let rows = client
        .query(
            "WITH hit AS (
                 INSERT INTO login_attempts AS a (key, window_minutes, attempts, expires_at)
                 SELECT k, m, 1, now() + make_interval(mins => m)
                 FROM unnest($1::text[], $2::int[]) AS t(k, m) ORDER BY k
                 ON CONFLICT (key) DO UPDATE SET
                     attempts = CASE WHEN a.expires_at <= now() THEN 1 ELSE a.attempts + 1 END,
                     window_start = CASE WHEN a.expires_at <= now() THEN now() ELSE a.window_start END,
                     expires_at = CASE WHEN a.expires_at <= now() THEN EXCLUDED.expires_at ELSE a.expires_at END,
                     window_minutes = EXCLUDED.window_minutes
                 RETURNING key, attempts
             )
             SELECT key, attempts::bigint FROM hit
             UNION ALL
             SELECT key, attempts::bigint FROM login_attempts
             WHERE key = ANY($3) AND NOT key = ANY($1) AND expires_at > now()",
            &[&keys, &windows, &peek],
        )
        .await
        .map_err(target.query_error("counting login attempts"))?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// Forgets up to 1000 attempt counts whose windows have passed, skipping rows
/// another attempt holds.
pub async fn prune_attempts(client: &Client, target: &Target) -> Result<u64, DbError> {
    client
        .execute(
            "DELETE FROM login_attempts WHERE key IN (
                 SELECT key FROM login_attempts WHERE expires_at < now()
                 LIMIT 1000 FOR UPDATE SKIP LOCKED)",
            &[],
        )
        .await
        .map_err(target.query_error("pruning login attempts"))
}

/// Forgets the attempts counted under `keys`.
pub async fn forget_attempts(
    client: &Client,
    target: &Target,
    keys: &[&str],
) -> Result<(), DbError> {
    client
        .execute("DELETE FROM login_attempts WHERE key = ANY($1)", &[&keys])
        .await
        .map(|_| ())
        .map_err(target.query_error("forgetting login attempts"))
}
