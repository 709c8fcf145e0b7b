//! The write API's accounts: admin users and their bearer tokens. Passwords
//! arrive hashed (argon2id, by the api); tokens as their SHA-256 digest.

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

pub async fn set_password(
    client: &Client,
    target: &Target,
    email: &str,
    password_hash: &str,
) -> Result<(), AccountError> {
    let n = client
        .execute(
            "UPDATE admin_users SET password_hash = $2, updated_at = now() WHERE email = $1",
            &[&email, &password_hash],
        )
        .await
        .map_err(target.query_error("setting a password"))?;
    if n == 0 {
        return Err(AccountError::NoSuchUser(email.to_owned()));
    }
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

/// Failed logins recorded under `key` in the last `minutes`.
pub async fn recent_failures(
    client: &Client,
    target: &Target,
    key: &str,
    minutes: i32,
) -> Result<i64, DbError> {
    client
        .query_one(
            "SELECT count(*) FROM login_failures WHERE key = $1 AND at > now() - make_interval(mins => $2)",
            &[&key, &minutes],
        )
        .await
        .map(|r| r.get(0))
        .map_err(target.query_error("counting failed logins"))
}

/// Records a failed login under each key, and prunes old records.
pub async fn record_failure(
    client: &Client,
    target: &Target,
    keys: &[&str],
) -> Result<(), DbError> {
    client
        .execute(
            "WITH pruned AS (DELETE FROM login_failures WHERE at < now() - interval '1 day')
             INSERT INTO login_failures (key) SELECT unnest($1::text[])",
            &[&keys],
        )
        .await
        .map(|_| ())
        .map_err(target.query_error("recording a failed login"))
}
