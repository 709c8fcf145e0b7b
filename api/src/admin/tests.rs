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

/// A `multipart/form-data` body of text fields, and its content type.
fn multipart(fields: &[(&str, &str)]) -> (String, String) {
    let boundary = "admin-test-boundary-3f9c";
    let mut body = String::new();
    for (name, value) in fields {
        body.push_str(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
        ));
    }
    body.push_str(&format!("--{boundary}--\r\n"));
    (format!("multipart/form-data; boundary={boundary}"), body)
}

async fn text(mut response: Response) -> String {
    response.take_body().into_string().await.unwrap()
}

#[tokio::test]
async fn the_product_form_checks_the_merchandising_fields_next_to_each() {
    let admin = Admin::new();
    let (cookie, csrf) = admin.log_in();
    let cookie = Some(cookie.as_str());

    // A new product starts as a draft; the counters and the search result
    // are rendered by the server.
    let page = text(
        admin
            .call(Method::GET, "/admin/products/new", cookie, None)
            .await,
    )
    .await;
    assert!(
        page.contains("<option value=\"draft\" selected>Draft</option>"),
        "{page}"
    );
    assert!(page.contains("maxlength=\"70\"") && page.contains("maxlength=\"160\""));
    assert!(
        page.contains(">0/70</p>") && page.contains(">0/160</p>"),
        "{page}"
    );
    assert!(page.contains("id=\"serp-title\""));

    let title = "t".repeat(71);
    let bad = [
        ("csrf", csrf.as_str()),
        ("name", "Walnut Desk Tray"),
        ("price", "49.90"),
        ("category", "Home Office"),
        ("stock_quantity", "2"),
        ("status", "draft"),
        ("compare_at_price", "40.00"),
        ("seo_title", title.as_str()),
        ("seo_description", "Oiled walnut."),
        ("gtin", "4006381333932"),
        ("mpn", "WDT-32"),
        ("buy_url", "http://buy.example.com/tray"),
    ];
    let (ct, body) = multipart(&bad);
    let response = admin
        .send(
            Method::POST,
            "/admin/products/new",
            cookie,
            Some(&ct),
            &body,
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = text(response).await;
    for field in ["compare_at_price", "seo_title", "gtin", "buy_url"] {
        assert!(
            page.contains(&format!("<p class=\"field-error\" id=\"{field}-error\">")),
            "{field}: {page}"
        );
        assert!(page.contains(&format!("<a href=\"#{field}\">")), "{field}");
    }
    assert!(page.contains("is not above the price"), "{page}");
    assert!(!page.contains("id=\"mpn-error\""));
    assert!(page.contains("value=\"WDT-32\""), "what was typed is kept");
    assert!(page.contains(">71/70</p>"), "the counter shows the overrun");
    let tampered = [("status", "live")]
        .into_iter()
        .chain(
            bad.into_iter()
                .filter(|(k, _)| *k == "csrf" || *k == "name"),
        )
        .chain([
            ("price", "1.00"),
            ("category", "Kitchen"),
            ("stock_quantity", "1"),
        ])
        .collect::<Vec<_>>();
    let (ct, body) = multipart(&tampered);
    let response = admin
        .send(
            Method::POST,
            "/admin/products/new",
            cookie,
            Some(&ct),
            &body,
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(text(response).await.contains("id=\"status-error\""));

    // Fixed: saved as a draft, listed with its status, previewed.
    let good: Vec<(&str, &str)> = bad
        .iter()
        .map(|&(k, v)| match k {
            "compare_at_price" => (k, "59.90"),
            "seo_title" => (k, "Walnut desk tray, hand oiled"),
            "gtin" => (k, "4006381333931"),
            "buy_url" => (k, "https://buy.example.com/tray"),
            _ => (k, v),
        })
        .collect();
    let (ct, body) = multipart(&good);
    let response = admin
        .send(
            Method::POST,
            "/admin/products/new",
            cookie,
            Some(&ct),
            &body,
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let edit = location(&response).unwrap().to_owned();
    let id: i64 = edit
        .trim_start_matches("/admin/products/")
        .split('/')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let record = admin.state.store.get(id, true).await.unwrap().unwrap();
    assert_eq!(record.status, catalog::Status::Draft);
    assert_eq!(record.gtin.as_deref(), Some("4006381333931"));
    let page = text(admin.call(Method::GET, &edit, cookie, None).await).await;
    assert!(
        page.contains("class=\"badge status-draft\">Draft</span>"),
        "{page}"
    );
    assert!(page.contains(">28/70</p>"), "{page}");
    assert!(
        page.contains("id=\"serp-title\">Walnut desk tray, hand oiled</p>"),
        "{page}"
    );
    assert!(page.contains(&format!("/admin/products/{id}/preview")));

    let list = text(
        admin
            .call(Method::GET, "/admin/products?status=draft", cookie, None)
            .await,
    )
    .await;
    assert!(list.contains("Walnut Desk Tray"), "{list}");
    assert!(!list.contains("Ash Writing Desk"), "only drafts");
    assert!(list.contains(">Draft</span>"));
    assert!(list.contains("<option value=\"draft\" selected>Draft</option>"));
    let list = text(
        admin
            .call(Method::GET, "/admin/products?status=active", cookie, None)
            .await,
    )
    .await;
    assert!(list.contains("Ash Writing Desk") && !list.contains("Walnut Desk Tray"));
    assert!(list.contains(">Active</span>"));

    // Made active: the history has the change of status.
    let mut activate: Vec<(&str, &str)> = good
        .iter()
        .map(|&(k, v)| if k == "status" { (k, "active") } else { (k, v) })
        .collect();
    let version = record.version.to_string();
    activate.push(("version", &version));
    let (ct, body) = multipart(&activate);
    let response = admin
        .send(
            Method::POST,
            &format!("/admin/products/{id}/edit"),
            cookie,
            Some(&ct),
            &body,
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let history = text(
        admin
            .call(
                Method::GET,
                &format!("/admin/products/{id}/history"),
                cookie,
                None,
            )
            .await,
    )
    .await;
    assert!(history.contains("<td>status</td>"), "{history}");
    assert!(
        history.contains("draft") && history.contains("active"),
        "{history}"
    );
}

#[tokio::test]
async fn the_preview_is_the_owner_s_any_product_never_cached_nor_indexed() {
    let admin = Admin::new();
    let (cookie, _) = admin.log_in();
    let cookie = Some(cookie.as_str());
    let response = admin
        .call(Method::GET, "/admin/products/88/preview", None, None)
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        location(&response),
        Some("/admin/login?next=/admin/products/88/preview")
    );
    let response = admin
        .call(Method::GET, "/admin/preview-assets/site.css", None, None)
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);

    // A draft, shown as its page will look once it is active.
    let Store::Files(files) = &admin.state.store else {
        unreachable!()
    };
    let mut desk = files.get(88).unwrap().unwrap();
    let mut fields = crate::files::testing::fields("Ash Writing Desk", "589.00", "Home Office");
    fields.merchandising.status = catalog::Status::Draft;
    desk = files
        .update("owner@shop.example", 88, desk.version, &fields)
        .await
        .unwrap();
    assert_eq!(desk.status, catalog::Status::Draft);
    let response = admin
        .call(Method::GET, "/admin/products/88/preview", cookie, None)
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_secured(&response);
    let header = |name| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    assert_eq!(header("x-robots-tag").as_deref(), Some("noindex"));
    assert!(
        header("content-security-policy")
            .unwrap()
            .contains("script-src 'self'")
    );
    let page = text(response).await;
    assert!(page.contains("Ash Writing Desk"), "{page}");
    assert!(page.contains("/admin/preview-assets/"), "{page}");

    let response = admin
        .call(Method::GET, "/admin/preview-assets/site.css", cookie, None)
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.content_type(), Some("text/css; charset=utf-8"));
    let response = admin
        .call(
            Method::GET,
            "/admin/preview-assets/..%2Fsite.toml",
            cookie,
            None,
        )
        .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let response = admin
        .call(Method::GET, "/admin/products/7/preview", cookie, None)
        .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}
