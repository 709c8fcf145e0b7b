//! Logging in to the admin and out of it, and the owner's sessions.

use std::collections::BTreeMap;
use std::sync::Arc;

use poem::http::{StatusCode, header};
use poem::web::{Data, Form, Query};
use poem::{Request, Response, handler};
use serde::{Deserialize, Serialize};

use super::pages::{self, Page};
use super::{CsrfForm, DoneQuery, Owner, redirect};
use crate::state::State;

#[derive(Deserialize, Default)]
pub(super) struct LoginQuery {
    next: Option<String>,
    done: Option<String>,
}

/// The login form, with its CSRF token (and the cookie it is bound to);
/// someone logged in already goes to the products.
#[handler]
pub(super) fn login_page(
    req: &Request,
    state: Data<&Arc<State>>,
    q: Query<LoginQuery>,
    owner: Option<Owner>,
) -> Response {
    if owner.is_some() {
        return redirect("/admin/products");
    }
    let mut page = Page::new("login.html", "Log in", None);
    page.insert("next", &safe_next(q.next.as_deref()));
    page.flash(q.done.as_deref(), &BTreeMap::new());
    login_form(&state, req, page, StatusCode::OK)
}

/// Renders the login form with a new CSRF token and its cookie.
fn login_form(state: &State, req: &Request, mut page: Page, status: StatusCode) -> Response {
    let (token, cookie) = crate::login::login_token(state, req);
    page.insert("login_csrf", &token);
    let mut response = page.render(status);
    if let Ok(value) = cookie.parse() {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

/// Only paths inside the admin are followed after a login.
fn safe_next(next: Option<&str>) -> String {
    next.filter(|n| n.starts_with("/admin/") && !n.starts_with("//") && !n.contains('\\'))
        .unwrap_or("/admin/products")
        .to_owned()
}

#[derive(Deserialize)]
pub(super) struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    csrf: String,
    next: Option<String>,
}

#[handler]
pub(super) async fn login(
    req: &Request,
    state: Data<&Arc<State>>,
    form: Form<LoginForm>,
) -> Response {
    let mut page = Page::new("login.html", "Log in", None);
    page.insert("next", &safe_next(form.next.as_deref()));
    page.insert("email", &form.email);
    if !crate::login::login_token_matches(&state, req, &form.csrf) {
        page.insert(
            "error",
            "This login form is out of date or did not come from this site. Log in again here.",
        );
        return login_form(&state, req, page, StatusCode::FORBIDDEN);
    }
    match crate::login::log_in(&state, req, &form.email, &form.password).await {
        Ok((_, set_cookie)) => {
            let mut response = redirect(&safe_next(form.next.as_deref()));
            if let Ok(value) = set_cookie.parse() {
                response.headers_mut().append(header::SET_COOKIE, value);
            }
            // The login form's cookie has served.
            let (_, https) = state.client(req);
            let spent = crate::session::set_cookie(crate::session::LOGIN_COOKIE, "", 0, https);
            if let Ok(value) = spent.parse() {
                response.headers_mut().append(header::SET_COOKIE, value);
            }
            response
        }
        Err(e) => {
            let (status, detail) = pages::problem_of(e);
            let message = if status == StatusCode::UNAUTHORIZED {
                "The e-mail address or the password is wrong.".to_owned()
            } else {
                capitalize(&detail)
            };
            page.insert("error", &message);
            login_form(&state, req, page, status)
        }
    }
}

fn capitalize(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => format!(
            "{}{}.",
            first.to_uppercase(),
            chars.as_str().trim_end_matches('.')
        ),
        None => String::new(),
    }
}

/// Logging out ends the session in the store, not only in this browser.
#[handler]
pub(super) async fn logout(
    req: &Request,
    state: Data<&Arc<State>>,
    form: Form<CsrfForm>,
    owner: Owner,
) -> poem::Result<Response> {
    owner.check_csrf(&state, &form.csrf)?;
    let cookie = match crate::login::log_out(&state, req, Some(&owner.session)).await {
        Ok(cookie) => cookie,
        Err(e) => {
            let (status, detail) = pages::problem_of(e);
            return Ok(pages::error(status, &detail));
        }
    };
    let mut response = redirect("/admin/login?done=logged-out");
    if let Ok(value) = cookie.parse() {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    Ok(response)
}

/// A session as the list shows it.
#[derive(Serialize)]
struct SessionView {
    id: String,
    this: bool,
    created: String,
    last_seen: String,
    expires: String,
    address: String,
    browser: String,
}

/// The owner's sessions: when, from where and which browser.
#[handler]
pub(super) async fn sessions(
    state: Data<&Arc<State>>,
    q: Query<DoneQuery>,
    owner: Owner,
) -> Response {
    let rows = match state.store.sessions_of(owner.user.user_id).await {
        Ok(rows) => rows,
        Err(e) => return super::failed(e),
    };
    let this = owner.session.digest();
    let time = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%d %H:%M UTC").to_string();
    let views: Vec<SessionView> = rows
        .iter()
        .map(|r| SessionView {
            id: catalog::hex(&r.sha256),
            this: r.sha256 == this,
            created: time(r.created_at),
            last_seen: time(r.last_seen_at),
            expires: time(r.expires_at),
            address: r.address.clone().unwrap_or_else(|| "unknown".into()),
            browser: browser(r.user_agent.as_deref()),
        })
        .collect();
    let mut page = Page::new("sessions.html", "Sessions", Some(&owner));
    let mut args = BTreeMap::new();
    args.insert("count", q.count.unwrap_or(0).to_string());
    page.flash(q.done.as_deref(), &args);
    page.insert("sessions", &views);
    page.render(StatusCode::OK)
}

/// A user agent in a few words: the browser and the system.
fn browser(agent: Option<&str>) -> String {
    let Some(agent) = agent.filter(|a| !a.trim().is_empty()) else {
        return "unknown".into();
    };
    let name = [
        ("Edg/", "Edge"),
        ("OPR/", "Opera"),
        ("Firefox/", "Firefox"),
        ("Chrome/", "Chrome"),
        ("Safari/", "Safari"),
        ("curl/", "curl"),
    ]
    .iter()
    .find(|(mark, _)| agent.contains(mark))
    .map(|(_, name)| *name);
    let system = [
        ("iPhone", "iPhone"),
        ("iPad", "iPad"),
        ("Android", "Android"),
        ("Mac OS X", "macOS"),
        ("Windows", "Windows"),
        ("Linux", "Linux"),
    ]
    .iter()
    .find(|(mark, _)| agent.contains(mark))
    .map(|(_, name)| *name);
    match (name, system) {
        (Some(n), Some(s)) => format!("{n} on {s}"),
        (Some(n), None) => n.to_owned(),
        _ => agent.chars().take(60).collect(),
    }
}

#[derive(Deserialize)]
pub(super) struct EndForm {
    #[serde(default)]
    csrf: String,
    /// One session's id; none: every session but this one.
    session: Option<String>,
}

/// Ends one of the owner's sessions, or every one but this.
#[handler]
pub(super) async fn end_sessions(
    state: Data<&Arc<State>>,
    form: Form<EndForm>,
    owner: Owner,
) -> poem::Result<Response> {
    owner.check_csrf(&state, &form.csrf)?;
    let this = owner.session.digest();
    let one = form.session.as_deref().map(crate::session::unhex);
    let ended = state
        .store
        .end_sessions(owner.user.user_id, one.as_deref(), Some(&this))
        .await;
    Ok(match ended {
        Ok(n) => redirect(&format!("/admin/sessions?done=sessions-ended&count={n}")),
        Err(e) => super::failed(e),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn browsers_are_named_in_a_few_words() {
        let chrome = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36";
        assert_eq!(browser(Some(chrome)), "Chrome on Linux");
        let iphone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1";
        assert_eq!(browser(Some(iphone)), "Safari on iPhone");
        assert_eq!(browser(Some("curl/8.5.0")), "curl");
        assert_eq!(browser(None), "unknown");
        assert_eq!(crate::session::unhex("00ff10"), [0, 255, 16]);
    }
}
