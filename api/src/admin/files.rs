//! Files the admin serves: uploaded and shipped images (to the owner only),
//! and its own stylesheet and script.

use std::sync::Arc;

use poem::http::StatusCode;
use poem::web::{Data, Path, Query};
use poem::{Response, handler};
use serde::Deserialize;

use super::{Owner, failed, pages};
use crate::state::State;

#[derive(Deserialize, Default)]
pub(super) struct ImageQuery {
    /// Any value: the small variant, when there is one.
    thumb: Option<String>,
}

/// An upload's small WebP variant from the image cache, if a build has made
/// it: thumbnails of phone photos without sending (or reading) the original.
async fn thumbnail(state: &State, name: &str) -> Option<Response> {
    let (digest, _) = name.split_once('.')?;
    if digest.len() != 64 || !digest.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let (path, format) = state.image_cache.as_ref()?.smallest(digest)?;
    let bytes = tokio::fs::read(&path).await.ok()?;
    Some(
        Response::builder()
            .content_type(format.mime())
            .header("cache-control", "private, max-age=86400")
            .body(bytes),
    )
}

#[handler]
pub(super) async fn image_file(
    state: Data<&Arc<State>>,
    file: Path<String>,
    query: Query<ImageQuery>,
    _owner: Owner,
) -> Response {
    let name = file.0;
    if query.thumb.is_some()
        && let Some(small) = thumbnail(&state, &name).await
    {
        return small;
    }
    let content_type = render::site::content_type_for(&name);
    if !content_type.starts_with("image/") {
        return pages::error(StatusCode::NOT_FOUND, "There is no such image.");
    }
    let plain = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && !name.starts_with('.');
    if !plain {
        return pages::error(StatusCode::NOT_FOUND, "There is no such image.");
    }
    match state.store.image(&name, &state.content_dir).await {
        Ok(Some(bytes)) => Response::builder()
            .content_type(content_type)
            // SVG can carry script; as an image it cannot run, and never as a page.
            .header(
                "content-security-policy",
                "default-src 'none'; style-src 'unsafe-inline'; sandbox",
            )
            .body(bytes),
        Ok(None) => pages::error(StatusCode::NOT_FOUND, "There is no such image."),
        Err(e) => failed(e),
    }
}

#[handler]
pub(super) fn asset(file: Path<String>) -> Response {
    let body = match file.0.as_str() {
        "admin.css" => include_str!("../../assets/admin.css"),
        "admin.js" => include_str!("../../assets/admin.js"),
        _ => return pages::error(StatusCode::NOT_FOUND, "There is no such file."),
    };
    Response::builder()
        .content_type(render::site::content_type_for(&file.0))
        .body(body)
}
