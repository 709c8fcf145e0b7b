//! Authentication: admin users with argon2id password hashes, bearer API
//! tokens stored as SHA-256 digests, and browser sessions kept by the store.

use std::sync::Arc;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::Engine as _;
use poem::Request;
use poem::http::StatusCode;
use poem_openapi::SecurityScheme;
use poem_openapi::auth::{ApiKey, Bearer};
use rand::RngCore as _;
use sha2::{Digest, Sha256};

use crate::session::Session;
use crate::state::State;
use crate::store::StoreError;

/// Passwords shorter than this are refused.
pub const MIN_PASSWORD: usize = 12;

/// The admin a request acts for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminUser {
    pub user_id: i64,
    pub email: String,
}

/// Who may write: a script with an API token, or a browser with a session
/// cookie (and, for anything but a read, its CSRF token).
#[derive(SecurityScheme)]
pub enum Admin {
    Token(TokenAuth),
    Session(SessionAuth),
}

impl Admin {
    pub fn user(&self) -> &AdminUser {
        match self {
            Self::Token(TokenAuth(user)) => user,
            Self::Session(SessionAuth(session)) => &session.user,
        }
    }

    /// The browser session, if the request came with one.
    pub fn session(&self) -> Option<&Session> {
        match self {
            Self::Token(_) => None,
            Self::Session(SessionAuth(session)) => Some(session),
        }
    }
}

/// Who reads: an admin (a token or a session) sees every product; anyone
/// else sees only active ones, as the storefront does, so a draft is not
/// public before it launches. Credentials that do not check out read as
/// anyone's.
#[derive(SecurityScheme)]
pub enum Reader {
    Token(TokenAuth),
    Session(SessionAuth),
    #[oai(fallback)]
    Anyone,
}

impl Reader {
    /// Whether this reader may see drafts and archived products.
    pub fn is_admin(&self) -> bool {
        !matches!(self, Self::Anyone)
    }
}

/// An API token: `Authorization: Bearer sft_...`.
#[derive(SecurityScheme)]
#[oai(ty = "bearer", checker = "check_bearer")]
pub struct TokenAuth(pub AdminUser);

/// The session cookie from `POST /api/session` (named
/// `__Host-shopfront_session` over HTTPS); state-changing requests must also
/// send the session's CSRF token in `X-CSRF-Token`.
#[derive(SecurityScheme)]
#[oai(
    ty = "api_key",
    key_name = "shopfront_session",
    key_in = "cookie",
    checker = "check_session"
)]
pub struct SessionAuth(pub Session);

fn state_of(req: &Request) -> poem::Result<&Arc<State>> {
    req.data::<Arc<State>>()
        .ok_or_else(|| poem::Error::from_status(StatusCode::INTERNAL_SERVER_ERROR))
}

fn unavailable(_: StoreError) -> poem::Error {
    poem::Error::from_string(
        "the account store did not answer; try again shortly",
        StatusCode::SERVICE_UNAVAILABLE,
    )
}

/// The live session a cookie's token names, from the store.
pub async fn session_of(state: &State, token: &str) -> Result<Option<Session>, StoreError> {
    let digest = crate::session::digest(token);
    Ok(state
        .store
        .session_user(&digest)
        .await?
        .map(|(user_id, email)| Session {
            user: AdminUser { user_id, email },
            token: token.to_owned(),
        }))
}

async fn check_session(req: &Request, key: ApiKey) -> poem::Result<Session> {
    let state = state_of(req)?;
    let session = session_of(state, &key.key)
        .await
        .map_err(unavailable)?
        .ok_or_else(|| {
            poem::Error::from_string(
                "the session is not valid, has ended or has expired; log in again",
                StatusCode::UNAUTHORIZED,
            )
        })?;
    let reads = matches!(req.method().as_str(), "GET" | "HEAD" | "OPTIONS");
    if !reads {
        let token = req.header(crate::session::CSRF_HEADER).unwrap_or_default();
        if !state.sessions.csrf_matches(&session, token) {
            return Err(poem::Error::from_string(
                "this request needs the session's CSRF token in X-CSRF-Token",
                StatusCode::FORBIDDEN,
            ));
        }
    }
    Ok(session)
}

async fn check_bearer(req: &Request, bearer: Bearer) -> poem::Result<AdminUser> {
    state_of(req)?
        .store
        .user_for_token(&token_digest(&bearer.token))
        .await
        .map_err(unavailable)?
        .map(|(user_id, email)| AdminUser { user_id, email })
        .ok_or_else(|| {
            poem::Error::from_string(
                "the API token is not valid or was revoked",
                StatusCode::UNAUTHORIZED,
            )
        })
}

pub fn token_digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// A new random API token, shown once.
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!(
        "sft_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("the password is {0} characters long; use at least {MIN_PASSWORD}")]
    TooShort(usize),
    #[error("could not hash the password: {0}")]
    Hash(String),
}

/// An argon2id hash in PHC format.
pub fn hash_password(password: &str) -> Result<String, PasswordError> {
    let length = password.chars().count();
    if length < MIN_PASSWORD {
        return Err(PasswordError::TooShort(length));
    }
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    let salt = SaltString::encode_b64(&bytes).map_err(|e| PasswordError::Hash(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| PasswordError::Hash(e.to_string()))
}

/// The most memory a stored hash may ask a check for (the default asks
/// 19 MiB); a hash asking more is refused rather than checked.
const MAX_CHECK_MEMORY_KIB: u32 = 256 * 1024;

/// Whether `password` matches the PHC `hash`, with the algorithm's memory
/// in `memory` (grown to what the hash asks, and kept for the next check),
/// so that a checker thread holds the same 19 MiB for ever rather than
/// asking the allocator for it, and leaving it behind, on every check.
pub fn verify_password_in(password: &str, hash: &str, memory: &mut Vec<argon2::Block>) -> bool {
    let mut check = || -> Option<bool> {
        let parsed = PasswordHash::new(hash).ok()?;
        let algorithm = argon2::Algorithm::try_from(parsed.algorithm).ok()?;
        let version = match parsed.version {
            Some(v) => argon2::Version::try_from(v).ok()?,
            None => argon2::Version::default(),
        };
        let params = argon2::Params::try_from(&parsed).ok()?;
        if params.m_cost() > MAX_CHECK_MEMORY_KIB {
            return None;
        }
        let mut salt = [0u8; 64];
        let salt = parsed.salt?.decode_b64(&mut salt).ok()?;
        let expected = parsed.hash?;
        let blocks = params.block_count();
        if memory.len() < blocks {
            memory.resize(blocks, argon2::Block::default());
        }
        let mut out = vec![0u8; expected.len()];
        Argon2::new(algorithm, version, params)
            .hash_password_into_with_memory(
                password.as_bytes(),
                salt,
                &mut out,
                &mut memory[..blocks],
            )
            .ok()?;
        // In constant time, as `Output`'s equality is.
        Some(argon2::password_hash::Output::new(&out).ok()? == expected)
    };
    check().unwrap_or(false)
}

pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// An e-mail address as accounts store it: trimmed and lowercase.
pub fn normalize_email(email: &str) -> Result<String, String> {
    let email = email.trim().to_lowercase();
    let valid = email.len() <= 254
        && email.split_once('@').is_some_and(|(user, host)| {
            !user.is_empty() && host.contains('.') && !host.starts_with('.')
        })
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    if valid {
        Ok(email)
    } else {
        Err(format!("{email:?} is not an e-mail address"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_hash_with_argon2id_and_verify() {
        let hash = hash_password("correct horse battery").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery", &hash));
        assert!(!verify_password("wrong horse battery", &hash));
        // The same, in memory kept between checks.
        let mut memory = Vec::new();
        assert!(verify_password_in(
            "correct horse battery",
            &hash,
            &mut memory
        ));
        assert_eq!(memory.len(), 19 * 1024, "19 MiB of 1 KiB blocks");
        assert!(!verify_password_in(
            "wrong horse battery",
            &hash,
            &mut memory
        ));
        assert!(verify_password_in(
            "correct horse battery",
            &hash,
            &mut memory
        ));
        assert!(!verify_password_in("x", "not a hash", &mut memory));
        assert!(matches!(
            hash_password("short"),
            Err(PasswordError::TooShort(5))
        ));
    }

    #[test]
    fn tokens_are_random_and_stored_as_digests() {
        let (a, b) = (new_token(), new_token());
        assert_ne!(a, b);
        assert!(a.starts_with("sft_") && a.len() > 40);
        assert_eq!(token_digest(&a), token_digest(&a));
        assert_eq!(
            normalize_email(" Owner@Shop.Example ").unwrap(),
            "owner@shop.example"
        );
        assert!(normalize_email("no-at-sign").is_err());
    }
}
