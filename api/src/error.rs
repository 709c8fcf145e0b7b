//! Every error status the api answers with, as problem+json, in one type the
//! OpenAPI spec lists for each operation.

use catalog::records::WriteRefused;
use poem_openapi::ApiResponse;
use poem_openapi::payload::Json;
use store::DbError;
use store::products::WriteError;

use crate::problem::Problem;

/// Input that does not parse at all (400 from the framework, 415 for a body
/// that is not JSON) is turned into problem+json by the middleware in `lib.rs`.
#[derive(Debug, ApiResponse)]
pub enum ApiError {
    /// No credentials, or they are not valid.
    #[oai(status = 401, content_type = "application/problem+json")]
    Unauthorized(Json<Problem>),
    /// A session cookie without its CSRF token on a state-changing request.
    #[oai(status = 403, content_type = "application/problem+json")]
    Forbidden(Json<Problem>),
    /// No such product or build.
    #[oai(status = 404, content_type = "application/problem+json")]
    NotFound(Json<Problem>),
    /// Another product has this slug.
    #[oai(status = 409, content_type = "application/problem+json")]
    Conflict(Json<Problem>),
    /// `If-Match` does not match the product's current version.
    #[oai(status = 412, content_type = "application/problem+json")]
    PreconditionFailed(Json<Problem>),
    /// The body is not JSON.
    /// The body is larger than the api accepts (64 KiB).
    #[oai(status = 413, content_type = "application/problem+json")]
    TooLarge(Json<Problem>),
    #[oai(status = 415, content_type = "application/problem+json")]
    UnsupportedMediaType(Json<Problem>),
    /// The body or a parameter is not valid; `errors` names each field.
    #[oai(status = 422, content_type = "application/problem+json")]
    Unprocessable(Json<Problem>),
    /// An update must say which version it changes (`If-Match`).
    #[oai(status = 428, content_type = "application/problem+json")]
    PreconditionRequired(Json<Problem>),
    /// Too many failed logins for this account or address; wait and retry.
    #[oai(status = 429, content_type = "application/problem+json")]
    TooManyRequests(Json<Problem>),
    /// The database is unreachable; try again.
    #[oai(status = 503, content_type = "application/problem+json")]
    Unavailable(Json<Problem>),
}

impl ApiError {
    /// The problem this error answers with.
    pub fn problem(&self) -> &Problem {
        match self {
            Self::Unauthorized(Json(p))
            | Self::Forbidden(Json(p))
            | Self::NotFound(Json(p))
            | Self::Conflict(Json(p))
            | Self::PreconditionFailed(Json(p))
            | Self::TooLarge(Json(p))
            | Self::UnsupportedMediaType(Json(p))
            | Self::Unprocessable(Json(p))
            | Self::PreconditionRequired(Json(p))
            | Self::TooManyRequests(Json(p))
            | Self::Unavailable(Json(p)) => p,
        }
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::NotFound(Json(Problem::new(404, "Not Found", detail)))
    }

    pub fn unprocessable(problem: Problem) -> Self {
        Self::Unprocessable(Json(problem))
    }
}

impl From<DbError> for ApiError {
    fn from(e: DbError) -> Self {
        tracing::error!("{e}");
        Self::Unavailable(Json(Problem::new(
            503,
            "Service Unavailable",
            "the database did not answer; try again shortly",
        )))
    }
}

impl From<WriteRefused> for ApiError {
    fn from(e: WriteRefused) -> Self {
        match e {
            WriteRefused::NotFound(_) => Self::not_found(e.to_string()),
            WriteRefused::Stale { .. } => Self::PreconditionFailed(Json(Problem::new(
                412,
                "Precondition Failed",
                e.to_string(),
            ))),
            WriteRefused::DuplicateSlug(_) => {
                Self::Conflict(Json(Problem::new(409, "Conflict", e.to_string())))
            }
        }
    }
}

impl From<WriteError> for ApiError {
    fn from(e: WriteError) -> Self {
        match e {
            WriteError::Refused(e) => e.into(),
            WriteError::Db(e) => e.into(),
        }
    }
}
