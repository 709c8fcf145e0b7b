//! `POST /api/session` (log in) and `DELETE /api/session` (log out), with the
//! failed-login limits per account and per client address.

use std::sync::Arc;
use std::time::Duration;

use poem::web::Data;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};

use crate::auth::{Admin, AdminUser, normalize_email, verify_password};
use crate::error::ApiError;
use crate::problem::Problem;
use crate::session::{COOKIE, LIFETIME, Session};
use crate::state::State;

/// Failed logins allowed per account, and per client address, in the window.
pub const FAILURES_PER_ACCOUNT: i64 = 5;
pub const FAILURES_PER_ADDRESS: i64 = 20;
pub const WINDOW_MINUTES: i32 = 15;

/// Verified against when the account does not exist, so both cases take as
/// long.
fn dummy_hash() -> String {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| {
        crate::auth::hash_password("not the password of anyone").unwrap_or_default()
    })
    .clone()
}

#[derive(Debug, Clone, Object)]
pub struct Login {
    pub email: String,
    pub password: String,
}

#[derive(Debug, Clone, Object)]
pub struct LoggedIn {
    pub email: String,
    /// Send it back in `X-CSRF-Token` on every request that changes something.
    pub csrf_token: String,
    /// Seconds until the session expires.
    pub expires_in: u64,
}

#[derive(ApiResponse)]
pub enum LoginResponse {
    /// Logged in; the session cookie is set.
    #[oai(status = 200)]
    Ok(Json<LoggedIn>, #[oai(header = "Set-Cookie")] String),
}

#[derive(ApiResponse)]
pub enum LogoutResponse {
    /// Logged out; the cookie is cleared.
    #[oai(status = 204)]
    Done(#[oai(header = "Set-Cookie")] String),
}

/// Checks an e-mail address and password, with the failed-login limits (429)
/// and one answer (401) whether or not the account exists. The user, their
/// new session and its `Set-Cookie` value.
pub async fn log_in(
    state: &State,
    req: &poem::Request,
    email: &str,
    password: &str,
) -> Result<((AdminUser, Session), String), ApiError> {
    let (address, https) = state.client(req);
    // No account has a NUL in its address (and PostgreSQL refuses one).
    let email = normalize_email(email)
        .unwrap_or_else(|_| email.trim().to_lowercase())
        .replace('\0', "\u{fffd}");
    let account_key = format!("account:{email}");
    let address_key = format!(
        "address:{}",
        address.map_or("unknown".into(), |a| a.to_string())
    );
    let window = Duration::from_secs(60 * WINDOW_MINUTES as u64);
    let store = &state.store;
    let too_many = store.recent_failures(&account_key, window).await? >= FAILURES_PER_ACCOUNT
        || store.recent_failures(&address_key, window).await? >= FAILURES_PER_ADDRESS;
    if too_many {
        return Err(ApiError::TooManyRequests(Json(Problem::new(
            429,
            "Too Many Requests",
            format!("too many failed logins; try again in {WINDOW_MINUTES} minutes"),
        ))));
    }
    let user = store.user_by_email(&email).await?;
    let password = password.to_owned();
    let hash = user
        .as_ref()
        .map_or_else(dummy_hash, |(_, _, hash)| hash.clone());
    let ok = tokio::task::spawn_blocking(move || verify_password(&password, &hash))
        .await
        .unwrap_or(false);
    let Some(user) = user.filter(|_| ok) else {
        store
            .record_failure(&[&account_key, &address_key], window)
            .await?;
        return Err(ApiError::Unauthorized(Json(Problem::new(
            401,
            "Unauthorized",
            "the e-mail address or the password is wrong",
        ))));
    };
    let user = AdminUser {
        user_id: user.0,
        email: user.1,
    };
    let (value, session) = state.sessions.issue(&user);
    Ok(((user, session), cookie(&value, LIFETIME.as_secs(), https)))
}

/// The session cookie's `Set-Cookie` value; `max_age` 0 clears it.
pub fn cookie(value: &str, max_age: u64, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}")
}

pub struct LoginApi;

#[OpenApi(prefix_path = "/api")]
impl LoginApi {
    /// Log in to a browser session. Answers with the same message whether the
    /// account exists or not; too many failures get 429.
    #[oai(path = "/session", method = "post")]
    async fn login(
        &self,
        state: Data<&Arc<State>>,
        req: &poem::Request,
        body: Json<Login>,
    ) -> Result<LoginResponse, ApiError> {
        let (user, set_cookie) = log_in(&state, req, &body.email, &body.password).await?;
        let csrf_token = state.sessions.csrf(&user.1);
        Ok(LoginResponse::Ok(
            Json(LoggedIn {
                email: user.0.email,
                csrf_token,
                expires_in: LIFETIME.as_secs(),
            }),
            set_cookie,
        ))
    }

    /// Log out: clears the session cookie.
    #[oai(path = "/session", method = "delete")]
    async fn logout(
        &self,
        state: Data<&Arc<State>>,
        req: &poem::Request,
        _admin: Admin,
    ) -> Result<LogoutResponse, ApiError> {
        let (_, https) = state.client(req);
        Ok(LogoutResponse::Done(cookie("", 0, https)))
    }
}
