//! Files the admin serves: uploaded and shipped images (to the owner only),
//! and its own stylesheet and script.

use std::sync::Arc;

use poem::http::StatusCode;
use poem::web::{Data, Path};
use poem::{Response, handler};

use super::{Owner, failed, pages};
use crate::state::State;

#[handler]
pub(super) async fn image_file(
    state: Data<&Arc<State>>,
    file: Path<String>,
    _owner: Owner,
) -> Response {
    let name = file.0;
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
