//! The admin's route table in process, on a shop of the test's own: the
//! `Owner` extractor's refusals are the same answers a page gives, with the
//! same security headers.

use std::sync::Arc;

use poem::http::uri::Scheme;
use poem::http::{self, Method, StatusCode};
use poem::web::{LocalAddr, RemoteAddr};
use poem::{Body, Endpoint, EndpointExt, Request, RequestParts, Response, Route};

use super::routes;
use crate::auth::AdminUser;
use crate::files::testing::Shop;
use crate::session::{COOKIE, Session, Sessions};
use crate::state::State;
use crate::store::Store;

struct Admin {
    app: poem::endpoint::BoxEndpoint<'static, Response>,
    state: Arc<State>,
    /// Holds the shop's folders.
    _shop_dir: tempfile::TempDir,
}

impl Admin {
    fn new() -> Self {
        let shop = Shop::new();
        let content = shop.files.content_dir().to_owned();
        let sessions = Sessions::new(&[7u8; 32]).unwrap();
        let (dir, files) = shop.into_parts();
        let state = Arc::new(
            State::new(Store::Files(files), content, sessions, Vec::new())
                .with_image_cache(dir.path().join("image-cache")),
        );
        let app = Route::new()
            .nest("/admin", routes())
            .data(state.clone())
            .map_to_response()
            .boxed();
        Self {
            app,
            state,
            _shop_dir: dir,
        }
    }

    /// A session's cookie and its CSRF token, kept by the store as a login
    /// would.
    fn log_in(&self) -> (String, String) {
        let Store::Files(files) = &self.state.store else {
            unreachable!("the admin's tests run on a folder")
        };
        let user_id = match files.user_by_email("owner@shop.example").unwrap() {
            Some((id, _, _)) => id,
            None => files.create_user("owner@shop.example", "hash").unwrap(),
        };
        let session = Session {
            user: AdminUser {
                user_id,
                email: "owner@shop.example".into(),
            },
            token: crate::session::new_token(),
        };
        files
            .create_session(&store::admin::NewSession {
                sha256: &session.digest(),
                user_id,
                expires_at: chrono::Utc::now() + chrono::TimeDelta::hours(1),
                address: None,
                user_agent: None,
                password_hash: "hash",
            })
            .unwrap();
        (
            format!("{COOKIE}={}", session.token),
            self.state.sessions.csrf(&session),
        )
    }

    async fn call(
        &self,
        method: Method,
        uri: &str,
        cookie: Option<&str>,
        form: Option<&str>,
    ) -> Response {
        let content_type = form.map(|_| "application/x-www-form-urlencoded");
        self.send(method, uri, cookie, content_type, form.unwrap_or_default())
            .await
    }

    /// Sends a request as the server would hand it over (its original URI
    /// is the one asked for, which the route table's nesting keeps).
    async fn send(
        &self,
        method: Method,
        uri: &str,
        cookie: Option<&str>,
        content_type: Option<&str>,
        body: &str,
    ) -> Response {
        let mut head = http::Request::builder().method(method).uri(uri);
        if let Some(cookie) = cookie {
            head = head.header("cookie", cookie);
        }
        if let Some(content_type) = content_type {
            head = head.header("content-type", content_type);
        }
        let (parts, ()) = head.body(()).unwrap().into_parts();
        let parts = RequestParts::from((
            parts,
            LocalAddr::default(),
            RemoteAddr::default(),
            Scheme::HTTP,
        ));
        let req = Request::from_parts(parts, Body::from(body.to_owned()));
        self.app.call(req).await.unwrap()
    }
}

/// Every admin answer's headers.
fn assert_secured(response: &Response) {
    let header = |name| response.headers().get(name).and_then(|v| v.to_str().ok());
    assert!(
        header("content-security-policy").is_some_and(|c| c.contains("frame-ancestors 'none'")),
        "{:?}",
        response.headers()
    );
    assert_eq!(header("x-content-type-options"), Some("nosniff"));
    assert_eq!(header("x-frame-options"), Some("DENY"));
    assert_eq!(header("referrer-policy"), Some("same-origin"));
    assert_eq!(header("cache-control"), Some("no-store"));
}

fn location(response: &Response) -> Option<&str> {
    response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
}

#[tokio::test]
async fn without_a_session_every_page_is_the_way_to_the_login_page() {
    let admin = Admin::new();
    let response = admin
        .call(Method::GET, "/admin/products?q=x", None, None)
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        location(&response),
        Some("/admin/login?next=/admin/products%3Fq%3Dx")
    );
    assert_secured(&response);

    // A form sent without one goes to the login page, then the list.
    let response = admin
        .call(
            Method::POST,
            "/admin/products/88/delete",
            None,
            Some("csrf=x"),
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        location(&response),
        Some("/admin/login?next=/admin/products")
    );
    assert_secured(&response);

    let response = admin.call(Method::GET, "/admin/login", None, None).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_secured(&response);
}

#[tokio::test]
async fn with_a_session_pages_open_and_forms_need_its_csrf_token() {
    let admin = Admin::new();
    let (cookie, csrf) = admin.log_in();
    let cookie = Some(cookie.as_str());

    let mut response = admin
        .call(Method::GET, "/admin/products", cookie, None)
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_secured(&response);
    let page = response.take_body().into_string().await.unwrap();
    assert!(
        page.contains("Ash Writing Desk") && page.contains(&csrf),
        "{page}"
    );

    let response = admin.call(Method::GET, "/admin/login", cookie, None).await;
    assert_eq!(
        location(&response),
        Some("/admin/products"),
        "already logged in"
    );

    let mut response = admin
        .call(
            Method::POST,
            "/admin/publishing/rebuild",
            cookie,
            Some("csrf=forged"),
        )
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_secured(&response);
    let page = response.take_body().into_string().await.unwrap();
    assert!(page.contains("This form is out of date"), "{page}");
    assert!(!admin.state.take_forced());

    let form = format!("csrf={}", super::encode(&csrf));
    let response = admin
        .call(
            Method::POST,
            "/admin/publishing/rebuild",
            cookie,
            Some(&form),
        )
        .await;
    assert_eq!(location(&response), Some("/admin/publishing?done=rebuild"));
    assert!(admin.state.take_forced());

    let response = admin
        .call(Method::GET, "/admin/products/7/edit", cookie, None)
        .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_secured(&response);
}

#[tokio::test]
async fn an_upload_is_read_only_with_a_session_and_unreadable_is_a_422() {
    let admin = Admin::new();
    let (cookie, _) = admin.log_in();
    for (cookie, status) in [
        // Not a byte of it is read: the way to the login page.
        (None, StatusCode::SEE_OTHER),
        (Some(cookie.as_str()), StatusCode::UNPROCESSABLE_ENTITY),
    ] {
        let response = admin
            .send(
                Method::POST,
                "/admin/products/new",
                cookie,
                Some("multipart/form-data; boundary=zz"),
                "garbage",
            )
            .await;
        assert_eq!(response.status(), status);
        assert_secured(&response);
    }
}

#[tokio::test]
async fn an_upload_s_thumbnail_is_its_small_variant_once_a_build_made_one() {
    use sha2::Digest as _;
    let admin = Admin::new();
    let (cookie, _) = admin.log_in();
    let png = testkit::images::png(40, 30);
    let sha = catalog::hex(&sha2::Sha256::digest(&png));
    admin
        .state
        .store
        .put_image(&sha, "png", &png)
        .await
        .unwrap();
    let uri = format!("/admin/images/{sha}.png?thumb");
    let before = admin.call(Method::GET, &uri, Some(&cookie), None).await;
    assert_eq!(before.status(), StatusCode::OK);
    assert_eq!(
        before.content_type(),
        Some("image/png"),
        "the original, until a build"
    );
    let source = images::Source {
        key: format!("images/{sha}.png"),
        digest: Some(sha.clone()),
        origin: images::Origin::Bytes(png),
    };
    images::process_all(vec![source], admin.state.image_cache.as_ref()).unwrap();
    let after = admin.call(Method::GET, &uri, Some(&cookie), None).await;
    assert_eq!(after.content_type(), Some("image/webp"));
    let bytes = after.into_body().into_vec().await.unwrap();
    assert_eq!(&bytes[8..12], b"WEBP");
    let anonymous = admin.call(Method::GET, &uri, None, None).await;
    assert_eq!(
        anonymous.status(),
        StatusCode::SEE_OTHER,
        "for the owner only"
    );
}

#[tokio::test]
async fn a_page_lists_the_content_folder_s_problems_but_names_no_path_on_the_server() {
    let admin = Admin::new();
    let (cookie, _) = admin.log_in();
    let content = admin.state.content_dir.clone();
    // The shop's temporary folder: Tera escapes the slashes of a path.
    let server_path = content
        .parent()
        .and_then(|d| d.file_name())
        .unwrap()
        .to_string_lossy()
        .into_owned();
    std::fs::write(content.join("products/broken.md"), "no front matter\n").unwrap();
    let mut response = admin
        .call(Method::GET, "/admin/products", Some(&cookie), None)
        .await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_secured(&response);
    let page = response.take_body().into_string().await.unwrap();
    assert!(page.contains("products&#x2F;broken.md:1:"), "{page}");
    assert!(!page.contains(&server_path), "{page}");

    // A folder that cannot be read: the page says where to look, no more.
    let products = content.join("products");
    std::fs::remove_dir_all(&products).unwrap();
    std::fs::write(&products, "not a folder").unwrap();
    let mut response = admin
        .call(Method::GET, "/admin/products", Some(&cookie), None)
        .await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let page = response.take_body().into_string().await.unwrap();
    assert!(page.contains("the server&#x27;s log says why"), "{page}");
    assert!(
        !page.contains(&server_path) && !page.contains("directory"),
        "{page}"
    );
}
