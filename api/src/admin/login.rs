//! Logging in to the admin and out of it.

use std::collections::BTreeMap;
use std::sync::Arc;

use poem::http::{StatusCode, header};
use poem::web::{Data, Form, Query};
use poem::{Request, Response, handler};
use serde::Deserialize;

use super::pages::{self, Page};
use super::{CsrfForm, Owner, redirect};
use crate::state::State;

#[derive(Deserialize, Default)]
pub(super) struct LoginQuery {
    next: Option<String>,
    done: Option<String>,
}

/// The login form; someone logged in already goes to the products.
#[handler]
pub(super) fn login_page(q: Query<LoginQuery>, owner: Option<Owner>) -> Response {
    if owner.is_some() {
        return redirect("/admin/products");
    }
    let mut page = Page::new("login.html", "Log in", None);
    page.insert("next", &safe_next(q.next.as_deref()));
    page.flash(q.done.as_deref(), &BTreeMap::new());
    page.render(StatusCode::OK)
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
    next: Option<String>,
}

#[handler]
pub(super) async fn login(
    req: &Request,
    state: Data<&Arc<State>>,
    form: Form<LoginForm>,
) -> Response {
    match crate::login::log_in(&state, req, &form.email, &form.password).await {
        Ok((_, set_cookie)) => {
            let mut response = redirect(&safe_next(form.next.as_deref()));
            if let Ok(value) = set_cookie.parse() {
                response.headers_mut().insert(header::SET_COOKIE, value);
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
            let mut page = Page::new("login.html", "Log in", None);
            page.insert("next", &safe_next(form.next.as_deref()));
            page.insert("email", &form.email);
            page.insert("error", &message);
            page.render(status)
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

#[handler]
pub(super) fn logout(
    req: &Request,
    state: Data<&Arc<State>>,
    form: Form<CsrfForm>,
    owner: Owner,
) -> poem::Result<Response> {
    owner.check_csrf(&state, &form.csrf)?;
    let (_, https) = state.client(req);
    let mut response = redirect("/admin/login?done=logged-out");
    if let Ok(value) = crate::login::cookie("", 0, https).parse() {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    Ok(response)
}
