//! Every error status the api answers with, as problem+json, in one type the
//! OpenAPI spec lists for each operation.

use catalog::records::WriteRefused;
use poem_openapi::ApiResponse;
use poem_openapi::payload::Json;

use crate::files::FilesError;
use crate::problem::Problem;
use crate::store::StoreError;

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
    /// The body is larger than its route takes (64 KiB; more for a product,
    /// an upload or an import with credentials).
    #[oai(status = 413, content_type = "application/problem+json")]
    TooLarge(Json<Problem>),
    /// The body is not JSON.
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

/// What a store's error means over HTTP: a refused write is 404, 409 or 412;
/// a store that does not answer is 503. Neither the database's message (it
/// names servers) nor the folder's (it names paths on the server, and what
/// is wrong in its files) is sent: both are logged where the `StoreError` is
/// made, and the answer says where to look.
impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        let unavailable = |detail: String| {
            Self::Unavailable(Json(Problem::new(503, "Service Unavailable", detail)))
        };
        match e {
            StoreError::Refused(e) => match e {
                WriteRefused::NotFound(_) => Self::not_found(e.to_string()),
                WriteRefused::Stale { .. } => Self::PreconditionFailed(Json(Problem::new(
                    412,
                    "Precondition Failed",
                    e.to_string(),
                ))),
                WriteRefused::DuplicateSlug(_) => {
                    Self::Conflict(Json(Problem::new(409, "Conflict", e.to_string())))
                }
            },
            StoreError::Db(_) => {
                unavailable("the database did not answer; try again shortly".to_owned())
            }
            StoreError::Files(e) => unavailable(folder_detail(&e).to_owned()),
        }
    }
}

/// What a client is told of a folder's failure, whatever its text says.
fn folder_detail(e: &FilesError) -> &'static str {
    match e {
        FilesError::Content(_) => {
            "the content folder has problems to fix; the admin pages and the server's log list them"
        }
        FilesError::Accounts { .. } => {
            "the accounts file in the state folder is not valid; the server's log says why"
        }
        FilesError::Io { .. } | FilesError::UserExists(_) | FilesError::NoSuchUser(_) => {
            "the content folder could not be read or written; the server's log says why"
        }
    }
}

#[cfg(test)]
mod tests {
    use store::{DbError, Role};

    use super::*;

    fn answer(e: StoreError) -> (u16, String, String) {
        let api = ApiError::from(e);
        let p = api.problem();
        (p.status, p.title.clone(), p.detail.clone())
    }

    #[test]
    fn store_errors_answer_with_their_statuses() {
        assert_eq!(
            answer(WriteRefused::NotFound(7).into()),
            (404, "Not Found".into(), "no product has the id 7".into())
        );
        let stale = WriteRefused::Stale {
            id: 7,
            expected: 1,
            current: 2,
        };
        assert_eq!(
            answer(stale.clone().into()),
            (412, "Precondition Failed".into(), stale.to_string())
        );
        assert_eq!(
            answer(WriteRefused::DuplicateSlug("mug".into()).into()).0,
            409
        );
        // The database's message names servers; it is logged, not sent.
        let db = DbError::BadUrl {
            role: Role::Primary,
            reason: "secret-host".into(),
        };
        assert_eq!(
            answer(db.into()),
            (
                503,
                "Service Unavailable".into(),
                "the database did not answer; try again shortly".into()
            )
        );
        // The content folder's problems are the admin's to show, not the API's.
        let folder = FilesError::Content("products/mug.md:1: no front matter".into());
        let (status, title, detail) = answer(folder.into());
        assert_eq!((status, title.as_str()), (503, "Service Unavailable"));
        assert!(!detail.contains("mug"), "{detail}");
        assert!(detail.contains("the server's log"), "{detail}");
    }

    #[tokio::test]
    async fn a_folder_s_failure_answers_without_its_paths() {
        let failures = [
            FilesError::Io {
                action: "read",
                path: "/secret/place/content/products/mug.md".into(),
                source: std::io::Error::other("disk on fire"),
            },
            FilesError::Accounts {
                path: "/secret/place/state/accounts.json".into(),
                source: serde_json::from_str::<()>("{").unwrap_err(),
            },
        ];
        for e in failures {
            let text = e.to_string();
            assert!(text.contains("/secret/place"), "the log has it: {text}");
            let response = poem::IntoResponse::into_response(ApiError::from(StoreError::from(e)));
            assert_eq!(response.status(), 503);
            let body = response.into_body().into_string().await.unwrap();
            assert!(
                !body.contains("/secret") && !body.contains("place"),
                "{body}"
            );
            assert!(!body.contains("on fire") && !body.contains("EOF"), "{body}");
            assert!(body.contains("the server's log says why"), "{body}");
        }
    }
}
