//! TLS to PostgreSQL, against the local pair, which (like RDS with
//! `rds.force_ssl`) speaks TLS only, with a certificate from a CA of its own.
//! The api's least-privilege role, which `generator migrate` sets up.

use store::{ApiRole, Role, Target};

use crate::common::*;

fn primary_url() -> String {
    std::env::var("DATABASE_URL").expect("DATABASE_URL is set by the test command")
}

/// The test URL with one query setting replaced (or added).
fn with_setting(url: &str, key: &str, value: &str) -> String {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut pairs: Vec<String> = query
        .split('&')
        .filter(|p| !p.is_empty() && !p.starts_with(&format!("{key}=")))
        .map(str::to_owned)
        .collect();
    pairs.push(format!("{key}={value}"));
    format!("{base}?{}", pairs.join("&"))
}

#[tokio::test]
async fn the_suite_runs_over_verified_tls() {
    let url = primary_url();
    assert!(
        url.contains("sslmode=verify-full") && url.contains("sslrootcert="),
        "the test command's DATABASE_URL verifies the server: {url}"
    );
    let client = testkit::connect(&url).await.unwrap();
    let row = client
        .query_one(
            "SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .await
        .unwrap();
    assert!(row.get::<_, bool>(0), "this session is encrypted");
    assert!(row.get::<_, String>(1).starts_with("TLSv1."));
    // And the replica streams from the primary over TLS too.
    let streaming: Vec<bool> = client
        .query(
            "SELECT s.ssl FROM pg_stat_replication r JOIN pg_stat_ssl s USING (pid)",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(
        !streaming.is_empty() && streaming.iter().all(|&ssl| ssl),
        "{streaming:?}"
    );
}

#[tokio::test]
async fn the_pair_refuses_plain_connections() {
    let url = with_setting(&primary_url(), "sslmode", "disable");
    let target = Target::parse(&url, Role::Primary).unwrap();
    let err = target.connect().await.unwrap_err().to_string();
    assert!(
        err.contains(&format!("at {}:", "127.0.0.1")) && err.contains("no encryption"),
        "the server says why: {err}"
    );
    assert!(
        err.contains("sslmode"),
        "and the hint points at the URL's TLS settings: {err}"
    );
    // prefer: TLS when offered, as libpq does.
    let url = with_setting(&primary_url(), "sslmode", "prefer");
    let client = testkit::connect(&url).await.unwrap();
    let ssl: bool = client
        .query_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(ssl);
}

#[tokio::test]
async fn verify_full_refuses_a_certificate_for_another_host() {
    // The right server at the right address, reached under a name its
    // certificate does not carry: as if DNS pointed db.example.invalid here.
    let url = with_setting(
        &primary_url().replacen("@127.0.0.1:", "@db.example.invalid:", 1),
        "hostaddr",
        "127.0.0.1",
    );
    let port = url
        .split("db.example.invalid:")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap()
        .to_owned();
    let err = Target::parse(&url, Role::Primary)
        .unwrap()
        .connect()
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(&format!(
            "cannot connect to the primary (DATABASE_URL) at db.example.invalid:{port}"
        )),
        "the error names the host and port: {err}"
    );
    assert!(
        err.contains("certificate"),
        "and the certificate problem: {err}"
    );
    assert!(err.contains("verify-full"), "and what to check: {err}");
    assert!(
        !err.contains("shopfront-local"),
        "but never the password: {err}"
    );

    // verify-ca checks the chain only, so the same server passes...
    let ca_only = with_setting(&url, "sslmode", "verify-ca");
    testkit::connect(&ca_only).await.unwrap();
    // ...and a CA that did not sign the certificate fails it.
    let other_ca = tempfile::tempdir().unwrap();
    let pem = other_ca.path().join("ca.pem");
    let made = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args(["-nodes", "-days", "1", "-subj", "/CN=another CA", "-keyout"])
        .arg(other_ca.path().join("ca.key"))
        .arg("-out")
        .arg(&pem)
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let wrong_ca = with_setting(&ca_only, "sslrootcert", pem.to_str().unwrap());
    let err = testkit::connect(&wrong_ca).await.unwrap_err().to_string();
    assert!(err.contains("certificate"), "{err}");
}

#[tokio::test]
async fn a_missing_root_certificate_is_reported_before_any_connection() {
    let url = with_setting(&primary_url(), "sslrootcert", "/nonexistent/rds-ca.pem");
    let err = Target::parse(&url, Role::Replica).unwrap_err().to_string();
    assert!(
        err.contains("the replica (DATABASE_REPLICA_URL)")
            && err.contains("/nonexistent/rds-ca.pem"),
        "{err}"
    );
}

#[tokio::test]
async fn the_api_role_reads_and_writes_the_catalog_and_nothing_else() {
    let db = FreshDb::new().await;
    let owner = Target::parse(&db.url, Role::Primary).unwrap();
    let name = format!("shopfront_api_{}", std::process::id());
    // Shell and SQL metacharacters, as a generated secret may hold.
    let password = r#"p$&();<>|`'"\ %x"#.to_owned();
    let role = ApiRole {
        name: name.clone(),
        password: password.clone(),
    };
    let migrated = store::migrate(&owner, Some(&role)).await.unwrap();
    assert_eq!(migrated.api_role.as_deref(), Some(name.as_str()));
    // Idempotent, and a rotated password takes effect.
    let role = ApiRole {
        password: format!("{password}2"),
        ..role
    };
    store::migrate(&owner, Some(&role)).await.unwrap();

    let owner_client = owner.connect().await.unwrap();
    let tables: Vec<String> = owner_client
        .query(
            "SELECT tablename::text FROM pg_tables WHERE schemaname = 'public' \
             AND tablename <> 'refinery_schema_history' ORDER BY 1",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut granted: Vec<String> = store::API_TABLES.iter().map(|t| t.to_string()).collect();
    granted.sort();
    assert_eq!(
        tables, granted,
        "every catalog table, and only those, is the api's"
    );

    let encoded: String = role
        .password
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    let api_url = db.url.replacen(
        "postgres:shopfront-local@",
        &format!("{name}:{encoded}@"),
        1,
    );
    let api = testkit::connect(&api_url).await.unwrap();
    api.execute(
        "INSERT INTO products (slug, name, price, stock_quantity) VALUES ('a', 'A', 1.00, 1)",
        &[],
    )
    .await
    .unwrap();
    api.execute(
        "UPDATE products SET stock_quantity = 2 WHERE slug = 'a'",
        &[],
    )
    .await
    .unwrap();
    let n: i64 = api
        .query_one("SELECT count(*) FROM products", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 1);
    for forbidden in [
        "CREATE TABLE sneaky (x int)",
        "DROP TABLE products",
        "ALTER TABLE products ADD COLUMN x int",
        "TRUNCATE products",
        "SELECT * FROM refinery_schema_history",
        "CREATE ROLE another LOGIN",
    ] {
        let err = api.batch_execute(forbidden).await.unwrap_err();
        let code = err.as_db_error().map(|e| e.code().code().to_owned());
        assert!(
            matches!(code.as_deref(), Some("42501") | Some("42000")),
            "{forbidden}: {err:?}"
        );
    }
    drop(api);
    drop(owner_client);
    owner
        .connect()
        .await
        .unwrap()
        .batch_execute(&format!("DROP OWNED BY {name}; "))
        .await
        .unwrap();
    db.drop_now().await;
    let cleanup = testkit::connect(&primary_url()).await.unwrap();
    cleanup
        .batch_execute(&format!("DROP ROLE IF EXISTS {name}"))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_role_name_that_is_not_plain_is_refused() {
    let db = FreshDb::new().await;
    let owner = Target::parse(&db.url, Role::Primary).unwrap();
    let role = ApiRole {
        name: "api; DROP TABLE products".into(),
        password: "x".into(),
    };
    let err = store::migrate(&owner, Some(&role))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("not a plain PostgreSQL name"), "{err}");
    db.drop_now().await;
}

#[tokio::test]
async fn concurrent_migrations_take_turns() {
    let db = FreshDb::new().await;
    let owner = Target::parse(&db.url, Role::Primary).unwrap();
    let (a, b) = tokio::join!(store::migrate(&owner, None), store::migrate(&owner, None));
    let (a, b) = (a.unwrap(), b.unwrap());
    let mut applied = [a.applied.len(), b.applied.len()];
    applied.sort();
    assert_eq!(
        applied,
        [0, 7],
        "one run applied everything, the other waited and found nothing to do"
    );
    db.drop_now().await;
}
