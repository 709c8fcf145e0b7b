//! Logging in, for the JSON API (`POST /api/session`, out with
//! `DELETE /api/session`) and the admin's form alike: [`log_in`].
//!
//! **A login that holds under attack.**
//! - An e-mail address over 254 bytes, or a password over 1024, is refused
//!   before any work (and counted against the address).
//! - Each attempt is counted *before* its password is checked, in one atomic
//!   step per key, so a burst of concurrent attempts cannot slip past the
//!   limits: every attempt that gets past the login form's CSRF check is
//!   counted against its address, and one that will be checked against its
//!   account and address too.
//! - At most `LOGIN_VERIFIES` password checks (argon2id, 19 MiB each) run at
//!   once; an attempt beyond them gets 503 at once, never a queue, and costs
//!   the owner nothing at the owner's address (see [`log_in`]).
//! - A login that raced a new password, or the user's removal, keeps no
//!   session: the store keeps it only if the checked hash is still the
//!   user's.
//! - **The limits**, and why they are keyed so:
//!   - [`PER_PAIR`] attempts per account *and* address in 15 minutes: a
//!     guesser at one address is stopped on that account without touching
//!     anyone else, so the owner at their own address still logs in.
//!   - [`PER_ADDRESS`] attempts per address in 15 minutes, whatever the
//!     account: one address spraying many accounts.
//!   - [`PER_ACCOUNT`] wrong passwords per account in an hour, from anywhere:
//!     a backstop against guessing from many addresses. Only checked
//!     passwords count here (attempts refused by the other limits are not
//!     guesses), so one address adds at most [`PER_PAIR`] every 15 minutes,
//!     and it takes many addresses to trip. When it trips, addresses the
//!     account logged in from in the last 30 days may still try, so even a
//!     distributed attack does not lock the owner out of their usual place.
//! - An IPv6 client is keyed by its /64, which one subscriber holds whole.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use poem::web::Data;
use poem_openapi::param::Header;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use store::admin::NewSession;

use crate::auth::{Admin, AdminUser, normalize_email, verify_password_in};
use crate::error::ApiError;
use crate::problem::Problem;
use crate::session::{COOKIE, LIFETIME, LOGIN_COOKIE, LOGIN_FORM_LIFETIME, Session, set_cookie};
use crate::state::State;

/// Attempts allowed per account and address in [`WINDOW`].
pub const PER_PAIR: i64 = 5;
/// Attempts allowed per address in [`WINDOW`].
pub const PER_ADDRESS: i64 = 30;
/// Wrong passwords per account in [`ACCOUNT_WINDOW`], from any address.
pub const PER_ACCOUNT: i64 = 50;
pub const WINDOW: Duration = Duration::from_secs(15 * 60);
pub const ACCOUNT_WINDOW: Duration = Duration::from_secs(3600);
/// How long an address the account logged in from stays known.
pub const KNOWN_WINDOW: Duration = Duration::from_secs(30 * 24 * 3600);
/// The longest e-mail address (RFC 5321) and password looked at.
pub const MAX_EMAIL: usize = 254;
pub const MAX_PASSWORD: usize = 1024;
/// Password checks that may run at once unless `LOGIN_VERIFIES` says.
pub const DEFAULT_VERIFIES: usize = 2;

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

#[derive(Debug, Clone, Object)]
pub struct LoginToken {
    /// Send it in `X-CSRF-Token` with `POST /api/session`, along with the
    /// cookie this answer sets.
    pub csrf_token: String,
    /// Seconds it stays valid.
    pub expires_in: u64,
}

#[derive(ApiResponse)]
pub enum LoginTokenResponse {
    /// A login token; its cookie is set.
    #[oai(status = 200)]
    Ok(Json<LoginToken>, #[oai(header = "Set-Cookie")] String),
}

#[derive(ApiResponse)]
pub enum LoginResponse {
    /// Logged in; the session cookie is set.
    #[oai(status = 200)]
    Ok(Json<LoggedIn>, #[oai(header = "Set-Cookie")] String),
}

#[derive(ApiResponse)]
pub enum LogoutResponse {
    /// Logged out; the session is ended and its cookie cleared.
    #[oai(status = 204)]
    Done(#[oai(header = "Set-Cookie")] String),
}

fn problem(status: u16, title: &str, detail: impl Into<String>) -> Json<Problem> {
    Json(Problem::new(status, title, detail))
}

/// The key of an address: an IPv6 address by its /64.
fn address_key(address: Option<IpAddr>) -> String {
    match address {
        Some(IpAddr::V6(v6)) if v6.to_ipv4_mapped().is_none() => {
            let s = v6.segments();
            format!("address:{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        Some(IpAddr::V6(v6)) => format!(
            "address:{}",
            v6.to_ipv4_mapped()
                .unwrap_or(std::net::Ipv4Addr::UNSPECIFIED)
        ),
        Some(ip) => format!("address:{ip}"),
        None => "address:unknown".to_owned(),
    }
}

/// 429, with how long the limit that refused lasts.
fn too_many(window: Duration) -> ApiError {
    ApiError::TooManyRequests(problem(
        429,
        "Too Many Requests",
        format!(
            "too many login attempts; try again in {} minutes",
            window.as_secs() / 60
        ),
    ))
}

/// The login form's token: a new nonce for its cookie, the token, and the
/// cookie's `Set-Cookie`.
pub fn login_token(state: &State, req: &poem::Request) -> (String, String) {
    let (_, https) = state.client(req);
    let nonce = crate::session::new_token();
    let token = state.sessions.login_csrf(&nonce);
    let cookie = set_cookie(LOGIN_COOKIE, &nonce, LOGIN_FORM_LIFETIME.as_secs(), https);
    (token, cookie)
}

/// Whether `token` is the login form's token of this browser.
pub fn login_token_matches(state: &State, req: &poem::Request, token: &str) -> bool {
    let nonce = crate::session::read_cookie(req.headers(), LOGIN_COOKIE).unwrap_or_default();
    state.sessions.login_csrf_matches(&nonce, token)
}

/// Password checks running now, counted inside the checks themselves.
static CHECKING: AtomicUsize = AtomicUsize::new(0);

/// The password checkers: a fixed number of threads of their own, each
/// checking one password at a time in 19 MiB it allocates once and keeps.
/// So the checks' memory is fixed (`LOGIN_VERIFIES` × 19 MiB): asked of the
/// allocator for every check, 19 MiB blocks are kept by it after they are
/// freed (glibc raises its mmap threshold to them), piling up per thread.
pub struct Checkers {
    /// A free checker; taken before a check is handed over.
    pub(crate) free: Arc<tokio::sync::Semaphore>,
    jobs: std::sync::mpsc::SyncSender<Check>,
}

struct Check {
    password: String,
    hash: String,
    /// Held until the check ends, even if the client has gone.
    permit: tokio::sync::OwnedSemaphorePermit,
    done: tokio::sync::oneshot::Sender<bool>,
}

impl Checkers {
    /// `n` checker threads; they end when this is dropped.
    pub fn new(n: usize) -> Self {
        let n = n.max(1);
        let (jobs, queue) = std::sync::mpsc::sync_channel::<Check>(n);
        let queue = Arc::new(std::sync::Mutex::new(queue));
        for i in 0..n {
            let queue = queue.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("password-check-{i}"))
                .spawn(move || {
                    // This thread's memory for every check it makes.
                    let mut memory = Vec::new();
                    loop {
                        let next = queue.lock().unwrap_or_else(|e| e.into_inner()).recv();
                        let Ok(check) = next else { break };
                        let running = CHECKING.fetch_add(1, Ordering::SeqCst) + 1;
                        tracing::debug!(running, "checking a password");
                        let ok = verify_password_in(&check.password, &check.hash, &mut memory);
                        CHECKING.fetch_sub(1, Ordering::SeqCst);
                        drop(check.permit);
                        let _ = check.done.send(ok);
                    }
                });
            if let Err(e) = spawned {
                tracing::error!("could not start a password checker: {e}");
            }
        }
        Self {
            free: Arc::new(tokio::sync::Semaphore::new(n)),
            jobs,
        }
    }

    /// A free checker, or none (at once).
    fn try_take(&self) -> Option<tokio::sync::OwnedSemaphorePermit> {
        self.free.clone().try_acquire_owned().ok()
    }

    /// Checks a password on a checker taken with [`Self::try_take`].
    async fn check(
        &self,
        permit: tokio::sync::OwnedSemaphorePermit,
        password: String,
        hash: String,
    ) -> bool {
        let (done, result) = tokio::sync::oneshot::channel();
        let check = Check {
            password,
            hash,
            permit,
            done,
        };
        // Never full: a permit is a place in the queue of `n`.
        if self.jobs.try_send(check).is_err() {
            return false;
        }
        result.await.unwrap_or(false)
    }
}

/// Hashes the dummy password now, so that the first login does not do it on
/// an async thread.
pub fn warm_up() {
    let _ = dummy_hash();
}

/// Checks an e-mail address and password under the limits above, and
/// answers the same (401) whether or not the account exists. The new session
/// and its `Set-Cookie` value.
///
/// The order matters: the address is counted first, always; a request that
/// finds no free password check (503) is counted there alone, so an attacker
/// who keeps the checks busy cannot spend the owner's attempts at the
/// owner's address; the account-and-address pair is counted only for a
/// request that will be checked.
pub async fn log_in(
    state: &State,
    req: &poem::Request,
    email: &str,
    password: &str,
) -> Result<(Session, String), ApiError> {
    let (address, https) = state.client(req);
    let address_key = address_key(address);
    let store = &state.store;
    if rand::random::<u8>() < 3 {
        // About one attempt in a hundred forgets windows that have passed.
        store.prune_attempts().await?;
    }
    if email.len() > MAX_EMAIL || password.len() > MAX_PASSWORD {
        store.count_attempts(&[(&address_key, WINDOW)], &[]).await?;
        return Err(ApiError::unprocessable(Problem::new(
            422,
            "Unprocessable Content",
            format!(
                "an e-mail address has at most {MAX_EMAIL} bytes, and a password at most {MAX_PASSWORD}"
            ),
        )));
    }
    // No account has a NUL in its address (and PostgreSQL refuses one).
    let normalized = normalize_email(email).ok();
    let email = normalized
        .clone()
        .unwrap_or_else(|| email.trim().to_lowercase())
        .replace('\0', "\u{fffd}");
    let address_text = address_key.trim_start_matches("address:");
    let pair_key = format!("pair:{email}|{address_text}");
    let account_key = format!("account:{email}");
    let known_key = format!("known:{email}|{address_text}");
    let counts: HashMap<String, i64> = store
        .count_attempts(&[(&address_key, WINDOW)], &[&account_key, &known_key])
        .await?;
    let count = |key: &str| counts.get(key).copied().unwrap_or(0);
    if count(&address_key) > PER_ADDRESS {
        return Err(too_many(WINDOW));
    }
    let wrong = || {
        ApiError::Unauthorized(problem(
            401,
            "Unauthorized",
            "the e-mail address or the password is wrong",
        ))
    };
    // Not an address: no account has it, and nothing is worth checking.
    if normalized.is_none() {
        return Err(wrong());
    }
    let Some(permit) = state.checkers.try_take() else {
        return Err(ApiError::Unavailable(problem(
            503,
            "Service Unavailable",
            "too many logins are being checked at once; try again in a few seconds",
        )));
    };
    let pair = store.count_attempts(&[(&pair_key, WINDOW)], &[]).await?;
    if pair.get(&pair_key).copied().unwrap_or(0) > PER_PAIR {
        return Err(too_many(WINDOW));
    }
    if count(&account_key) >= PER_ACCOUNT && count(&known_key) == 0 {
        return Err(too_many(ACCOUNT_WINDOW));
    }
    let user = store.user_by_email(&email).await?;
    let hash = user
        .as_ref()
        .map_or_else(dummy_hash, |(_, _, hash)| hash.clone());
    let checked_hash = hash.clone();
    let ok = state
        .checkers
        .check(permit, password.to_owned(), hash)
        .await;
    let Some((user_id, email, _)) = user.filter(|_| ok) else {
        store
            .count_attempts(&[(&account_key, ACCOUNT_WINDOW)], &[])
            .await?;
        return Err(wrong());
    };
    // The owner's own mistyped attempts from here are forgiven, and the
    // address is known for the next 30 days.
    store.forget_attempts(&[&pair_key, &known_key]).await?;
    store
        .count_attempts(&[(&known_key, KNOWN_WINDOW)], &[])
        .await?;
    let session = Session {
        user: AdminUser { user_id, email },
        token: crate::session::new_token(),
    };
    let user_agent = req.header("user-agent");
    let address = address.map(|a| a.to_string());
    let kept = store
        .create_session(&NewSession {
            sha256: &session.digest(),
            user_id,
            expires_at: chrono::Utc::now()
                + chrono::TimeDelta::from_std(LIFETIME).unwrap_or_default(),
            address: address.as_deref(),
            user_agent,
            password_hash: &checked_hash,
        })
        .await?;
    // The password changed (or the user went) while it was being checked.
    if !kept {
        return Err(wrong());
    }
    tracing::info!(email = %session.user.email, address = ?address, "logged in");
    let cookie = set_cookie(COOKIE, &session.token, LIFETIME.as_secs(), https);
    Ok((session, cookie))
}

/// Ends the request's session, if it has one; the `Set-Cookie` value that
/// clears it.
pub async fn log_out(
    state: &State,
    req: &poem::Request,
    session: Option<&Session>,
) -> Result<String, ApiError> {
    if let Some(session) = session {
        state
            .store
            .end_sessions(session.user.user_id, Some(&session.digest()), None)
            .await?;
    }
    let (_, https) = state.client(req);
    Ok(set_cookie(COOKIE, "", 0, https))
}

pub struct LoginApi;

#[OpenApi(prefix_path = "/api")]
impl LoginApi {
    /// A login token for `POST /api/session`, and the cookie it is bound to,
    /// so that another site cannot log this browser in.
    #[oai(path = "/session/login-token", method = "get")]
    async fn login_token(
        &self,
        state: Data<&Arc<State>>,
        req: &poem::Request,
    ) -> LoginTokenResponse {
        let (csrf_token, cookie) = login_token(&state, req);
        LoginTokenResponse::Ok(
            Json(LoginToken {
                csrf_token,
                expires_in: LOGIN_FORM_LIFETIME.as_secs(),
            }),
            cookie,
        )
    }

    /// Log in to a browser session, with the token from
    /// `GET /api/session/login-token` in `X-CSRF-Token` (403 without it).
    /// Answers with the same message whether the account exists or not; too
    /// many attempts get 429, and 503 while too many are being checked.
    #[oai(path = "/session", method = "post")]
    async fn login(
        &self,
        state: Data<&Arc<State>>,
        req: &poem::Request,
        #[oai(name = "X-CSRF-Token")] csrf: Header<Option<String>>,
        body: Json<Login>,
    ) -> Result<LoginResponse, ApiError> {
        if !login_token_matches(&state, req, csrf.0.as_deref().unwrap_or_default()) {
            return Err(ApiError::Forbidden(problem(
                403,
                "Forbidden",
                "a login needs the token from GET /api/session/login-token in X-CSRF-Token, and its cookie",
            )));
        }
        let (session, set_cookie) = log_in(&state, req, &body.email, &body.password).await?;
        let csrf_token = state.sessions.csrf(&session);
        Ok(LoginResponse::Ok(
            Json(LoggedIn {
                email: session.user.email,
                csrf_token,
                expires_in: LIFETIME.as_secs(),
            }),
            set_cookie,
        ))
    }

    /// Log out: ends the session and clears its cookie.
    #[oai(path = "/session", method = "delete")]
    async fn logout(
        &self,
        state: Data<&Arc<State>>,
        req: &poem::Request,
        admin: Admin,
    ) -> Result<LogoutResponse, ApiError> {
        Ok(LogoutResponse::Done(
            log_out(&state, req, admin.session()).await?,
        ))
    }
}

#[cfg(test)]
mod tests {
    use poem::http::uri::Scheme;
    use poem::web::{LocalAddr, RemoteAddr};

    use super::*;
    use crate::files::testing::Shop;
    use crate::session::Sessions;
    use crate::state::Network;
    use crate::store::Store;

    /// A request from `address`, through a trusted proxy.
    fn from(address: &str) -> poem::Request {
        let (parts, ()) = poem::http::Request::builder()
            .uri("/api/session")
            .header("x-forwarded-for", address)
            .body(())
            .unwrap()
            .into_parts();
        let peer = RemoteAddr(poem::Addr::SocketAddr("127.0.0.1:9".parse().unwrap()));
        let parts = poem::RequestParts::from((parts, LocalAddr::default(), peer, Scheme::HTTP));
        poem::Request::from_parts(parts, poem::Body::empty())
    }

    #[tokio::test]
    async fn the_backstop_spares_the_owner_s_known_address() {
        let shop = Shop::new();
        let hash = crate::auth::hash_password("the owner's password").unwrap();
        shop.files.create_user("owner@shop.example", &hash).unwrap();
        let content = shop.files.content_dir().to_owned();
        let (_dir, files) = shop.into_parts();
        let state = State::new(
            Store::Files(files),
            content,
            Sessions::new(&[7u8; 32]).unwrap(),
            vec![Network::parse("127.0.0.1").unwrap()],
        );
        let status = |r: &Result<(Session, String), ApiError>| match r {
            Ok(_) => 200,
            Err(e) => e.problem().status,
        };
        let owner = "owner@shop.example";
        let home = from("198.51.100.4");
        assert_eq!(
            status(&log_in(&state, &home, owner, "the owner's password").await),
            200
        );
        // Guesses from many addresses, each under its own limits.
        for i in 0..PER_ACCOUNT {
            let r = log_in(
                &state,
                &from(&format!("10.0.{}.{}", i / 200, i % 200)),
                owner,
                "a guess",
            )
            .await;
            assert_eq!(status(&r), 401, "guess {i}");
        }
        let r = log_in(&state, &from("10.9.9.9"), owner, "the owner's password").await;
        assert_eq!(status(&r), 429, "a new address, past the backstop");
        assert!(r.err().unwrap().problem().detail.contains("60 minutes"));
        assert_eq!(
            status(&log_in(&state, &home, owner, "the owner's password").await),
            200,
            "the owner's known address"
        );
        // While every password check is busy, the owner's tries get 503 and
        // cost nothing at the owner's address: once one is free, they log in.
        let busy = state
            .checkers
            .free
            .clone()
            .try_acquire_many_owned(DEFAULT_VERIFIES as u32)
            .unwrap();
        for _ in 0..2 * PER_PAIR {
            let r = log_in(&state, &home, owner, "the owner's password").await;
            assert_eq!(status(&r), 503);
        }
        drop(busy);
        let r = log_in(&state, &home, owner, "the owner's password").await;
        assert_eq!(status(&r), 200);
        // The pair's own limit: the sixth attempt from one address waits.
        let there = || from("203.0.113.9");
        for _ in 0..PER_PAIR {
            assert_eq!(
                status(&log_in(&state, &there(), "nobody@shop.example", "x").await),
                401
            );
        }
        assert_eq!(
            status(&log_in(&state, &there(), "nobody@shop.example", "x").await),
            429
        );
        let long = format!("{}@shop.example", "a".repeat(300));
        assert_eq!(status(&log_in(&state, &there(), &long, "x").await), 422);
    }

    #[test]
    fn addresses_are_keyed_by_their_block() {
        assert_eq!(address_key("192.0.2.7".parse().ok()), "address:192.0.2.7");
        assert_eq!(
            address_key("2001:db8:1:2:aaaa::1".parse().ok()),
            address_key("2001:db8:1:2:bbbb::9".parse().ok()),
        );
        assert_eq!(
            address_key("2001:db8:1:2::1".parse().ok()),
            "address:2001:db8:1:2::/64"
        );
        assert_eq!(
            address_key("::ffff:192.0.2.7".parse().ok()),
            "address:192.0.2.7"
        );
        assert_eq!(address_key(None), "address:unknown");
    }
}
