//! Browser sessions, kept by the store (PostgreSQL, or the state folder
//! without one), so that any instance can check a session and logging out,
//! a new password or removing the user ends it at once.
//!
//! - The cookie holds a random token; the store keeps only its SHA-256
//!   digest, so reading the store gives nobody a session.
//! - Every state-changing request made with the cookie must send the
//!   session's CSRF token (an HMAC of the token with `SESSION_SECRET`) back,
//!   in `X-CSRF-Token` or a form field.
//! - The login forms carry a CSRF token too, bound to a short-lived login
//!   cookie, so another site cannot log a browser in to an account of its
//!   choosing.
//! - **Cookie names.** Over HTTPS (behind a trusted proxy that says so) the
//!   cookies are `__Host-` prefixed and `Secure`, so a sibling subdomain
//!   cannot plant one; over plain HTTP (a laptop) they have their plain
//!   names. [`normalize_cookies`] maps both to the plain name before any
//!   route looks, and drops the name that does not belong to the request's
//!   scheme.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use hmac::{Hmac, Mac};
use poem::http::{HeaderMap, HeaderValue, header};
use rand::RngCore as _;
use sha2::{Digest, Sha256};

use crate::auth::AdminUser;

/// The session cookie's name, as routes see it.
pub const COOKIE: &str = "shopfront_session";
/// The login form's cookie, which its CSRF token is bound to.
pub const LOGIN_COOKIE: &str = "shopfront_login";
/// The prefix of both names over HTTPS.
pub const HOST_PREFIX: &str = "__Host-";
/// The header state-changing requests with the cookie must carry.
pub const CSRF_HEADER: &str = "X-CSRF-Token";
/// How long a session lasts.
pub const LIFETIME: Duration = Duration::from_secs(8 * 3600);
/// How long a login form may wait to be sent.
pub const LOGIN_FORM_LIFETIME: Duration = Duration::from_secs(3600);

/// A live session: whose it is, and its token (the cookie's value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub user: AdminUser,
    pub token: String,
}

impl Session {
    /// The digest the store knows this session by.
    pub fn digest(&self) -> [u8; 32] {
        digest(&self.token)
    }
}

/// The digest the store keeps of a session token.
pub fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Bytes from hex (what `catalog::hex` writes); pairs that are not hex are
/// skipped.
pub fn unhex(text: &str) -> Vec<u8> {
    (0..text.len() / 2)
        .filter_map(|i| u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok())
        .collect()
}

/// A new random token.
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    B64.encode(bytes)
}

/// Derives CSRF tokens with the shared secret.
pub struct Sessions {
    key: Vec<u8>,
}

impl Sessions {
    /// `secret` must be at least 32 bytes; every instance needs the same one.
    pub fn new(secret: &[u8]) -> Result<Self, String> {
        if secret.len() < 32 {
            return Err(format!(
                "SESSION_SECRET is {} bytes long; use at least 32 random bytes (openssl rand -hex 32), the same on every instance",
                secret.len()
            ));
        }
        Ok(Self {
            key: secret.to_vec(),
        })
    }

    fn mac(&self, purpose: &[u8], data: &[u8]) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(purpose);
        mac.update(data);
        mac
    }

    fn token(&self, purpose: &[u8], data: &str) -> String {
        B64.encode(self.mac(purpose, data.as_bytes()).finalize().into_bytes())
    }

    fn matches(&self, purpose: &[u8], data: &str, token: &str) -> bool {
        B64.decode(token)
            .ok()
            .is_some_and(|t| self.mac(purpose, data.as_bytes()).verify_slice(&t).is_ok())
    }

    /// The CSRF token of a session.
    pub fn csrf(&self, session: &Session) -> String {
        self.token(b"csrf:", &session.token)
    }

    /// Whether `token` is the session's CSRF token (in constant time).
    pub fn csrf_matches(&self, session: &Session, token: &str) -> bool {
        self.matches(b"csrf:", &session.token, token)
    }

    /// The CSRF token of a login form whose cookie holds `nonce`.
    pub fn login_csrf(&self, nonce: &str) -> String {
        self.token(b"login:", nonce)
    }

    pub fn login_csrf_matches(&self, nonce: &str, token: &str) -> bool {
        !nonce.is_empty() && self.matches(b"login:", nonce, token)
    }
}

/// A cookie's name for a request over HTTPS or not.
pub fn cookie_name(name: &str, https: bool) -> String {
    if https {
        format!("{HOST_PREFIX}{name}")
    } else {
        name.to_owned()
    }
}

/// A `Set-Cookie` value: `HttpOnly`, `SameSite=Strict`, the whole site;
/// over HTTPS `__Host-` and `Secure`. `max_age` 0 clears it.
pub fn set_cookie(name: &str, value: &str, max_age: u64, https: bool) -> String {
    let secure = if https { "; Secure" } else { "" };
    format!(
        "{}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}",
        cookie_name(name, https)
    )
}

/// The value of the cookie `name` (as routes see it, after
/// [`normalize_cookies`]).
pub fn read_cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    cookies(headers)
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.to_owned())
}

fn cookies(headers: &HeaderMap) -> impl Iterator<Item = (&str, &str)> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
}

/// Rewrites the request's cookies so that routes see this scheme's session
/// and login cookies under their plain names: over HTTPS only the `__Host-`
/// ones count (a plain one may have been planted by a sibling subdomain);
/// over plain HTTP only the plain ones.
pub fn normalize_cookies(headers: &mut HeaderMap, https: bool) {
    if !headers.contains_key(header::COOKIE) {
        return;
    }
    let ours = [COOKIE, LOGIN_COOKIE];
    let kept: Vec<String> = cookies(headers)
        .filter_map(|(name, value)| {
            let plain = name.strip_prefix(HOST_PREFIX);
            match plain {
                Some(p) if ours.contains(&p) => https.then(|| format!("{p}={value}")),
                None if ours.contains(&name) => (!https).then(|| format!("{name}={value}")),
                _ => Some(format!("{name}={value}")),
            }
        })
        .collect();
    headers.remove(header::COOKIE);
    if let Ok(value) = HeaderValue::from_str(&kept.join("; ")) {
        headers.insert(header::COOKIE, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session() -> Session {
        Session {
            user: AdminUser {
                user_id: 7,
                email: "owner@shop.example".into(),
            },
            token: new_token(),
        }
    }

    #[test]
    fn csrf_tokens_belong_to_their_session_and_secret() {
        let sessions = Sessions::new(&[7u8; 32]).unwrap();
        let (a, b) = (session(), session());
        assert_ne!(a.token, b.token);
        assert_eq!(a.token.len(), 43);
        let csrf = sessions.csrf(&a);
        assert!(sessions.csrf_matches(&a, &csrf));
        assert!(!sessions.csrf_matches(&b, &csrf), "another session's");
        assert!(!sessions.csrf_matches(&a, "forged"));
        let other = Sessions::new(&[8u8; 32]).unwrap();
        assert!(!other.csrf_matches(&a, &csrf), "another secret's");
        assert!(Sessions::new(b"short").is_err());
        // The stored digest is not the token.
        assert_ne!(catalog::hex(&a.digest()), a.token);
    }

    #[test]
    fn login_tokens_are_bound_to_the_login_cookie() {
        let sessions = Sessions::new(&[7u8; 32]).unwrap();
        let token = sessions.login_csrf("nonce-1");
        assert!(sessions.login_csrf_matches("nonce-1", &token));
        assert!(!sessions.login_csrf_matches("nonce-2", &token));
        assert!(!sessions.login_csrf_matches("", &sessions.login_csrf("")));
        assert!(!sessions.login_csrf_matches("nonce-1", &sessions.csrf(&session())));
    }

    #[test]
    fn over_https_only_host_prefixed_cookies_count() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            "theme=dark; shopfront_session=planted; __Host-shopfront_session=real"
                .parse()
                .unwrap(),
        );
        let mut https = headers.clone();
        normalize_cookies(&mut https, true);
        assert_eq!(read_cookie(&https, COOKIE).as_deref(), Some("real"));
        assert_eq!(read_cookie(&https, "theme").as_deref(), Some("dark"));
        normalize_cookies(&mut headers, false);
        assert_eq!(read_cookie(&headers, COOKIE).as_deref(), Some("planted"));
        assert_eq!(
            set_cookie(COOKIE, "v", 60, true),
            "__Host-shopfront_session=v; Path=/; HttpOnly; SameSite=Strict; Max-Age=60; Secure"
        );
        assert_eq!(
            set_cookie(LOGIN_COOKIE, "", 0, false),
            "shopfront_login=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"
        );
    }
}
