//! Who may use the admin: the [`Owner`] of a request (from the session
//! cookie), the CSRF check of the forms that change something, and the
//! security headers every admin answer carries.

use std::sync::Arc;

use poem::http::{Method, StatusCode, header};
use poem::{FromRequest, Request, RequestBody, Response};

use super::{early, encode, pages, redirect};
use crate::auth::AdminUser;
use crate::session::{COOKIE, Session};
use crate::state::State;

/// Sent with every admin answer.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' https: data:; \
                   connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The security headers of every admin answer (an image's own stricter CSP
/// is kept).
pub(super) fn secure(response: &mut Response) {
    let headers = response.headers_mut();
    for (name, value) in [
        ("content-security-policy", CSP),
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
        ("referrer-policy", "same-origin"),
        ("cache-control", "no-store"),
    ] {
        if name == "content-security-policy" && headers.contains_key(name) {
            continue;
        }
        if let Ok(value) = value.parse() {
            headers.insert(name, value);
        }
    }
}

/// The logged-in owner of a request. As a handler's argument it refuses a
/// request without a valid session with the way to the login page (`303` to
/// `/admin/login?next=…`, back to the page asked for if it was a `GET`).
/// Take `poem::Result<Owner>` to decide later when the refusal applies (after
/// a form is read, so that an unreadable form is a 422 either way), and
/// `Option<Owner>` where a visitor may be anonymous.
pub(super) struct Owner {
    pub(super) user: AdminUser,
    session: Session,
    /// The session's CSRF token, for the page's forms.
    pub(super) csrf: String,
}

impl<'a> FromRequest<'a> for Owner {
    async fn from_request(req: &'a Request, _body: &mut RequestBody) -> poem::Result<Self> {
        let state = req
            .data::<Arc<State>>()
            .ok_or_else(|| poem::Error::from_status(StatusCode::INTERNAL_SERVER_ERROR))?;
        let session = session_cookie(req)
            .and_then(|v| state.sessions.verify(&v))
            .ok_or_else(|| early(to_login(req)))?;
        Ok(Owner {
            user: AdminUser {
                user_id: session.user_id,
                email: session.email.clone(),
            },
            csrf: state.sessions.csrf(&session),
            session,
        })
    }
}

impl Owner {
    /// Whether a form's CSRF token (sent in its body) is this session's; if
    /// not, the page that says so (403).
    pub(super) fn check_csrf(&self, state: &State, token: &str) -> poem::Result<()> {
        if state.sessions.csrf_matches(&self.session, token) {
            Ok(())
        } else {
            Err(early(pages::error(
                StatusCode::FORBIDDEN,
                "This form is out of date or did not come from this site. Go back, reload the page and try again.",
            )))
        }
    }
}

fn session_cookie(req: &Request) -> Option<String> {
    req.headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.to_owned())
}

/// The way to the login page, and back to a page asked for with `GET`.
fn to_login(req: &Request) -> Response {
    let next = req
        .original_uri()
        .path_and_query()
        .map_or("/admin/products", |p| p.as_str());
    let next = if req.method() == Method::GET {
        next
    } else {
        "/admin/products"
    };
    redirect(&format!("/admin/login?next={}", encode(next)))
}
