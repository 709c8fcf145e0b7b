//! RFC 9457 problem details: every error the api returns.

use poem_openapi::Object;

/// One field that failed validation.
#[derive(Debug, Clone, PartialEq, Eq, Object)]
pub struct FieldError {
    /// The field's name in the request body.
    pub field: String,
    /// What is wrong and what is expected.
    pub message: String,
}

/// An RFC 9457 problem (`application/problem+json`).
#[derive(Debug, Clone, PartialEq, Eq, Object)]
pub struct Problem {
    /// A URI naming the kind of problem; `about:blank` for plain HTTP statuses.
    #[oai(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// For 422: every field that failed, with its message.
    #[oai(default, skip_serializing_if_is_empty)]
    pub errors: Vec<FieldError>,
}

impl Problem {
    pub fn new(status: u16, title: &str, detail: impl Into<String>) -> Self {
        Self {
            kind: "about:blank".into(),
            title: title.into(),
            status,
            detail: detail.into(),
            errors: Vec::new(),
        }
    }

    pub fn invalid(errors: Vec<FieldError>) -> Self {
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        Self {
            kind: "https://shopfront.example/problems/invalid-product".into(),
            title: "Unprocessable Content".into(),
            status: 422,
            detail: format!("invalid fields: {}", fields.join(", ")),
            errors,
        }
    }
}
