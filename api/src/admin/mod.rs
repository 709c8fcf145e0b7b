//! The admin UI at `/admin`: server-rendered pages (Tera) for the shop
//! owner, on the same sessions, stores and validation as the JSON API. Every
//! page works without JavaScript; `admin.js` only adds the live Markdown
//! preview, the search fields' counters and the search-result preview.
//! Every state-changing form carries the session's CSRF token, and every
//! answer carries a strict Content-Security-Policy.
//!
//! - `owner`: who is logged in (the `Owner` extractor), the forms' CSRF
//!   check, and the security headers of every answer;
//! - `login`: logging in and out, and the owner's sessions;
//! - `products`: the list, the create and edit forms, delete, history and
//!   the Markdown preview (the form's reading and checking in `form`);
//! - `preview`: a product's storefront page, rendered for the owner only
//!   (drafts too) and never published, with the theme's assets;
//! - `publishing`: the catalog's versions, the builds, a rebuild;
//! - `import`: the CSV export and import pages (the format is in [`csv`]);
//! - `files`: uploaded images and the admin's own CSS and script;
//! - `pages`: the templates and what they see; [`image`]: uploads.

pub mod csv;
mod files;
mod form;
pub mod image;
mod import;
mod login;
mod owner;
mod pages;
mod preview;
mod products;
mod publishing;
#[cfg(test)]
mod tests;

use catalog::SiteSettings;
use catalog::records::{Filter, Record};
use poem::http::{StatusCode, header};
use poem::{Endpoint, EndpointExt, IntoResponse, Response, Route, get, handler, post};
use serde::Deserialize;

use crate::state::State;
use crate::store::StoreError;
use owner::Owner;

/// The largest CSV import (the file, and the preview's form that sends it
/// back); the admin's other forms take [`crate::MAX_BODY`].
pub const MAX_IMPORT: usize = 4 * 1024 * 1024;
/// The largest product form: its fields and a few new photos at once, each
/// at most [`image::MAX_IMAGE`]; streamed to disk, never held whole.
pub const MAX_FORM_BODY: usize = 64 * 1024 * 1024;

/// The admin's routes, to nest at `/admin`.
pub fn routes() -> impl Endpoint {
    Route::new()
        .at("/", get(home))
        .at("/login", get(login::login_page).post(login::login))
        .at("/logout", post(login::logout))
        .at("/sessions", get(login::sessions))
        .at("/sessions/end", post(login::end_sessions))
        .at("/products", get(products::list))
        .at(
            "/products/new",
            get(products::new_product).post(products::create),
        )
        .at(
            "/products/:id/edit",
            get(products::edit_product).post(products::update),
        )
        .at(
            "/products/:id/delete",
            get(products::confirm_delete).post(products::delete),
        )
        .at("/products/:id/history", get(products::history))
        .at("/products/:id/preview", get(preview::product_preview))
        .at("/preview-assets/*file", get(preview::preview_asset))
        .at("/publishing", get(publishing::publishing))
        .at("/publishing/rebuild", post(publishing::rebuild))
        .at("/export.csv", get(import::export))
        .at(
            "/import",
            get(import::import_page).post(import::import_check),
        )
        .at("/import/apply", post(import::import_apply))
        .at("/preview", post(products::markdown_preview))
        .at("/images/:file", get(files::image_file))
        .at("/assets/:file", get(files::asset))
        .around(|next, req| async move {
            let mut response = match next.call(req).await {
                Ok(r) => r.into_response(),
                // Already an answer: the way to the login page (the
                // `Owner` extractor), a refused form, a missing product.
                Err(e) if e.is_from_response() => e.into_response(),
                Err(e) => {
                    let status = e.status();
                    pages::error(status, &e.to_string())
                }
            };
            owner::secure(&mut response);
            Ok::<_, poem::Error>(response)
        })
}

/// What an admin form over its route's limit is told.
pub fn too_large_message() -> String {
    format!(
        "The form is larger than this page takes. Each image may be at most {} MiB, and \
         one save may add up to {} MiB of them; add fewer at a time, or smaller ones.",
        image::MAX_IMAGE / (1024 * 1024),
        MAX_FORM_BODY / (1024 * 1024)
    )
}

/// The answer to an admin form over `limit` bytes.
pub fn too_large(limit: usize) -> Response {
    let message = if limit >= MAX_FORM_BODY {
        too_large_message()
    } else {
        format!(
            "The form is larger than {} KiB; send less at a time.",
            limit / 1024
        )
    };
    let mut response = pages::error(StatusCode::PAYLOAD_TOO_LARGE, &message);
    owner::secure(&mut response);
    response
}

#[handler]
fn home() -> Response {
    redirect("/admin/products")
}

/// A form whose only field is the CSRF token.
#[derive(Deserialize)]
struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

/// A page's `?done=...`, the action that just finished.
#[derive(Deserialize, Default)]
struct DoneQuery {
    done: Option<String>,
    /// How many things it did, where it says.
    count: Option<u64>,
}

fn redirect(to: &str) -> Response {
    Response::builder()
        .status(StatusCode::SEE_OTHER)
        .header(header::LOCATION, to)
        .finish()
}

/// A page that ends a handler early (`?`), sent as it is by [`routes`].
fn early(page: Response) -> poem::Error {
    poem::Error::from_response(page)
}

/// Percent-encodes a query value.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// An error the store reported, as a page (see [`pages::store_problem`]).
fn failed(e: StoreError) -> Response {
    let (status, detail) = pages::store_problem(e);
    pages::error(status, &detail)
}

fn settings(state: &State) -> Option<SiteSettings> {
    content::load_settings(&state.content_dir.join("site.toml")).ok()
}

/// Every product, read from the primary.
async fn current_catalog(state: &State) -> Result<Vec<Record>, StoreError> {
    let (all, _) = state
        .store
        .list(
            &Filter {
                limit: 100_000,
                ..Filter::default()
            },
            true,
        )
        .await?;
    Ok(all)
}
