//! What can go wrong in a render, and a template error told with the
//! template's name and where it came from (the theme, or the site's override).

use std::error::Error as _;
use std::fmt::Write as _;

use crate::Theme;

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("template {name} ({origin}): {detail}\nfix the template and build again")]
    Template {
        name: String,
        origin: String,
        detail: String,
    },
    #[error("the theme has no {name}; add it to the theme's templates/ folder")]
    MissingTemplate { name: &'static str },
    #[error("rendering {url} with {template} failed{}: {detail}", line.map(|l| format!(" near line {l} of {origin}")).unwrap_or_else(|| format!(" ({origin})")))]
    Page {
        url: String,
        template: String,
        origin: String,
        line: Option<usize>,
        detail: String,
    },
    #[error("static file {key} would overwrite a generated page; rename it")]
    Collision { key: String },
    #[error("cannot serialise {what}: {source}")]
    Json {
        what: &'static str,
        source: serde_json::Error,
    },
}

pub(crate) fn error_chain(e: &tera::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let _ = write!(text, ": {s}");
        source = s.source();
    }
    text
}

pub(crate) fn template_error(theme: &Theme, e: &tera::Error) -> RenderError {
    let detail = error_chain(e);
    let name = theme
        .templates
        .keys()
        .find(|n| detail.contains(&format!("'{n}'")) || detail.contains(&format!("\"{n}\"")))
        .cloned();
    let name = name.unwrap_or_else(|| "(unknown)".into());
    let origin = theme
        .origins
        .get(&name)
        .cloned()
        .unwrap_or_else(|| name.clone());
    RenderError::Template {
        name,
        origin,
        detail,
    }
}
