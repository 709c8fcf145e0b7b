//! Publishing: whether the storefront shows the latest catalog, the recent
//! builds, and a rebuild on request.

use std::collections::BTreeMap;
use std::sync::Arc;

use poem::http::StatusCode;
use poem::web::{Data, Form, Query};
use poem::{Response, handler};

use super::pages::{self, Page};
use super::{CsrfForm, DoneQuery, Owner, current_catalog, failed, redirect, settings};
use crate::state::State;

#[handler]
pub(super) async fn publishing(
    state: Data<&Arc<State>>,
    q: Query<DoneQuery>,
    owner: Owner,
) -> Response {
    let (wanted, published) = match state.store.catalog_state().await {
        Ok(s) => s,
        Err(e) => return failed(e),
    };
    let builds = match state.store.recent_builds(20).await {
        Ok(b) => b,
        Err(e) => return failed(e),
    };
    let products = current_catalog(&state).await.unwrap_or_default();
    let mut page = Page::new("publishing.html", "Publishing", Some(&owner));
    page.insert("wanted", &wanted);
    page.insert("published", &published);
    page.insert("up_to_date", &(published >= wanted));
    page.insert("builds", &pages::builds(&builds));
    page.insert(
        "products",
        &pages::rows(&products, settings(&state).as_ref()),
    );
    page.flash(q.done.as_deref(), &BTreeMap::new());
    page.render(StatusCode::OK)
}

#[handler]
pub(super) fn rebuild(
    state: Data<&Arc<State>>,
    form: Form<CsrfForm>,
    owner: Owner,
) -> poem::Result<Response> {
    owner.check_csrf(&state, &form.csrf)?;
    state.request_rebuild();
    Ok(redirect("/admin/publishing?done=rebuild"))
}
