//! # api
//!
//! The Shopfront write API: a poem server with an OpenAPI spec
//! (`/api/openapi.json`, Swagger UI at `/api/docs`). Products are read from
//! the replica and written to the primary; every write wakes the rebuild
//! worker ([`worker`]), which publishes the storefront in the background.

pub mod admin;
pub mod auth;
pub mod cache;
pub mod error;
pub mod files;
pub mod login;
pub mod problem;
pub mod products;
pub mod session;
pub mod state;
pub mod store;
pub mod worker;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use poem::http::StatusCode;
use poem::listener::{Acceptor, Listener, TcpListener};
use poem::web::Data;
use poem::{Endpoint, EndpointExt, IntoResponse, Response, Route, Server, get, handler};
use poem_openapi::OpenApiService;

use crate::state::State;

/// The largest request body a route takes unless [`body_limit`] says
/// otherwise: the JSON API, the logins, the admin's small forms (413 beyond).
pub const MAX_BODY: usize = 64 * 1024;
/// The largest product write (JSON, or the admin's preview), for a request
/// with a live session or token.
pub const MAX_PRODUCT_BODY: usize = 256 * 1024;
/// What a streamed body's reader fails with past its route's limit.
pub const BODY_OVER_LIMIT: &str = "the request body is over this route's limit";
/// A body over its limit is read (through a fixed buffer: each chunk is
/// dropped as it comes) up to this much, so that the client, still sending,
/// gets its 413 rather than a reset connection; beyond, or after
/// [`DRAIN_TIME`], the connection is closed.
const DRAIN_LIMIT: u64 = 64 * 1024 * 1024;
const DRAIN_TIME: Duration = Duration::from_secs(30);
/// How long a body within its limit may take to arrive (408 after): a
/// client trickling bytes does not hold its place among the requests in
/// flight for ever.
const BODY_TIME: Duration = Duration::from_secs(30);
/// How long a connection may sit idle.
const IDLE_TIME: Duration = Duration::from_secs(60);
/// Sent with every answer that came over HTTPS (behind a trusted proxy that
/// says so): the api and the admin are HTTPS-only (the ALB redirects port
/// 80), so browsers are told never to try plain HTTP, for two years and for
/// every subdomain, as the storefront's CloudFront policy says. Over plain
/// HTTP it would mean nothing (RFC 6797 says not to send it).
pub const HSTS: &str = "max-age=63072000; includeSubDomains";
/// How long requests in flight may take to finish after SIGTERM.
pub const DRAIN: Duration = Duration::from_secs(20);

/// The whole HTTP surface, for the server and for tests.
pub fn app(state: Arc<State>) -> impl Endpoint {
    let service = OpenApiService::new(
        (products::ProductsApi, login::LoginApi),
        "Shopfront API",
        env!("CARGO_PKG_VERSION"),
    )
    .description(
        "Products travel with the database's column names; prices are decimal strings. \
             Reads (GET /api/products, GET /api/products/{id}) are public. Every write and every \
             rebuild route needs an API token (Authorization: Bearer sft_...) or the session cookie \
             from POST /api/session, with its CSRF token in X-CSRF-Token on anything but a read.",
    );
    let spec = service.spec_endpoint();
    let docs = service.swagger_ui();
    Route::new()
        .at("/healthz", get(healthz))
        .at("/readyz", get(readyz))
        .at("/api/openapi.json", spec)
        .nest("/api/docs", docs)
        .nest("/admin", admin::routes())
        .nest("/", service)
        .data(state.clone())
        .around(move |next, req| guard(next, req, state.clone()))
}

/// The process is alive.
#[handler]
fn healthz() -> &'static str {
    "ok"
}

/// The primary answers, and the process is not draining.
#[handler]
async fn readyz(state: Data<&Arc<State>>) -> Response {
    if state.draining.load(Ordering::SeqCst) {
        return (StatusCode::SERVICE_UNAVAILABLE, "draining").into_response();
    }
    if state.store.ready().await {
        "ready".into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "the catalog store (the primary, or the content folder) does not answer",
        )
            .into_response()
    }
}

/// Around every request:
/// - a cap on requests in flight (503 beyond, at once);
/// - the session cookies of the request's scheme ([`session::normalize_cookies`]);
/// - the route's body limit ([`body_limit`]; 413 beyond, without holding
///   the body), the large ones only for a request that is authenticated;
/// - any error answer that is not problem+json yet (unknown routes, a
///   refused token, a wrong method, a body or parameter that does not
///   parse: 422) turned into one;
/// - HSTS over HTTPS;
/// - a log line with an id (the caller's `X-Request-Id`, or a new one),
///   which is also sent back.
async fn guard<E: Endpoint>(
    next: E,
    mut req: poem::Request,
    state: Arc<State>,
) -> poem::Result<Response> {
    let id = req
        .header("x-request-id")
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 64
                && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
        .map(str::to_owned)
        .unwrap_or_else(|| format!("{:016x}", rand::random::<u64>()));
    let (method, path) = (req.method().clone(), req.uri().path().to_owned());
    let started = Instant::now();
    let (_, https) = state.client(&req);
    session::normalize_cookies(req.headers_mut(), https);
    // The admin's pages answer in HTML.
    let admin = path == "/admin" || path.starts_with("/admin/");
    let mut response = match state.in_flight.clone().try_acquire_owned() {
        // The load balancer's checks are answered whatever the load.
        Err(_) if path != "/healthz" && path != "/readyz" => {
            let mut busy = problem(
                StatusCode::SERVICE_UNAVAILABLE,
                "the server is answering as many requests as it takes at once; try again in a second",
            );
            busy.headers_mut()
                .insert("retry-after", poem::http::HeaderValue::from_static("1"));
            busy
        }
        permit => within_limit(next, req, &state, permit.ok(), &method, &path, admin).await,
    };
    let status = response.status();
    let is_problem = response
        .content_type()
        .is_some_and(|t| t.starts_with("application/problem+json"));
    if (status.is_client_error() || status.is_server_error()) && !is_problem && !admin {
        let detail = response.take_body().into_string().await.unwrap_or_default();
        let detail = if detail.trim().is_empty() {
            status.canonical_reason().unwrap_or("error").to_owned()
        } else {
            detail
        };
        let headers = response.headers().clone();
        // A body or parameter that does not parse is unprocessable input.
        let status = if status == StatusCode::BAD_REQUEST {
            StatusCode::UNPROCESSABLE_ENTITY
        } else {
            status
        };
        response = problem(status, &detail);
        for (name, value) in &headers {
            if name != "content-type" && name != "content-length" {
                response.headers_mut().insert(name.clone(), value.clone());
            }
        }
    }
    let headers = response.headers_mut();
    if let Ok(value) = id.parse() {
        headers.insert("x-request-id", value);
    }
    headers.insert(
        "x-content-type-options",
        poem::http::HeaderValue::from_static("nosniff"),
    );
    // What the product reads show depends on who asks (an admin sees
    // drafts), so no shared cache may keep one answer for everyone.
    if path.starts_with("/api/products") && !headers.contains_key("cache-control") {
        headers.insert(
            "cache-control",
            poem::http::HeaderValue::from_static("private, no-cache"),
        );
        headers.append(
            "vary",
            poem::http::HeaderValue::from_static("Authorization, Cookie"),
        );
    }
    if https {
        headers.insert(
            "strict-transport-security",
            poem::http::HeaderValue::from_static(HSTS),
        );
    }
    tracing::info!(
        request_id = %id,
        method = %method,
        path = %path,
        status = response.status().as_u16(),
        ms = started.elapsed().as_millis() as u64,
        "request"
    );
    Ok(response)
}

/// Calls the route with its body within the route's limit, or answers 413.
/// The place among the requests in flight (`permit`) is given up before an
/// oversized body is drained.
async fn within_limit<E: Endpoint>(
    next: E,
    mut req: poem::Request,
    state: &State,
    permit: Option<tokio::sync::OwnedSemaphorePermit>,
    method: &poem::http::Method,
    path: &str,
    admin: bool,
) -> Response {
    let mut limit = body_limit(method, path);
    // The large limits are for the owner: anyone else gets the default.
    if limit.bytes() > MAX_BODY && !authenticated(state, &req).await {
        limit = BodyLimit::Buffered(MAX_BODY);
    }
    let too_large = || {
        if admin {
            admin::too_large(limit.bytes())
        } else {
            too_large(limit.bytes())
        }
    };
    let declared = req
        .header("content-length")
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit.bytes() as u64) {
        // A client that waits for "100 Continue" has sent nothing yet, and
        // will not: answer at once. Else read and drop what it sends.
        let waits = req
            .header("expect")
            .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"));
        drop(permit);
        if !waits && declared.is_some_and(|n| n <= DRAIN_LIMIT) {
            drain(req.take_body().into_bytes_stream(), 0).await;
        }
        return too_large();
    }
    let body = req.take_body().into_bytes_stream();
    match limit {
        BodyLimit::Streamed(max) => {
            // Handed on as it arrives; the handler spools it, and its reader
            // fails with BODY_OVER_LIMIT past `max` (a body without a length).
            req.set_body(poem::Body::from_bytes_stream(limited(body, max)));
        }
        BodyLimit::Buffered(max) => match read_within(body, max).await {
            Ok(bytes) => req.set_body(bytes),
            Err(ReadError::TooLarge(rest, seen)) => {
                drop(permit);
                drain(rest, seen).await;
                return too_large();
            }
            Err(ReadError::Slow) => {
                return problem(
                    StatusCode::REQUEST_TIMEOUT,
                    &format!(
                        "the request body did not arrive within {} s",
                        BODY_TIME.as_secs()
                    ),
                );
            }
            Err(ReadError::Io(e)) => {
                return problem(
                    StatusCode::BAD_REQUEST,
                    &format!("could not read the request body: {e}"),
                );
            }
        },
    }
    let response = match next.call(req).await {
        Ok(r) => r.into_response(),
        Err(e) => e.into_response(),
    };
    drop(permit);
    response
}

/// Whether a request carries a live session or API token (a store lookup;
/// made only for the routes with a large body limit).
async fn authenticated(state: &State, req: &poem::Request) -> bool {
    if let Some(token) = req
        .header("authorization")
        .and_then(|v| v.strip_prefix("Bearer "))
    {
        let digest = auth::token_digest(token.trim());
        if matches!(state.store.user_for_token(&digest).await, Ok(Some(_))) {
            return true;
        }
    }
    match session::read_cookie(req.headers(), session::COOKIE) {
        Some(token) => matches!(auth::session_of(state, &token).await, Ok(Some(_))),
        None => false,
    }
}

type BodyStream = std::pin::Pin<
    Box<dyn futures_util::Stream<Item = Result<bytes::Bytes, std::io::Error>> + Send>,
>;

enum ReadError {
    /// Over the limit: the rest of the body, and how much came.
    TooLarge(BodyStream, u64),
    /// Not all there within [`BODY_TIME`].
    Slow,
    Io(std::io::Error),
}

/// Reads a body of at most `max` bytes within [`BODY_TIME`].
async fn read_within(
    body: impl futures_util::Stream<Item = Result<bytes::Bytes, std::io::Error>> + Send + 'static,
    max: usize,
) -> Result<bytes::Bytes, ReadError> {
    use futures_util::StreamExt as _;
    let mut body: BodyStream = Box::pin(body);
    let read = async {
        let mut bytes = bytes::BytesMut::new();
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(Err)?;
            if bytes.len() + chunk.len() > max {
                return Err(Ok((bytes.len() + chunk.len()) as u64));
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(bytes.freeze())
    };
    match tokio::time::timeout(BODY_TIME, read).await {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(Ok(seen))) => Err(ReadError::TooLarge(body, seen)),
        Ok(Err(Err(e))) => Err(ReadError::Io(e)),
        Err(_) => Err(ReadError::Slow),
    }
}

/// Reads and drops a body, chunk by chunk, until it ends, [`DRAIN_LIMIT`]
/// bytes (with `seen` already read) or [`DRAIN_TIME`].
async fn drain(
    mut body: impl futures_util::Stream<Item = Result<bytes::Bytes, std::io::Error>> + Unpin,
    mut seen: u64,
) {
    use futures_util::StreamExt as _;
    let _ = tokio::time::timeout(DRAIN_TIME, async {
        while let Some(Ok(chunk)) = body.next().await {
            seen += chunk.len() as u64;
            if seen > DRAIN_LIMIT {
                break;
            }
        }
    })
    .await;
}

/// How much of a request's body a route takes, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyLimit {
    /// Read whole before the handler runs.
    Buffered(usize),
    /// Streamed to the handler, which spools it to disk: image uploads, on
    /// routes that need an owner's session or an API token.
    Streamed(usize),
}

impl BodyLimit {
    pub fn bytes(self) -> usize {
        match self {
            Self::Buffered(n) | Self::Streamed(n) => n,
        }
    }
}

/// **The body limit of every route**, in one place: [`MAX_BODY`] but where
/// photos are uploaded (the admin's product form and `POST /api/images`,
/// streamed to disk), CSV files imported (the admin's import pages) and
/// product writes (a long description). The large limits apply only to a
/// request with a live session or token (the guard checks); the streamed
/// upload handlers check it again before they read a byte.
pub fn body_limit(method: &poem::http::Method, path: &str) -> BodyLimit {
    let upload_form = path == "/admin/products/new"
        || path
            .strip_prefix("/admin/products/")
            .and_then(|rest| rest.strip_suffix("/edit"))
            .is_some_and(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()));
    let writes = method == poem::http::Method::POST || method == poem::http::Method::PUT;
    match (method == poem::http::Method::POST, path) {
        (true, "/api/images") => BodyLimit::Streamed(admin::image::MAX_IMAGE),
        (true, _) if upload_form => BodyLimit::Streamed(admin::MAX_FORM_BODY),
        (true, "/admin/import" | "/admin/import/apply") => BodyLimit::Buffered(admin::MAX_IMPORT),
        // A product (its description: 20,000 characters, which in JSON or
        // a form's encoding may take several bytes each), and its preview.
        (_, "/admin/preview") => BodyLimit::Buffered(MAX_PRODUCT_BODY),
        (_, p) if writes && (p == "/api/products" || p.starts_with("/api/products/")) => {
            BodyLimit::Buffered(MAX_PRODUCT_BODY)
        }
        _ => BodyLimit::Buffered(MAX_BODY),
    }
}

/// A body stream that fails with [`BODY_OVER_LIMIT`] once more than `max`
/// bytes have come.
fn limited(
    body: impl futures_util::Stream<Item = Result<bytes::Bytes, std::io::Error>> + Send + 'static,
    max: usize,
) -> impl futures_util::Stream<Item = Result<bytes::Bytes, std::io::Error>> + Send + 'static {
    use futures_util::StreamExt as _;
    let mut seen = 0usize;
    body.map(move |chunk| {
        let chunk = chunk?;
        seen += chunk.len();
        if seen > max {
            Err(std::io::Error::new(
                std::io::ErrorKind::FileTooLarge,
                BODY_OVER_LIMIT,
            ))
        } else {
            Ok(chunk)
        }
    })
}

fn too_large(limit: usize) -> Response {
    error::ApiError::TooLarge(poem_openapi::payload::Json(problem::Problem::new(
        413,
        "Content Too Large",
        format!("the request body is larger than {limit} bytes"),
    )))
    .into_response()
}

/// A problem+json answer for a plain HTTP status.
fn problem(status: StatusCode, detail: &str) -> Response {
    // RFC 9110's names where they differ from the older ones.
    let title = match status {
        StatusCode::UNPROCESSABLE_ENTITY => "Unprocessable Content",
        StatusCode::PAYLOAD_TOO_LARGE => "Content Too Large",
        _ => status.canonical_reason().unwrap_or("Error"),
    };
    let body = problem::Problem::new(status.as_u16(), title, detail);
    let json = serde_json::json!({
        "type": body.kind,
        "title": body.title,
        "status": body.status,
        "detail": body.detail,
    });
    Response::builder()
        .status(status)
        .content_type("application/problem+json")
        .body(json.to_string())
}

/// Binds `addr` (port 0 picks a free one), prints the address, serves until
/// SIGTERM or Ctrl-C, then drains. The rebuild worker runs alongside and stops
/// between builds.
pub async fn serve(
    addr: &str,
    state: Arc<State>,
    rebuilds: Option<worker::Rebuilds>,
) -> anyhow::Result<()> {
    let acceptor = TcpListener::bind(addr.to_owned())
        .into_acceptor()
        .await
        .map_err(|e| {
            anyhow::anyhow!("cannot listen on {addr}: {e}; set API_ADDR to a free address")
        })?;
    let bound: Vec<SocketAddr> = acceptor
        .local_addr()
        .iter()
        .filter_map(|a| a.as_socket_addr().copied())
        .collect();
    if let Some(a) = bound.first() {
        println!("api listening on http://{a}");
    }
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let worker = rebuilds.map(|r| tokio::spawn(worker::run(state.clone(), r, stopped.clone())));
    let signal_state = state.clone();
    let shutdown = async move {
        wait_for_signal().await;
        tracing::info!("shutting down: draining requests, then the rebuild worker");
        signal_state.draining.store(true, Ordering::SeqCst);
        let _ = stop.send(true);
    };
    Server::new_with_acceptor(acceptor)
        .idle_timeout(IDLE_TIME)
        .run_with_graceful_shutdown(app(state), shutdown, Some(DRAIN))
        .await?;
    if let Some(worker) = worker {
        // A build in progress finishes; one that takes too long is abandoned,
        // which the publish protocol makes safe (the next build completes it).
        if tokio::time::timeout(DRAIN, worker).await.is_err() {
            tracing::warn!("the running build did not finish in time; abandoned");
        }
    }
    Ok(())
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("a SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
