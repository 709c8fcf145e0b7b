//! Who may use the admin: the [`Owner`] of a request (from the session
//! cookie), the CSRF check of the forms that change something, and the
//! security headers every admin answer carries.

use std::sync::Arc;

use poem::http::{Method, StatusCode};
use poem::{FromRequest, Request, RequestBody, Response};

use super::{early, encode, pages, redirect};
use crate::auth::AdminUser;
use crate::session::{COOKIE, Session, read_cookie};
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
/// request without a live session with the way to the login page (`303` to
/// `/admin/login?next=…`, back to the page asked for if it was a `GET`), and
/// one whose session the store cannot check with a 503 page.
/// Take `poem::Result<Owner>` to decide later when the refusal applies (after
/// a form is read, so that an unreadable form is a 422 either way), and
/// `Option<Owner>` where a visitor may be anonymous.
pub(super) struct Owner {
    pub(super) user: AdminUser,
    pub(super) session: Session,
    /// The session's CSRF token, for the page's forms.
    pub(super) csrf: String,
}

impl<'a> FromRequest<'a> for Owner {
    async fn from_request(req: &'a Request, _body: &mut RequestBody) -> poem::Result<Self> {
        let state = req
            .data::<Arc<State>>()
            .ok_or_else(|| poem::Error::from_status(StatusCode::INTERNAL_SERVER_ERROR))?;
        let token = read_cookie(req.headers(), COOKIE).ok_or_else(|| early(to_login(req)))?;
        let session = crate::auth::session_of(state, &token)
            .await
            .map_err(|e| early(super::failed(e)))?
            .ok_or_else(|| early(to_login(req)))?;
        Ok(Owner {
            user: session.user.clone(),
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
            Err(early(out_of_date()))
        }
    }
}

/// The answer to a form without its CSRF token.
pub(super) fn out_of_date() -> Response {
    pages::error(
        StatusCode::FORBIDDEN,
        "This form is out of date or did not come from this site. Go back, reload the page and try again.",
    )
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
