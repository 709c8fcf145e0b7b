//! The real `api` binary, spawned on port 0 against a fresh database on the
//! local PostgreSQL primary (the test command starts the pair and sets
//! DATABASE_URL), publishing to a temporary folder.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use generator::db::{Role, Target};
use serde_json::{Value, json};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A database of the test's own, migrated and loaded with content/; dropped
/// at the end.
struct Db {
    admin_url: String,
    name: String,
    url: String,
}

impl Db {
    fn new() -> Self {
        let admin_url = std::env::var("DATABASE_URL").unwrap_or_else(|_| {
            panic!("DATABASE_URL is not set. Run ./scripts/test.sh, or start the local pair: eval \"$(infra/local/pg.sh start)\"")
        });
        let name = format!(
            "api_test_{}_{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .subsec_nanos()
        );
        let (base, _) = admin_url.rsplit_once('/').unwrap();
        let url = format!("{base}/{name}");
        runtime().block_on(async {
            let admin = Target::parse(&admin_url, Role::Primary).unwrap();
            admin
                .connect()
                .await
                .unwrap()
                .batch_execute(&format!("CREATE DATABASE {name}"))
                .await
                .unwrap();
            let target = Target::parse(&url, Role::Primary).unwrap();
            generator::db::migrate(&target).await.unwrap();
            let catalog = generator::source::content::load(&repo_root().join("content")).unwrap();
            generator::db::import(&target, &catalog).await.unwrap();
        });
        Self {
            admin_url,
            name,
            url,
        }
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        let _ = std::thread::spawn(move || {
            runtime().block_on(async {
                let admin = Target::parse(&admin_url, Role::Primary).unwrap();
                if let Ok(c) = admin.connect().await {
                    let _ = c
                        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .await;
                }
            })
        })
        .join();
    }
}

/// The api binary, serving on a free port; stopped with SIGTERM when dropped.
struct Api {
    child: Child,
    url: String,
    token: String,
    out: tempfile::TempDir,
    _db: Db,
}

fn api_cmd(db: &Db) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_api"));
    cmd.env("DATABASE_URL", &db.url)
        .env_remove("DATABASE_REPLICA_URL")
        .env_remove("S3_BUCKET")
        .env_remove("LOG_FORMAT");
    cmd
}

impl Api {
    fn start() -> Self {
        let db = Db::new();
        let mut create = api_cmd(&db)
            .args(["admin", "create-user", "--email", "owner@shop.example"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        use std::io::Write as _;
        create
            .stdin
            .take()
            .unwrap()
            .write_all(b"a long enough password\n")
            .unwrap();
        assert!(create.wait().unwrap().success());
        let token = api_cmd(&db)
            .args(["admin", "create-token", "--email", "owner@shop.example"])
            .stderr(Stdio::null())
            .output()
            .unwrap();
        assert!(token.status.success());
        let token = String::from_utf8(token.stdout).unwrap().trim().to_owned();

        let out = tempfile::tempdir().unwrap();
        let mut child = api_cmd(&db)
            .arg("serve")
            .env("API_ADDR", "127.0.0.1:0")
            .env("CONTENT_DIR", repo_root().join("content"))
            .env("THEMES_DIR", repo_root().join("themes"))
            .env("PUBLISH_DIR", out.path().join("public"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
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
            _db: db,
        }
    }

    fn get(&self, path: &str) -> ureq::Request {
        ureq::get(&format!("{}{path}", self.url))
    }

    fn send(&self, method: &str, path: &str) -> ureq::Request {
        ureq::request(method, &format!("{}{path}", self.url))
            .set("Authorization", &format!("Bearer {}", self.token))
    }
}

impl Drop for Api {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(25);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
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
            .send_json(json!({"name": "x".repeat(70_000)})),
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
    let mut checked = 0;
    for (path, operations) in spec["paths"].as_object().unwrap() {
        for (method, operation) in operations.as_object().unwrap() {
            let public = operation.get("security").is_none();
            let writes = method != "get";
            assert!(
                !(public && writes),
                "{method} {path} is a write without security"
            );
            if public {
                continue;
            }
            let concrete = path.replace("{id}", "1");
            let request = ureq::request(&method.to_uppercase(), &format!("{}{concrete}", api.url));
            let (status, problem, _) = call(if writes {
                request.send_json(input("No Credentials", "1.00"))
            } else {
                request.call()
            });
            assert_eq!(
                status, 401,
                "{method} {path} without credentials: {problem}"
            );
            checked += 1;
        }
    }
    assert!(checked >= 6, "{checked} operations checked");
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
    let (status, builds, _) = call(api.send("GET", "/api/rebuilds").call());
    assert_eq!(status, 200);
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
}
