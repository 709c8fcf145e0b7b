//! The real `api` binary, spawned on port 0 against a fresh database on the
//! local PostgreSQL primary (the test command starts the pair and sets
//! DATABASE_URL), publishing to a temporary folder.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use store::{Role, Target};
use testkit::{FreshDb, Pair, repo_root};

#[path = "api/attack.rs"]
mod attack;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// A database of the test's own on the shared local primary, migrated and
/// loaded with content/.
fn fresh_shop_db() -> FreshDb {
    runtime().block_on(async {
        let db = FreshDb::new().await;
        load_shop(&db.url).await;
        db
    })
}

/// Migrates the database at `url` and imports content/ into it.
async fn load_shop(url: &str) {
    let target = Target::parse(url, Role::Primary).unwrap();
    store::migrate(&target, None).await.unwrap();
    let catalog = content::load(&repo_root().join("content")).unwrap();
    store::import(&target, &catalog).await.unwrap();
}

/// Where an api instance keeps and publishes the shop.
#[derive(Clone, Default)]
struct Setup {
    /// Empty: no database, the embedded default (edits `content`).
    primary: String,
    /// The content folder (default: the repository's) and, without a
    /// database, the state folder for accounts.
    content: Option<std::path::PathBuf>,
    state: Option<std::path::PathBuf>,
    replica: Option<String>,
    /// Publish to this bucket of the local S3 stand-in, else to a folder.
    bucket: Option<String>,
    /// More of the server's environment.
    env: Vec<(&'static str, String)>,
    /// Where the server's log goes (else nowhere).
    log: Option<std::path::PathBuf>,
}

/// The api binary, serving on a free port; stopped with SIGTERM when dropped.
struct Api {
    child: Child,
    url: String,
    token: String,
    out: tempfile::TempDir,
    _db: Option<FreshDb>,
}

fn api_cmd(setup: &Setup) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_api"));
    if setup.primary.is_empty() {
        cmd.env_remove("DATABASE_URL");
    } else {
        cmd.env("DATABASE_URL", &setup.primary);
    }
    if let Some(state) = &setup.state {
        cmd.env("STATE_DIR", state);
    }
    cmd.env_remove("DATABASE_REPLICA_URL")
        .env_remove("S3_BUCKET")
        .env_remove("S3_PREFIX")
        .env_remove("CLOUDFRONT_DISTRIBUTION_ID")
        .env_remove("LOG_FORMAT");
    if let Some(replica) = &setup.replica {
        cmd.env("DATABASE_REPLICA_URL", replica);
    }
    if let Some(bucket) = &setup.bucket {
        cmd.env("S3_BUCKET", bucket).env("AWS_REGION", "us-east-1");
    }
    cmd
}

/// Makes an admin user (if there is none) and a token for it.
fn token_for(setup: &Setup) -> String {
    let mut create = api_cmd(setup)
        .args(["admin", "create-user", "--email", "owner@shop.example"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    use std::io::Write as _;
    create
        .stdin
        .take()
        .unwrap()
        .write_all(b"a long enough password\n")
        .unwrap();
    create.wait().unwrap();
    let token = api_cmd(setup)
        .args(["admin", "create-token", "--email", "owner@shop.example"])
        .stderr(Stdio::null())
        .output()
        .unwrap();
    assert!(token.status.success());
    String::from_utf8(token.stdout).unwrap().trim().to_owned()
}

impl Api {
    /// An api on a fresh database of its own, publishing to a folder.
    fn start() -> Self {
        let db = fresh_shop_db();
        let mut api = Self::start_with(&Setup {
            primary: db.url.clone(),
            ..Setup::default()
        });
        api._db = Some(db);
        api
    }

    fn start_with(setup: &Setup) -> Self {
        let token = token_for(setup);
        let out = tempfile::tempdir().unwrap();
        let mut child = api_cmd(setup)
            .arg("serve")
            .env("API_ADDR", "127.0.0.1:0")
            .env(
                "CONTENT_DIR",
                setup.content.clone().unwrap_or(repo_root().join("content")),
            )
            .env("THEMES_DIR", repo_root().join("themes"))
            .env("PUBLISH_DIR", out.path().join("public"))
            // Uploads and the image cache, never in the working directory.
            .env(
                "STATE_DIR",
                setup.state.clone().unwrap_or(out.path().join("state")),
            )
            .envs(setup.env.iter().map(|(k, v)| (*k, v)))
            .stdout(Stdio::piped())
            .stderr(match &setup.log {
                Some(path) => Stdio::from(std::fs::File::create(path).unwrap()),
                None => Stdio::null(),
            })
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line
            .trim()
            .strip_prefix("api listening on ")
            .unwrap_or_else(|| panic!("{line}"))
            .to_owned();
        Self {
            child,
            url,
            token,
            out,
            _db: None,
        }
    }

    fn get(&self, path: &str) -> ureq::Request {
        ureq::get(&format!("{}{path}", self.url))
    }

    fn send(&self, method: &str, path: &str) -> ureq::Request {
        ureq::request(method, &format!("{}{path}", self.url))
            .set("Authorization", &format!("Bearer {}", self.token))
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Api {
    fn drop(&mut self) {
        if let Ok(Some(_)) = self.child.try_wait() {
            return;
        }
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + Duration::from_secs(25);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.kill();
    }
}

/// The status and body of a response, whatever the status.
fn call(r: Result<ureq::Response, ureq::Error>) -> (u16, Value, Option<String>) {
    let response = match r {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{e}"),
    };
    let status = response.status();
    let etag = response.header("etag").map(str::to_owned);
    let text = response.into_string().unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
        etag,
    )
}

fn input(name: &str, price: &str) -> Value {
    json!({"name": name, "price": price, "category": "Kitchen", "stock_quantity": 5, "description": "A *fine* thing."})
}

#[test]
fn products_can_be_created_read_listed_updated_and_deleted() {
    let api = Api::start();
    let (status, created, etag) = call(
        api.send("POST", "/api/products")
            .send_json(input("Oak Bread Bin", "39.50")),
    );
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["slug"], "oak-bread-bin");
    assert_eq!(created["price"], "39.50");
    assert_eq!(etag.as_deref(), Some("\"1\""));
    let id = created["product_id"].as_i64().unwrap();

    let (status, got, etag) = call(api.get(&format!("/api/products/{id}")).call());
    assert_eq!((status, etag.as_deref()), (200, Some("\"1\"")));
    assert_eq!(got["name"], "Oak Bread Bin");

    let (_, page, _) = call(
        api.get("/api/products?q=bread%20bin&category=Kitchen&in_stock=true")
            .call(),
    );
    assert_eq!(page["total"], 1);
    assert_eq!(page["items"][0]["product_id"], id);
    let (_, page, _) = call(api.get("/api/products?per_page=7&page=2").call());
    assert_eq!(page["items"].as_array().unwrap().len(), 7);
    assert_eq!(page["total"], 101);

    let path = format!("/api/products/{id}");
    let (status, problem, _) = call(
        api.send("PUT", &path)
            .send_json(input("Oak Bread Bin", "41.00")),
    );
    assert_eq!(status, 428, "{problem}");
    let (status, updated, etag) = call(
        api.send("PUT", &path)
            .set("If-Match", "\"1\"")
            .send_json(input("Oak Bread Bin", "41.00")),
    );
    assert_eq!((status, etag.as_deref()), (200, Some("\"2\"")), "{updated}");
    assert_eq!(updated["price"], "41.00");
    let (status, problem, _) = call(
        api.send("PUT", &path)
            .set("If-Match", "\"1\"")
            .send_json(input("Oak Bread Bin", "43.00")),
    );
    assert_eq!(status, 412, "a stale edit: {problem}");
    assert_eq!(problem["status"], 412);

    let (status, _, _) = call(api.send("DELETE", &path).call());
    assert_eq!(status, 204);
    let (status, problem, _) = call(api.get(&path).call());
    assert_eq!(status, 404, "{problem}");
}

#[test]
fn photos_are_uploaded_checked_and_listed_on_products_in_order() {
    let api = Api::start();
    let upload = |bytes: &[u8]| {
        call(
            api.send("POST", "/api/images")
                .set("Content-Type", "application/octet-stream")
                .send_bytes(bytes),
        )
    };
    // A phone-sized photo: 12 MP, several MB, streamed to disk and decoded whole.
    let photo = testkit::images::jpeg(4000, 3000);
    assert!(photo.len() > 2 * 1024 * 1024, "{} bytes", photo.len());
    let (status, first, _) = upload(&photo);
    assert_eq!(status, 201, "{first}");
    assert_eq!(
        (first["width"].as_u64(), first["height"].as_u64()),
        (Some(4000), Some(3000))
    );
    let url = first["url"].as_str().unwrap().to_owned();
    assert!(
        url.starts_with("/images/") && url.ends_with(".jpg"),
        "{url}"
    );
    let (status, again, _) = upload(&photo);
    assert_eq!(
        (status, &again["url"]),
        (201, &first["url"]),
        "kept once, by content"
    );
    let (status, second, _) = upload(&testkit::images::png(40, 30));
    assert_eq!(status, 201, "{second}");

    // Refused, with a reason, and nothing kept.
    for (bytes, expected) in [
        (testkit::images::bomb_png(), "50000×50000 pixels"),
        (photo[..photo.len() / 3].to_vec(), "cut short"),
        (b"GIF89a......".to_vec(), "is not a JPEG, PNG or WebP image"),
    ] {
        let (status, problem, _) = upload(&bytes);
        assert_eq!(status, 422, "{problem}");
        assert!(
            problem["detail"].as_str().unwrap().contains(expected),
            "{problem}"
        );
    }
    let (status, problem, _) = upload(&vec![0xFF; 25 * 1024 * 1024 + 1]);
    assert_eq!(status, 413, "{problem}");
    let (status, _, _) = call(
        ureq::post(&format!("{}/api/images", api.url))
            .set("Content-Type", "application/octet-stream")
            .send_bytes(&photo[..1024]),
    );
    // (Not a byte is read first: a large body without a token is cut off.)
    assert_eq!(status, 401, "no token, no upload");
    // Elsewhere the JSON limits stand: a product's, with a token, and the
    // default's without.
    let (status, _, _) = call(
        api.send("POST", "/api/products")
            .set("Content-Type", "application/json")
            .send_bytes(&vec![b' '; 257 * 1024]),
    );
    assert_eq!(status, 413);
    let (status, _, _) = call(
        ureq::post(&format!("{}/api/products", api.url))
            .set("Content-Type", "application/json")
            .send_bytes(&vec![b' '; 65 * 1024]),
    );
    assert_eq!(status, 413, "without a token, 64 KiB");

    let second_url = second["url"].as_str().unwrap();
    let mut body = input("Gallery Jug", "19.00");
    body["images"] = json!([
        {"url": url, "alt": "The jug, full of water"},
        {"url": second_url}
    ]);
    let (status, made, _) = call(api.send("POST", "/api/products").send_json(body.clone()));
    assert_eq!(status, 201, "{made}");
    assert_eq!(made["image_url"], json!(url));
    assert_eq!(made["images"][0]["alt"], "The jug, full of water");
    assert_eq!(made["images"][1], json!({"url": second_url, "alt": ""}));
    let mut bad = body.clone();
    bad["images"][1]["url"] = json!("javascript:alert(1)");
    let (status, problem, _) = call(api.send("POST", "/api/products").send_json(bad));
    assert_eq!(status, 422, "{problem}");
    assert!(
        problem["detail"].as_str().unwrap().contains("url"),
        "{problem}"
    );
    // image_url beside images must name the first.
    body["image_url"] = json!(second_url);
    let (status, problem, _) = call(api.send("POST", "/api/products").send_json(body));
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["errors"][0]["field"], "image_url", "{problem}");
}

#[test]
fn bad_requests_get_problem_details_and_never_a_500() {
    let api = Api::start();
    let (status, problem, _) = call(api.send("POST", "/api/products").send_json(json!({
        "name": "", "price": "1.999", "category": "Kitchen", "stock_quantity": -1,
        "image_url": "javascript:alert(1)"
    })));
    assert_eq!(status, 422);
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["name", "price", "image_url", "stock_quantity"]);

    let (status, problem, _) = call(
        api.send("POST", "/api/products")
            .send_json(json!({"name": "Only a name"})),
    );
    assert_eq!(status, 422, "{problem}");
    let (status, _, _) = call(
        api.send("POST", "/api/products")
            .send_json(json!({"name": "x".repeat(270_000)})),
    );
    assert_eq!(status, 413);
    let (status, _, _) = call(
        api.send("POST", "/api/products")
            .set("Content-Type", "text/plain")
            .send_string("name=x"),
    );
    assert_eq!(status, 415);
    let (status, _, _) = call(
        api.send("POST", "/api/products")
            .set("Content-Type", "application/json")
            .send_string("{not json"),
    );
    assert_eq!(status, 422);

    let (status, problem, _) = call(
        api.send("POST", "/api/products")
            .send_json(input("Alpaca Blend Scarf", "10.00")),
    );
    assert_eq!(status, 409, "a duplicate slug: {problem}");
    let (status, _, _) = call(api.get("/api/products/999999").call());
    assert_eq!(status, 404);
    let (status, _, _) = call(api.get("/api/products/not-a-number").call());
    assert!(status == 404 || status == 422, "{status}");
    let (status, _, _) = call(api.get("/api/products?per_page=1000").call());
    assert_eq!(status, 422);
    // PostgreSQL refuses NUL in text: each is a 422 naming the field, not a 503.
    let (status, problem, _) = call(api.get("/api/products?q=a%00b").call());
    assert_eq!((status, &problem["errors"][0]["field"]), (422, &json!("q")));
    let mut nul = input("Nul Tray", "1.00");
    nul["description"] = json!("a\u{0}b");
    let (status, problem, _) = call(api.send("POST", "/api/products").send_json(nul));
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["errors"][0]["field"], "description");
    let (status, _, _) = login_as(&api, &api.login_token(), "a\u{0}@b.example", "x", &[]);
    assert_eq!(status, 401);

    let (status, problem, _) = call(
        ureq::post(&format!("{}/api/products", api.url))
            .set("Authorization", "Bearer sft_wrong")
            .send_json(input("X Y", "1.00")),
    );
    assert_eq!(status, 401, "{problem}");
    assert_eq!(problem["status"], 401);
}

#[test]
fn every_write_and_admin_operation_in_the_spec_needs_credentials() {
    let api = Api::start();
    let (status, spec, _) = call(api.get("/api/openapi.json").call());
    assert_eq!(status, 200);
    let (_, session, cookie) = login(&api, "a long enough password");
    let cookie = cookie.unwrap().split(';').next().unwrap().to_owned();
    assert!(session["csrf_token"].is_string());
    // Logging in is the one write anyone may attempt.
    let public_writes = [("post", "/api/session")];
    let mut checked = 0;
    for (path, operations) in spec["paths"].as_object().unwrap() {
        for (method, operation) in operations.as_object().unwrap() {
            // No security, or an empty requirement among them: open to
            // anyone (reads that show admins more).
            let public = operation.get("security").is_none_or(|s| {
                s.as_array().is_some_and(|list| {
                    list.iter()
                        .any(|r| r.as_object().is_some_and(|o| o.is_empty()))
                })
            });
            let writes = method != "get";
            if public {
                assert!(
                    !writes || public_writes.contains(&(method.as_str(), path.as_str())),
                    "{method} {path} is a write without security"
                );
                continue;
            }
            let url = format!("{}{}", api.url, path.replace("{id}", "1"));
            let send = |request: ureq::Request| {
                call(if writes {
                    request.send_json(input("No Credentials", "1.00"))
                } else {
                    request.call()
                })
            };
            let (status, problem, _) = send(ureq::request(&method.to_uppercase(), &url));
            assert_eq!(
                status, 401,
                "{method} {path} without credentials: {problem}"
            );
            if writes {
                let (status, problem, _) =
                    send(ureq::request(&method.to_uppercase(), &url).set("Cookie", &cookie));
                assert_eq!(
                    status, 403,
                    "{method} {path} with a session but no CSRF token: {problem}"
                );
            }
            checked += 1;
        }
    }
    assert!(checked >= 7, "{checked} operations checked");
}

#[test]
fn a_write_is_published_by_the_rebuild_worker() {
    let api = Api::start();
    let path = "/api/products/1";
    let (_, product, etag) = call(api.get(path).call());
    let mut changed = product.clone();
    changed["price"] = json!("1234.56");
    let body = json!({
        "slug": changed["slug"], "name": changed["name"], "description": changed["description"],
        "price": "1234.56", "image_url": changed["image_url"], "category": changed["category"],
        "stock_quantity": changed["stock_quantity"],
    });
    let (status, _, _) = call(
        api.send("PUT", path)
            .set("If-Match", &etag.unwrap())
            .send_json(body),
    );
    assert_eq!(status, 200);
    let feed = api.out.path().join("public/products.json");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let text = std::fs::read_to_string(&feed).unwrap_or_default();
        if text.contains("\"1234.56\"") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the change was not published within 30 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let builds = settled_builds(&api);
    let (status_ready, _, _) = call(api.get("/readyz").call());
    assert_eq!(status_ready, 200);
    let last = &builds[0];
    assert_eq!(last["error"], Value::Null, "{last}");
    assert!(last["catalog_version"].as_i64().unwrap() >= 2, "{last}");
}

#[test]
fn health_and_readiness() {
    let api = Api::start();
    let (status, body, _) = call(api.get("/healthz").call());
    assert_eq!((status, body), (200, Value::String("ok".into())));
    let (status, _, _) = call(api.get("/readyz").call());
    assert_eq!(status, 200);
    let (status, _, _) = call(api.get("/api/docs").call());
    assert_eq!(status, 200);
    // Every answer, a problem or an admin page too, says "nosniff"; "HTTPS
    // only" is said over HTTPS alone (attack.rs).
    for path in [
        "/healthz",
        "/api/products",
        "/api/products/999999",
        "/admin/login",
        "/nowhere",
    ] {
        let response = match api.get(path).call() {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("{path}: {e}"),
        };
        assert_eq!(
            response.header("strict-transport-security"),
            None,
            "{path} over plain HTTP"
        );
        assert_eq!(
            response.header("x-content-type-options"),
            Some("nosniff"),
            "{path}"
        );
    }
}

/// The local S3 stand-in, through the generator's own client builder.
struct Bucket {
    rt: tokio::runtime::Runtime,
    clients: publish::s3::Clients,
    name: String,
}

impl Bucket {
    fn new(tag: &str) -> Self {
        let endpoint = std::env::var("AWS_ENDPOINT_URL").unwrap_or_else(|_| {
            panic!("AWS_ENDPOINT_URL is not set. Run ./scripts/test.sh, or: eval \"$(infra/local/moto.sh start)\"")
        });
        let rt = runtime();
        let clients = rt
            .block_on(publish::s3::clients(&publish::s3::AwsSettings {
                region: Some("us-east-1".into()),
                endpoint_url: Some(endpoint),
            }))
            .unwrap();
        let name = format!(
            "api-{tag}-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .subsec_nanos()
        );
        rt.block_on(clients.s3.create_bucket().bucket(&name).send())
            .unwrap();
        Self { rt, clients, name }
    }

    /// `products.json` as the bucket holds it, if it does.
    fn feed(&self) -> Option<Value> {
        self.rt.block_on(async {
            let got = self
                .clients
                .s3
                .get_object()
                .bucket(&self.name)
                .key("products.json")
                .send()
                .await
                .ok()?;
            let bytes = got.body.collect().await.ok()?.into_bytes();
            serde_json::from_slice(&bytes).ok()
        })
    }

    /// The price of each product in the published feed.
    fn prices(&self) -> Option<std::collections::BTreeMap<i64, String>> {
        let feed = self.feed()?;
        Some(
            feed["products"]
                .as_array()?
                .iter()
                .map(|p| {
                    (
                        p["id"].as_i64().unwrap(),
                        p["price"].as_str().unwrap().to_owned(),
                    )
                })
                .collect(),
        )
    }
}

fn eventually(what: &str, limit: Duration, mut done: impl FnMut() -> bool) -> Duration {
    let started = Instant::now();
    while !done() {
        assert!(
            started.elapsed() < limit,
            "{what} did not happen within {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    started.elapsed()
}

/// `GET /api/rebuilds` once every build it lists has finished. A build's
/// pages reach the site before its row records the outcome, so a test that
/// has seen its change published waits here before reading the row.
fn settled_builds(api: &Api) -> Vec<Value> {
    let mut builds = Vec::new();
    eventually("the builds to finish", Duration::from_secs(60), || {
        let (status, answer, _) = call(api.send("GET", "/api/rebuilds").call());
        assert_eq!(status, 200, "{answer}");
        builds = answer.as_array().cloned().unwrap_or_default();
        !builds.is_empty() && builds.iter().all(|b| b.get("finished_at").is_some())
    });
    builds
}

/// GETs a product, then PUTs it back with a new price. Reads come from the
/// replica, which may not have the last write yet: a 412 means "read again".
fn set_price(api: &Api, id: i64, price: &str) -> u16 {
    for _ in 0..100 {
        let (status, product, etag) = call(api.get(&format!("/api/products/{id}")).call());
        assert_eq!(status, 200, "{product}");
        let body = json!({
            "slug": product["slug"], "name": product["name"], "description": product["description"],
            "price": price, "image_url": product["image_url"], "category": product["category"],
            "stock_quantity": product["stock_quantity"],
            // A new price may be above a sale's compare-at price: the sale ends.
            "compare_at_price": "",
        });
        let (status, answer, _) = call(
            api.send("PUT", &format!("/api/products/{id}"))
                .set("If-Match", &etag.unwrap())
                .send_json(body),
        );
        match status {
            412 => std::thread::sleep(Duration::from_millis(20)),
            _ => {
                assert_eq!(status, 200, "{answer}");
                return status;
            }
        }
    }
    panic!("product {id} stayed stale for 2 s");
}

async fn query_one_bool(url: &str, sql: &str) -> bool {
    let client = testkit::connect(url).await.unwrap();
    client.query_one(sql, &[]).await.unwrap().get(0)
}

#[test]
fn an_update_is_published_even_while_the_replica_is_paused() {
    let pair = Pair::start();
    let rt = runtime();
    rt.block_on(load_shop(&pair.primary_url()));
    let bucket = Bucket::new("ryw");
    let api = Api::start_with(&Setup {
        primary: pair.primary_url(),
        replica: Some(pair.replica_url()),
        bucket: Some(bucket.name.clone()),
        ..Setup::default()
    });
    eventually("the first publish", Duration::from_secs(60), || {
        bucket.feed().is_some()
    });

    // The replica stops replaying at the moment of the write.
    rt.block_on(async {
        let client = testkit::connect(&pair.replica_url()).await.unwrap();
        client
            .query_one("SELECT pg_wal_replay_pause()::text", &[])
            .await
            .unwrap();
    });
    assert_eq!(set_price(&api, 1, "777.77"), 200);
    let took = eventually("the update in the bucket", Duration::from_secs(60), || {
        bucket.prices().is_some_and(|p| p[&1] == "777.77")
    });
    assert!(
        rt.block_on(query_one_bool(
            &pair.replica_url(),
            "SELECT pg_is_wal_replay_paused()"
        )),
        "the replica stayed paused"
    );
    let builds = settled_builds(&api);
    assert_eq!(
        builds[0]["source"], "primary",
        "the build fell back to the primary: {}",
        builds[0]
    );
    eprintln!("published with the replica paused in {took:?}");
}

#[test]
fn two_instances_publish_every_write_one_build_at_a_time() {
    let db = fresh_shop_db();
    let replica = std::env::var("DATABASE_REPLICA_URL")
        .ok()
        .map(|r| testkit::with_database(&r, db.name()));
    let bucket = Bucket::new("fleet");
    let setup = Setup {
        primary: db.url.clone(),
        replica,
        bucket: Some(bucket.name.clone()),
        ..Setup::default()
    };
    let mut first = Api::start_with(&setup);
    let second = Api::start_with(&setup);
    eventually("the first publish", Duration::from_secs(60), || {
        bucket.feed().is_some()
    });

    // 100 writes from 10 clients, spread over both instances.
    std::thread::scope(|scope| {
        for client in 0..10i64 {
            let (first, second) = (&first, &second);
            scope.spawn(move || {
                for n in 0..10i64 {
                    let api = if (client + n) % 2 == 0 { first } else { second };
                    let id = client * 10 + n + 1;
                    assert_eq!(set_price(api, id, &format!("{}.{:02}", 100 + id, n)), 200);
                }
            });
        }
    });

    // One instance dies during a build; the other publishes the last write.
    let rt = runtime();
    let last = "999.99".to_owned();
    assert_eq!(set_price(&first, 1, &last), 200);
    eventually("a build to start", Duration::from_secs(30), || {
        rt.block_on(query_one_bool(
            &db.url,
            "SELECT EXISTS (SELECT 1 FROM site_builds WHERE finished_at IS NULL)",
        ))
    });
    first.kill();
    let expected: std::collections::BTreeMap<i64, String> = rt.block_on(async {
        let client = testkit::connect(&db.url).await.unwrap();
        client
            .query("SELECT product_id, price::text FROM products", &[])
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect()
    });
    assert_eq!(expected[&1], last);
    eventually(
        "the bucket to match the database",
        Duration::from_secs(90),
        || bucket.prices().as_ref() == Some(&expected),
    );

    // Every build ends recorded: the killed instance's, if it was building,
    // as abandoned when the next one started.
    eventually(
        "every build to be recorded as ended",
        Duration::from_secs(30),
        || {
            !rt.block_on(query_one_bool(
                &db.url,
                "SELECT EXISTS (SELECT 1 FROM site_builds WHERE finished_at IS NULL)",
            ))
        },
    );

    // No two builds overlapped, and far fewer builds ran than writes.
    let builds: Vec<(
        chrono::DateTime<chrono::Utc>,
        Option<chrono::DateTime<chrono::Utc>>,
    )> = rt.block_on(async {
        let client = testkit::connect(&db.url).await.unwrap();
        client
            .query(
                "SELECT started_at, finished_at FROM site_builds ORDER BY started_at",
                &[],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect()
    });
    for pair in builds.windows(2) {
        if let (Some(end), next) = (pair[0].1, pair[1].0) {
            assert!(end <= next, "builds overlap: {pair:?}");
        }
    }

    assert!(builds.len() < 50, "{} builds for 101 writes", builds.len());
    eprintln!("{} builds for 101 writes", builds.len());

    // Both instances heard of every write, but none was built twice: each
    // build that published read a newer catalog than the one before.
    let published: Vec<i64> = rt.block_on(async {
        let client = testkit::connect(&db.url).await.unwrap();
        client
            .query(
                "SELECT catalog_version FROM site_builds
                 WHERE error IS NULL AND finished_at IS NOT NULL ORDER BY started_at",
                &[],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect()
    });
    assert!(
        published.windows(2).all(|w| w[0] < w[1]),
        "a version was built twice: {published:?}"
    );
    drop(second);
}

fn login(api: &Api, password: &str) -> (u16, Value, Option<String>) {
    login_as(api, &api.login_token(), "Owner@Shop.example", password, &[])
}

/// A login form's token and the cookie (`name=value`) it is bound to.
struct LoginToken {
    token: String,
    cookie: String,
}

impl Api {
    fn login_token(&self) -> LoginToken {
        let response = self.get("/api/session/login-token").call().unwrap();
        let cookie = response.header("set-cookie").unwrap();
        let cookie = cookie.split(';').next().unwrap().to_owned();
        let body: Value = response.into_json().unwrap();
        LoginToken {
            token: body["csrf_token"].as_str().unwrap().to_owned(),
            cookie,
        }
    }

    /// The server's peak resident memory so far, in bytes (VmHWM).
    fn peak_rss(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let kb: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap();
        kb * 1024
    }
}

/// `POST /api/session` with a login token and more headers: the status,
/// the body, and the session's `Set-Cookie`.
fn login_as(
    api: &Api,
    token: &LoginToken,
    email: &str,
    password: &str,
    headers: &[(&str, &str)],
) -> (u16, Value, Option<String>) {
    let mut request = ureq::post(&format!("{}/api/session", api.url))
        .set("Cookie", &token.cookie)
        .set("X-CSRF-Token", &token.token);
    for (name, value) in headers {
        request = request.set(name, value);
    }
    let response = request.send_json(json!({"email": email, "password": password}));
    let cookie = match &response {
        Ok(r) => r.header("set-cookie").map(str::to_owned),
        Err(_) => None,
    };
    let (status, body, _) = call(response);
    (status, body, cookie)
}

#[test]
fn a_browser_session_needs_its_csrf_token_to_change_anything() {
    let api = Api::start();
    let (status, problem, _) = login(&api, "not the password");
    assert_eq!(status, 401, "{problem}");
    assert_eq!(
        problem["detail"],
        "the e-mail address or the password is wrong"
    );

    let (status, body, cookie) = login(&api, "a long enough password");
    assert_eq!(status, 200, "{body}");
    let cookie = cookie.unwrap();
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    let session = cookie.split(';').next().unwrap().to_owned();
    let csrf = body["csrf_token"].as_str().unwrap().to_owned();
    let with_cookie = |method: &str, path: &str| {
        ureq::request(method, &format!("{}{path}", api.url)).set("Cookie", &session)
    };

    let (status, _, _) = call(with_cookie("GET", "/api/rebuilds").call());
    assert_eq!(status, 200, "reads need no CSRF token");
    let (status, problem, _) = call(with_cookie("POST", "/api/rebuilds").call());
    assert_eq!(status, 403, "no CSRF token: {problem}");
    let (status, _, _) = call(
        with_cookie("POST", "/api/rebuilds")
            .set("X-CSRF-Token", "forged")
            .call(),
    );
    assert_eq!(status, 403, "a wrong CSRF token");
    let (status, _, _) = call(
        with_cookie("POST", "/api/rebuilds")
            .set("X-CSRF-Token", &csrf)
            .call(),
    );
    assert_eq!(status, 202);
    let (status, _, _) = call(
        ureq::request("GET", &format!("{}/api/rebuilds", api.url))
            .set("Cookie", "shopfront_session=e30.AAAA")
            .call(),
    );
    assert_eq!(status, 401, "a forged cookie");

    let response = with_cookie("DELETE", "/api/session")
        .set("X-CSRF-Token", &csrf)
        .call()
        .unwrap();
    assert_eq!(response.status(), 204);
    assert!(response.header("set-cookie").unwrap().contains("Max-Age=0"));
}

#[test]
fn failed_logins_are_limited_per_account_and_address() {
    let api = Api::start();
    for _ in 0..5 {
        assert_eq!(login(&api, "not the password").0, 401);
    }
    let (status, problem, _) = login(&api, "not the password");
    assert_eq!(status, 429, "{problem}");
    let (status, _, _) = login(&api, "a long enough password");
    assert_eq!(
        status, 429,
        "from this address even the right password waits"
    );
}

/// Copies a folder tree.
fn copy_tree(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[test]
fn without_a_database_the_api_edits_the_content_folder_and_publishes_to_a_folder() {
    let dir = tempfile::tempdir().unwrap();
    let content = dir.path().join("content");
    copy_tree(&repo_root().join("content"), &content);
    let setup = Setup {
        content: Some(content.clone()),
        state: Some(dir.path().join("state")),
        ..Setup::default()
    };
    let api = Api::start_with(&setup);
    assert!(dir.path().join("state/accounts.json").is_file());
    let published = api.out.path().join("public/products.json");
    // Between the folder publish's two renames there is no products.json for
    // a moment: a check that something is gone must not pass on that gap.
    let products_json = || {
        for _ in 0..50 {
            if let Ok(text) = std::fs::read_to_string(&published) {
                return text;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        String::new()
    };
    eventually(
        "the site is published at start",
        Duration::from_secs(30),
        || products_json().contains("Alpaca Blend Scarf"),
    );

    // Create: a new file, in the content format.
    let (status, created, etag) = call(
        api.send("POST", "/api/products")
            .send_json(input("Copper Zeta Ladle", "14.50")),
    );
    assert_eq!(status, 201, "{created}");
    let file = content.join("products/copper-zeta-ladle.md");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains("name = \"Copper Zeta Ladle\"") && text.contains("price = \"14.50\""));
    let catalog = content::load(&content).expect("the folder stays valid");
    assert_eq!(catalog.products.len(), 101);
    let id = created["product_id"].as_i64().unwrap();
    assert_eq!(
        created["version"].as_i64().map(|v| format!("\"{v}\"")),
        etag
    );

    // Update with the right ETag, then with the stale one.
    let mut edit = input("Copper Zeta Ladle", "15.00");
    edit["slug"] = json!("zeta-ladle");
    let (status, updated, new_etag) = call(
        api.send("PUT", &format!("/api/products/{id}"))
            .set("If-Match", etag.as_deref().unwrap())
            .send_json(edit.clone()),
    );
    assert_eq!(status, 200, "{updated}");
    assert!(!file.exists(), "the file follows its slug");
    assert!(content.join("products/zeta-ladle.md").is_file());
    let (status, _, _) = call(
        api.send("PUT", &format!("/api/products/{id}"))
            .set("If-Match", etag.as_deref().unwrap())
            .send_json(edit),
    );
    assert_eq!(status, 412);
    let (status, listed, _) = call(api.get("/api/products?q=zeta").call());
    assert_eq!((status, &listed["total"]), (200, &json!(1)), "{listed}");
    let (status, _, _) = call(api.send("POST", "/api/products").send_json(json!({
        "slug": "zeta-ladle", "name": "Other Mug", "price": "1.00", "category": "Kitchen", "stock_quantity": 1
    })));
    assert_eq!(status, 409, "a duplicate slug");
    eventually("the edit is published", Duration::from_secs(30), || {
        products_json().contains("\"15.00\"") && products_json().contains("zeta-ladle")
    });

    // Delete, and the build history.
    let (status, _, _) = call(
        api.send("DELETE", &format!("/api/products/{id}"))
            .set("If-Match", new_etag.as_deref().unwrap())
            .call(),
    );
    assert_eq!(status, 204);
    assert!(!content.join("products/zeta-ladle.md").exists());
    eventually("the delete is published", Duration::from_secs(30), || {
        !products_json().contains("zeta-ladle")
    });
    let builds = settled_builds(&api);
    let (status_ready, _, _) = call(api.get("/readyz").call());
    assert_eq!(status_ready, 200);
    assert!(builds.len() >= 2, "{builds:?}");
    assert!(
        builds.iter().all(|b| b["source"] == "content"),
        "{builds:?}"
    );
    // A build that read the folder during the rename may have failed and
    // been retried; the last one stands.
    assert!(builds[0].get("error").is_none(), "{builds:?}");
}

/// A `multipart/form-data` body: (name, file name, bytes) per part.
fn multipart(parts: &[(&str, Option<&str>, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "shopfront-test-boundary-7MA4YWxk";
    let mut body = Vec::new();
    for (name, file, bytes) in parts {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        match file {
            Some(file) => body.extend_from_slice(
                format!(
                    "Content-Disposition: form-data; name=\"{name}\"; filename=\"{file}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
                )
                .as_bytes(),
            ),
            None => body.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
            ),
        }
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// The admin pages as a browser without JavaScript sees them.
struct Browser<'a> {
    api: &'a Api,
    agent: ureq::Agent,
    cookie: String,
}

impl Browser<'_> {
    /// The status, the body and the headers (lowercase names).
    fn get(&self, path: &str) -> (u16, String, std::collections::HashMap<String, String>) {
        let response = match self
            .agent
            .get(&format!("{}{path}", self.api.url))
            .set("Cookie", &self.cookie)
            .call()
        {
            Ok(r) | Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("{e}"),
        };
        let headers = response
            .headers_names()
            .iter()
            .map(|n| {
                (
                    n.to_lowercase(),
                    response.header(n).unwrap_or_default().to_owned(),
                )
            })
            .collect();
        (response.status(), response.into_string().unwrap(), headers)
    }

    fn post(&self, path: &str, content_type: &str, body: &[u8]) -> (u16, String, Option<String>) {
        let response = match self
            .agent
            .post(&format!("{}{path}", self.api.url))
            .set("Cookie", &self.cookie)
            .set("Content-Type", content_type)
            .send_bytes(body)
        {
            Ok(r) | Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("{e}"),
        };
        let location = response.header("location").map(str::to_owned);
        (response.status(), response.into_string().unwrap(), location)
    }

    fn csrf(&self) -> String {
        let (_, page, _) = self.get("/admin/products/new");
        let at = page.find("name=\"csrf\" value=\"").expect("a CSRF field") + 19;
        page[at..page[at..].find('"').unwrap() + at].to_owned()
    }
}

#[test]
fn the_admin_checks_uploads_and_csrf_and_keeps_csv_and_names_inert() {
    let api = Api::start();
    let (_, _, cookie) = login(&api, "a long enough password");
    let browser = Browser {
        api: &api,
        agent: ureq::AgentBuilder::new().redirects(0).build(),
        cookie: cookie.unwrap().split(';').next().unwrap().to_owned(),
    };
    let db_count = |sql: &str| -> i64 {
        runtime().block_on(async {
            let target = Target::parse(&api._db.as_ref().unwrap().url, Role::Primary).unwrap();
            let client = target.connect().await.unwrap();
            client.query_one(sql, &[]).await.unwrap().get(0)
        })
    };

    // Without a session: the login page. With one: headers on every page.
    let anonymous = ureq::AgentBuilder::new().redirects(0).build();
    let to_login = anonymous
        .get(&format!("{}/admin/products?q=x", api.url))
        .call()
        .unwrap();
    assert_eq!(to_login.status(), 303);
    assert_eq!(
        to_login.header("location"),
        Some("/admin/login?next=/admin/products%3Fq%3Dx")
    );
    let (status, _, headers) = browser.get("/admin/products");
    assert_eq!(status, 200);
    let csp = &headers["content-security-policy"];
    assert!(csp.contains("frame-ancestors 'none'") && csp.contains("script-src 'self'"));
    assert!(!csp.contains("unsafe-inline"));
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert!(headers.contains_key("referrer-policy"));

    let csrf = browser.csrf();
    let form = |csrf: &str, name: &str, image: Option<(&str, &[u8])>| {
        let mut parts: Vec<(&str, Option<&str>, &[u8])> = vec![
            ("csrf", None, csrf.as_bytes()),
            ("name", None, name.as_bytes()),
            ("price", None, b"9.50"),
            ("category", None, b"Kitchen"),
            ("stock_quantity", None, b"4"),
            ("description", None, b"Plain."),
        ];
        if let Some((file, bytes)) = image {
            parts.push(("image", Some(file), bytes));
        }
        multipart(&parts)
    };
    let products_before = db_count("SELECT count(*) FROM products");

    // A form without the session's CSRF token changes nothing.
    let (ct, body) = form("forged", "Forged Kettle", None);
    let (status, _, _) = browser.post("/admin/products/new", &ct, &body);
    assert_eq!(status, 403);

    // Uploads: the type by the bytes, the size by the limit; nothing stored.
    let (ct, body) = form(
        &csrf,
        "Zeta Teapot",
        Some(("teapot.png", b"not an image at all")),
    );
    let (status, page, _) = browser.post("/admin/products/new", &ct, &body);
    assert_eq!(status, 422);
    assert!(
        page.contains("id=\"image-error\">&quot;teapot.png&quot; is not a JPEG, PNG or WebP image"),
        "{page}"
    );
    assert!(
        page.contains("value=\"Zeta Teapot\""),
        "what was typed is kept"
    );
    let mut big = b"\x89PNG\r\n\x1a\n".to_vec();
    big.resize(25 * 1024 * 1024 + 1, 0);
    let (ct, body) = form(&csrf, "Zeta Teapot", Some(("big.png", &big)));
    let (status, page, _) = browser.post("/admin/products/new", &ct, &body);
    assert_eq!(status, 422);
    assert!(
        page.contains("&quot;big.png&quot; is larger than 25 MiB"),
        "{page}"
    );
    assert!(page.contains("value=\"Zeta Teapot\""));
    // A cut-short photo and a decompression bomb: refused by a whole decode.
    let photo = testkit::images::jpeg(64, 48);
    let (ct, body) = form(
        &csrf,
        "Zeta Teapot",
        Some(("cut.jpg", &photo[..photo.len() / 2])),
    );
    let (status, page, _) = browser.post("/admin/products/new", &ct, &body);
    assert_eq!(status, 422);
    assert!(page.contains("cut short"), "{page}");
    let (ct, body) = form(
        &csrf,
        "Zeta Teapot",
        Some(("bomb.png", &testkit::images::bomb_png())),
    );
    let (status, page, _) = browser.post("/admin/products/new", &ct, &body);
    assert_eq!(status, 422);
    assert!(page.contains("50000×50000 pixels"), "{page}");
    assert_eq!(db_count("SELECT count(*) FROM product_images"), 0);
    assert_eq!(db_count("SELECT count(*) FROM products"), products_before);

    // A good image is stored by its digest and becomes the image_url.
    let png = testkit::images::png(2, 2);
    let (ct, body) = form(
        &csrf,
        "=HYPERLINK(\"http://evil.example\",\"x\")",
        Some(("t.png", &png)),
    );
    let (status, page, location) = browser.post("/admin/products/new", &ct, &body);
    assert_eq!(status, 303, "{page}");
    let location = location.unwrap();
    assert!(location.ends_with("/edit?done=saved"), "{location}");
    assert_eq!(db_count("SELECT count(*) FROM product_images"), 1);
    let (_, edit, _) = browser.get(&location);
    assert!(edit.contains("role=\"status\">Saved."));

    // Export: the formula is text.
    let (status, csv, headers) = browser.get("/admin/export.csv");
    assert_eq!(status, 200);
    assert!(headers["content-type"].starts_with("text/csv"));
    assert!(
        csv.starts_with("\"product_id\",\"slug\",\"name\",\"price\""),
        "{csv}"
    );
    assert!(
        csv.contains("\"'=HYPERLINK(\"\"http://evil.example\"\",\"\"x\"\")\""),
        "{csv}"
    );

    // Import: a bad row stops everything, with its line number.
    let upload = |text: &str| {
        multipart(&[
            ("csrf", None, csrf.as_bytes()),
            ("csv", Some("p.csv"), text.as_bytes()),
        ])
    };
    let header = "product_id,slug,name,price,category,stock_quantity,image_url,description\n";
    let xss = "\"<img src=x onerror=alert(1)>Zeta Mug\"";
    let bad = format!("{header},,{xss},9.00,Kitchen,2,,\n,,Zeta Jug,abc,Kitchen,1,,\n");
    let (ct, body) = upload(&bad);
    let (status, page, _) = browser.post("/admin/import", &ct, &body);
    assert_eq!(status, 422);
    assert!(page.contains("<li>Line 3: price: "), "{page}");
    assert!(!page.contains("Apply import"));
    let good = bad.replace("abc", "9.00");
    let (ct, body) = upload(&good);
    let (status, page, _) = browser.post("/admin/import", &ct, &body);
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("2 to create, 0 to update, 0 unchanged."),
        "{page}"
    );
    let applied = format!(
        "csrf={}&csv={}",
        csrf,
        good.bytes()
            .map(|b| if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            })
            .collect::<String>()
    );
    let (status, _, location) = browser.post(
        "/admin/import/apply",
        "application/x-www-form-urlencoded",
        applied.as_bytes(),
    );
    assert_eq!(status, 303);
    assert!(
        location
            .unwrap()
            .contains("done=imported&created=2&updated=0&unchanged=0")
    );
    let (_, list, _) = browser.get("/admin/products?q=zeta");
    assert!(
        list.contains("&lt;img src=x onerror=alert(1)&gt;Zeta Mug"),
        "{list}"
    );
    assert!(!list.contains("<img src=x"));

    // Who did it is in the history.
    let id = db_count("SELECT product_id FROM products WHERE slug = 'zeta-jug'");
    let (_, history, _) = browser.get(&format!("/admin/products/{id}/history"));
    assert!(
        history.contains("owner@shop.example") && history.contains("created"),
        "{history}"
    );
}

/// Logs in and keeps the session, as a browser without JavaScript would.
fn browser(api: &Api) -> Browser<'_> {
    let (_, _, cookie) = login(api, "a long enough password");
    Browser {
        api,
        agent: ureq::AgentBuilder::new().redirects(0).build(),
        cookie: cookie.unwrap().split(';').next().unwrap().to_owned(),
    }
}

/// Status, the compare-at price, the search fields, GTIN, MPN and buy URL,
/// through the JSON API, the admin and the CSV import, on whichever store
/// `api` has.
fn merchandising_is_checked_filtered_previewed_and_recorded(api: &Api) {
    // Each bad field gets a 422 that names it.
    let long = "x".repeat(71);
    for (field, value) in [
        ("compare_at_price", json!("39.50")),
        ("compare_at_price", json!("12.00")),
        ("seo_title", json!(long)),
        ("seo_description", json!("y".repeat(161))),
        ("gtin", json!("4006381333932")),
        ("mpn", json!("a\u{7}b")),
        ("buy_url", json!("http://pay.example.com/bin")),
        ("buy_url", json!("javascript:alert(1)")),
    ] {
        let mut body = input("Oak Bread Bin", "39.50");
        body[field] = value;
        let (status, problem, _) = call(api.send("POST", "/api/products").send_json(body));
        assert_eq!(status, 422, "{field}: {problem}");
        assert_eq!(problem["errors"][0]["field"], field, "{problem}");
        assert_eq!(problem["errors"].as_array().unwrap().len(), 1, "{problem}");
    }
    let mut body = input("Oak Bread Bin", "39.50");
    body["status"] = json!("live");
    let (status, problem, _) = call(api.send("POST", "/api/products").send_json(body));
    assert_eq!(status, 422, "not one of the spec's statuses: {problem}");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("ProductStatus"),
        "{problem}"
    );

    // A draft, created and listed with its status; the default is active.
    let mut body = input("Oak Bread Bin", "39.50");
    for (field, value) in [
        ("status", "draft"),
        ("compare_at_price", "45"),
        ("seo_title", "Oak bread bin, hand made"),
        ("seo_description", "Keeps a loaf fresh for days."),
        ("gtin", "4006381333931"),
        ("mpn", "OBB-1"),
        ("buy_url", "https://pay.example.com/bin"),
    ] {
        body[field] = json!(value);
    }
    let (status, draft, etag) = call(api.send("POST", "/api/products").send_json(body.clone()));
    assert_eq!(status, 201, "{draft}");
    assert_eq!(draft["status"], "draft");
    assert_eq!(draft["compare_at_price"], "45.00");
    assert_eq!(draft["gtin"], "4006381333931");
    assert_eq!(draft["buy_url"], "https://pay.example.com/bin");
    let id = draft["product_id"].as_i64().unwrap();
    let (status, active, _) = call(
        api.send("POST", "/api/products")
            .send_json(input("Oak Crumb Tray", "12.00")),
    );
    assert_eq!((status, &active["status"]), (201, &json!("active")));
    assert!(active.get("compare_at_price").is_none(), "{active}");

    let (_, page, _) = call(
        api.send("GET", "/api/products?status=draft&per_page=100")
            .call(),
    );
    let drafts: Vec<i64> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["product_id"].as_i64().unwrap())
        .collect();
    assert_eq!(drafts, [id], "{page}");
    assert_eq!(page["items"][0]["status"], "draft");
    let (_, page, _) = call(api.send("GET", "/api/products?q=oak&per_page=100").call());
    let listed = page["items"].as_array().unwrap();
    assert!(
        listed
            .iter()
            .any(|p| p["product_id"] == id && p["status"] == "draft"),
        "an admin sees every status without the filter: {page}"
    );
    // Anyone else sees what the storefront shows: no draft, however asked.
    let (_, page, _) = call(api.get("/api/products?q=oak&per_page=100").call());
    let listed = page["items"].as_array().unwrap();
    assert!(
        !listed.is_empty() && listed.iter().all(|p| p["status"] == "active"),
        "{page}"
    );
    let (_, page, _) = call(api.get("/api/products?status=draft").call());
    assert_eq!(
        (&page["total"], page["items"].as_array().unwrap().len()),
        (&json!(0), 0),
        "{page}"
    );
    let (status, _, _) = call(api.get(&format!("/api/products/{id}")).call());
    assert_eq!(status, 404, "a draft is not public");
    let (status, _, _) = call(api.send("GET", &format!("/api/products/{id}")).call());
    assert_eq!(status, 200, "an admin reads it");
    let answer = api.get("/api/products?q=oak").call().unwrap();
    assert_eq!(answer.header("cache-control"), Some("private, no-cache"));
    assert!(
        answer
            .all("vary")
            .iter()
            .any(|v| v.contains("Authorization")),
        "{:?}",
        answer.all("vary")
    );
    // An update that leaves the new fields out (a client older than them)
    // keeps them: the draft stays a draft, on sale, with its identifiers.
    let mut older = input("Oak Bread Bin", "39.50");
    older["stock_quantity"] = json!(9);
    let (status, kept, _) = call(
        api.send("PUT", &format!("/api/products/{id}"))
            .set("If-Match", etag.as_deref().unwrap())
            .send_json(older),
    );
    assert_eq!(status, 200, "{kept}");
    assert_eq!(kept["stock_quantity"], 9);
    for field in [
        "status",
        "compare_at_price",
        "seo_title",
        "seo_description",
        "gtin",
        "mpn",
        "buy_url",
    ] {
        assert_eq!(kept[field], draft[field], "{field} is kept");
    }
    let etag = Some(format!("\"{}\"", kept["version"]));
    let (_, page, _) = call(api.get("/api/products?q=oak&status=active").call());
    assert!(
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["status"] == "active")
    );
    let (_, page, _) = call(api.get("/api/products?status=archived").call());
    assert_eq!(page["total"], 0);
    let (status, problem, _) = call(api.get("/api/products?status=live").call());
    assert_eq!(status, 422, "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("ProductStatus"),
        "{problem}"
    );

    // The preview is behind the login, and shows a draft.
    let preview = format!("/admin/products/{id}/preview");
    let anonymous = ureq::AgentBuilder::new().redirects(0).build();
    let response = anonymous
        .get(&format!("{}{preview}", api.url))
        .call()
        .unwrap();
    assert_eq!(response.status(), 303);
    assert!(
        response
            .header("location")
            .unwrap()
            .starts_with("/admin/login")
    );
    let browser = browser(api);
    let (status, html, headers) = browser.get(&preview);
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("Oak Bread Bin"), "{html}");
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(headers["x-robots-tag"], "noindex");
    let (status, css, headers) = browser.get("/admin/preview-assets/site.css");
    assert_eq!(status, 200);
    assert!(headers["content-type"].starts_with("text/css") && !css.is_empty());
    let (_, list, _) = browser.get("/admin/products?status=draft");
    assert!(
        list.contains("Oak Bread Bin") && list.contains(">Draft</span>"),
        "{list}"
    );
    assert!(list.contains(&preview));

    // Made active through the API: the history shows the change of status.
    body["status"] = json!("active");
    let (status, updated, _) = call(
        api.send("PUT", &format!("/api/products/{id}"))
            .set("If-Match", etag.as_deref().unwrap())
            .send_json(body),
    );
    assert_eq!(
        (status, &updated["status"]),
        (200, &json!("active")),
        "{updated}"
    );
    let (_, history, _) = browser.get(&format!("/admin/products/{id}/history"));
    let row = history
        .lines()
        .find(|l| l.contains("<td>status</td>"))
        .unwrap_or_else(|| panic!("no change of status: {history}"));
    assert!(
        row.contains(">draft</td>") && row.contains(">active</td>"),
        "{row}"
    );

    // The admin's form names each bad field next to it.
    let csrf = browser.csrf();
    let title = "t".repeat(71);
    let (ct, form) = multipart(&[
        ("csrf", None, csrf.as_bytes()),
        ("name", None, b"Oak Loaf Board"),
        ("price", None, b"20.00"),
        ("category", None, b"Kitchen"),
        ("stock_quantity", None, b"1"),
        ("status", None, b"draft"),
        ("compare_at_price", None, b"19.99"),
        ("seo_title", None, title.as_bytes()),
        ("gtin", None, b"12345670"),
        ("buy_url", None, b"http://pay.example.com/board"),
    ]);
    let (status, page, _) = browser.post("/admin/products/new", &ct, &form);
    assert_eq!(status, 422, "{page}");
    for field in ["compare_at_price", "seo_title", "buy_url"] {
        assert!(
            page.contains(&format!("id=\"{field}-error\"")),
            "{field}: {page}"
        );
    }
    assert!(
        !page.contains("id=\"gtin-error\""),
        "12345670 is a good GTIN-8"
    );

    // The CSV import: every bad cell with its line; an old file still imports.
    let upload = |text: &str| {
        multipart(&[
            ("csrf", None, csrf.as_bytes()),
            ("csv", Some("p.csv"), text.as_bytes()),
        ])
    };
    let header = "slug,name,price,category,stock_quantity,image_url,description,status,compare_at_price,seo_title,seo_description,gtin,mpn,buy_url\n";
    let bad = format!(
        "{header},Zeta Good,9.00,Kitchen,1,,,draft,,,,,,\n\
         ,Zeta Live,9.00,Kitchen,1,,,live,,,,,,\n\
         ,Zeta Sale,9.00,Kitchen,1,,,,8.00,,,,,\n\
         ,Zeta Wordy,9.00,Kitchen,1,,,,,{title},,,,\n\
         ,Zeta Code,9.00,Kitchen,1,,,,,,,4006381333932,,\n\
         ,Zeta Plain,9.00,Kitchen,1,,,,,,,,,http://pay.example.com/z\n"
    );
    let (ct, form) = upload(&bad);
    let (status, page, _) = browser.post("/admin/import", &ct, &form);
    assert_eq!(status, 422, "{page}");
    for (line, field) in [
        (3, "status"),
        (4, "compare_at_price"),
        (5, "seo_title"),
        (6, "gtin"),
        (7, "buy_url"),
    ] {
        assert!(
            page.contains(&format!("<li>Line {line}: {field}: ")),
            "line {line}: {page}"
        );
    }
    let old = format!(
        "product_id,slug,name,price,category,stock_quantity,image_url,description\n\
         {id},oak-bread-bin,Oak Bread Bin,39.50,Kitchen,5,,A *fine* thing.\n"
    );
    let (ct, form) = upload(&old);
    let (status, page, _) = browser.post("/admin/import", &ct, &form);
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("0 to create, 0 to update, 1 unchanged."),
        "{page}"
    );
    let (status, csv, _) = browser.get("/admin/export.csv");
    assert_eq!(status, 200);
    assert!(csv.lines().next().unwrap().ends_with(
        "\"status\",\"compare_at_price\",\"seo_title\",\"seo_description\",\"gtin\",\"mpn\",\"buy_url\""
    ));
    assert!(
        csv.contains("\"active\",\"45.00\",\"Oak bread bin, hand made\""),
        "{csv}"
    );
}

#[test]
fn merchandising_fields_on_postgres() {
    let api = Api::start();
    merchandising_is_checked_filtered_previewed_and_recorded(&api);
}

#[test]
fn merchandising_fields_on_the_embedded_default() {
    let dir = tempfile::tempdir().unwrap();
    let content = dir.path().join("content");
    copy_tree(&repo_root().join("content"), &content);
    let api = Api::start_with(&Setup {
        content: Some(content.clone()),
        state: Some(dir.path().join("state")),
        ..Setup::default()
    });
    merchandising_is_checked_filtered_previewed_and_recorded(&api);
    let catalog = content::load(&content).expect("the folder stays valid");
    let bin = catalog
        .products
        .iter()
        .find(|p| p.slug.as_str() == "oak-bread-bin")
        .expect("active, so listed");
    assert_eq!(bin.merchandising.mpn.as_deref(), Some("OBB-1"));
}
