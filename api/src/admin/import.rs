//! The CSV pages: the export, and the import in two steps (check and
//! preview, then apply); the format itself is in [`super::csv`].

use std::sync::Arc;

use poem::http::{StatusCode, header};
use poem::web::{Data, Form, Multipart};
use poem::{Response, handler};
use serde::Deserialize;

use super::pages::{self, Page};
use super::{Owner, csv, current_catalog, failed, redirect};
use crate::state::State;
use crate::store::StoreError;

#[handler]
pub(super) async fn export(state: Data<&Arc<State>>, _owner: Owner) -> Response {
    let mut all = match current_catalog(&state).await {
        Ok(found) => found,
        Err(e) => return failed(e),
    };
    all.sort_by_key(|r| r.product_id);
    Response::builder()
        .content_type("text/csv; charset=utf-8")
        .header(
            header::CONTENT_DISPOSITION,
            "attachment; filename=\"products.csv\"",
        )
        .body(csv::export(&all))
}

#[handler]
pub(super) fn import_page(owner: Owner) -> Response {
    Page::new("import.html", "Import CSV", Some(&owner)).render(StatusCode::OK)
}

/// Checks an uploaded CSV file and shows what it would do. The upload is
/// read before the session is looked at, since its CSRF token is in it.
#[handler]
pub(super) async fn import_check(
    state: Data<&Arc<State>>,
    mut multipart: Multipart,
    owner: poem::Result<Owner>,
) -> poem::Result<Response> {
    let mut csrf = String::new();
    let mut text = None;
    loop {
        match multipart.next_field().await {
            Ok(Some(field)) => {
                let name = field.name().unwrap_or_default().to_owned();
                let Ok(bytes) = field.bytes().await else {
                    return Ok(pages::error(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        "The upload could not be read.",
                    ));
                };
                match name.as_str() {
                    "csrf" => csrf = String::from_utf8_lossy(&bytes).into_owned(),
                    "csv" if !bytes.is_empty() => match String::from_utf8(bytes) {
                        Ok(t) => text = Some(t),
                        Err(_) => {
                            return Ok(pages::error(
                                StatusCode::UNPROCESSABLE_ENTITY,
                                "The file is not UTF-8 text; save it as CSV (UTF-8) and try again.",
                            ));
                        }
                    },
                    _ => {}
                }
            }
            Ok(None) => break,
            Err(e) => {
                return Ok(pages::error(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    &format!("The upload could not be read: {e}"),
                ));
            }
        }
    }
    let owner = owner?;
    owner.check_csrf(&state, &csrf)?;
    let Some(text) = text else {
        let mut page = Page::new("import.html", "Import CSV", Some(&owner));
        page.insert("errors", &["Choose a CSV file to import."]);
        return Ok(page.render(StatusCode::UNPROCESSABLE_ENTITY));
    };
    Ok(import_preview(&state, &owner, &text).await)
}

async fn import_preview(state: &State, owner: &Owner, text: &str) -> Response {
    let current = match current_catalog(state).await {
        Ok(c) => c,
        Err(e) => return failed(e),
    };
    let mut page = Page::new("import.html", "Import CSV", Some(owner));
    match csv::check(text, &current) {
        Ok(preview) => {
            page.insert("csv", text);
            page.insert("rows", &pages::import_rows(&preview));
            page.insert("creates", &preview.count(csv::Action::Create));
            page.insert("updates", &preview.count(csv::Action::Update));
            page.insert("unchanged", &preview.count(csv::Action::Unchanged));
            page.render(StatusCode::OK)
        }
        Err(errors) => {
            let errors: Vec<String> = errors.iter().map(ToString::to_string).collect();
            page.insert("errors", &errors);
            page.render(StatusCode::UNPROCESSABLE_ENTITY)
        }
    }
}

#[derive(Deserialize)]
pub(super) struct ApplyForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    csv: String,
}

#[handler]
pub(super) async fn import_apply(
    state: Data<&Arc<State>>,
    form: Form<ApplyForm>,
    owner: Owner,
) -> poem::Result<Response> {
    owner.check_csrf(&state, &form.csrf)?;
    let current = match current_catalog(&state).await {
        Ok(c) => c,
        Err(e) => return Ok(failed(e)),
    };
    let text = form.csv.replace("\r\n", "\n");
    let preview = match csv::check(&text, &current) {
        Ok(p) => p,
        // The catalog changed since the preview in a way that makes a row bad.
        Err(_) => return Ok(import_preview(&state, &owner, &text).await),
    };
    Ok(
        match state
            .store
            .apply_import(&owner.user.email, &preview.plan)
            .await
        {
            Ok(()) => {
                state.catalog_written();
                redirect(&format!(
                    "/admin/products?done=imported&created={}&updated={}&unchanged={}",
                    preview.count(csv::Action::Create),
                    preview.count(csv::Action::Update),
                    preview.count(csv::Action::Unchanged)
                ))
            }
            // A stale version, a slug taken or a product gone since the preview.
            Err(StoreError::Refused(_)) => {
                let mut page = Page::new("import.html", "Import CSV", Some(&owner));
                page.insert(
                    "errors",
                    &["The catalog changed while you looked at the preview, and nothing was imported. Upload the file again to see what it would do now."],
                );
                page.render(StatusCode::PRECONDITION_FAILED)
            }
            Err(e) => failed(e),
        },
    )
}
