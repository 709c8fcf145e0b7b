//! Browser sessions: a signed cookie (HMAC-SHA256 with `SESSION_SECRET`), so
//! any instance behind the load balancer can check it without a lookup, and a
//! CSRF token derived from the session that every state-changing request made
//! with the cookie must send back in `X-CSRF-Token`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use hmac::{Hmac, Mac};
use rand::RngCore as _;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::auth::AdminUser;

/// The cookie's name.
pub const COOKIE: &str = "shopfront_session";
/// The header state-changing requests with the cookie must carry.
pub const CSRF_HEADER: &str = "X-CSRF-Token";
/// How long a session lasts.
pub const LIFETIME: Duration = Duration::from_secs(8 * 3600);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub user_id: i64,
    pub email: String,
    /// Seconds since 1970 after which the session is void.
    pub expires: u64,
    /// Random per session; the CSRF token is derived from it.
    pub nonce: String,
}

/// Signs and checks sessions with the shared secret.
pub struct Sessions {
    key: Vec<u8>,
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
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

    /// A new session for `user`: the cookie's value and the CSRF token.
    pub fn issue(&self, user: &AdminUser) -> (String, Session) {
        let mut nonce = [0u8; 16];
        rand::rng().fill_bytes(&mut nonce);
        let session = Session {
            user_id: user.user_id,
            email: user.email.clone(),
            expires: now() + LIFETIME.as_secs(),
            nonce: B64.encode(nonce),
        };
        let payload = B64.encode(serde_json::to_vec(&session).expect("a session serializes"));
        let signature = B64.encode(
            self.mac(b"session:", payload.as_bytes())
                .finalize()
                .into_bytes(),
        );
        (format!("{payload}.{signature}"), session)
    }

    /// The session a cookie value holds, if it is signed by this secret and
    /// not expired.
    pub fn verify(&self, value: &str) -> Option<Session> {
        let (payload, signature) = value.split_once('.')?;
        let signature = B64.decode(signature).ok()?;
        self.mac(b"session:", payload.as_bytes())
            .verify_slice(&signature)
            .ok()?;
        let session: Session = serde_json::from_slice(&B64.decode(payload).ok()?).ok()?;
        (session.expires > now()).then_some(session)
    }

    /// The CSRF token of a session.
    pub fn csrf(&self, session: &Session) -> String {
        B64.encode(
            self.mac(b"csrf:", session.nonce.as_bytes())
                .finalize()
                .into_bytes(),
        )
    }

    /// Whether `token` is the session's CSRF token (in constant time).
    pub fn csrf_matches(&self, session: &Session, token: &str) -> bool {
        B64.decode(token).ok().is_some_and(|t| {
            self.mac(b"csrf:", session.nonce.as_bytes())
                .verify_slice(&t)
                .is_ok()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user() -> AdminUser {
        AdminUser {
            user_id: 7,
            email: "owner@shop.example".into(),
        }
    }

    #[test]
    fn sessions_are_signed_and_carry_their_csrf_token() {
        let sessions = Sessions::new(&[7u8; 32]).unwrap();
        let (cookie, issued) = sessions.issue(&user());
        let csrf = sessions.csrf(&issued);
        let session = sessions.verify(&cookie).unwrap();
        assert_eq!(session, issued);
        assert_eq!(
            (session.user_id, session.email.as_str()),
            (7, "owner@shop.example")
        );
        assert!(sessions.csrf_matches(&session, &csrf));
        assert!(!sessions.csrf_matches(&session, "forged"));

        let other = Sessions::new(&[8u8; 32]).unwrap();
        assert_eq!(other.verify(&cookie), None, "another secret's cookie");
        let (payload, signature) = cookie.split_once('.').unwrap();
        let mut forged: Session = serde_json::from_slice(&B64.decode(payload).unwrap()).unwrap();
        forged.user_id = 1;
        let forged = format!(
            "{}.{signature}",
            B64.encode(serde_json::to_vec(&forged).unwrap())
        );
        assert_eq!(sessions.verify(&forged), None, "a changed payload");
        assert!(Sessions::new(b"short").is_err());
    }
}
