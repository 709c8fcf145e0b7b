//! Building from PostgreSQL through the replica, by the rebuild protocol:
//! never older than the newest write, whatever state the servers are in.
//! Each test runs a primary + replica pair of its own.

use store::source::{PgSource, ReadFrom};
use store::{Role, Target};

use crate::common::*;

fn pg_source(pair: &Pair, wait_ms: u64) -> PgSource {
    PgSource {
        primary: Some(Target::parse(&pair.primary_url(), Role::Primary).unwrap()),
        replica: Some(Target::parse(&pair.replica_url(), Role::Replica).unwrap()),
        replica_wait: std::time::Duration::from_millis(wait_ms),
    }
}

/// Runs `sql` on one server of the pair.
fn execute(rt: &tokio::runtime::Runtime, url: &str, role: Role, sql: &str) {
    rt.block_on(async {
        let client = Target::parse(url, role).unwrap().connect().await.unwrap();
        client.batch_execute(sql).await.unwrap();
    });
}

fn setup(pair: &Pair) {
    for args in [
        vec!["migrate"],
        vec![
            "import",
            "--content",
            repo_root().join("content").to_str().unwrap(),
        ],
    ] {
        let out = generator_cmd()
            .args(&args)
            .env("DATABASE_URL", pair.primary_url())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// `generator build --source postgres` with the shop's site.toml, into `out`.
fn cli_build(pair: &Pair, out: &std::path::Path) -> std::process::Output {
    generator_cmd()
        .args([
            "build",
            "--source",
            "postgres",
            "--replica-wait",
            "1",
            "--out",
            out.to_str().unwrap(),
        ])
        .current_dir(repo_root())
        .env("DATABASE_URL", pair.primary_url())
        .env("DATABASE_REPLICA_URL", pair.replica_url())
        .env("SOURCE_DATE_EPOCH", "1767225600")
        .output()
        .unwrap()
}

/// The build succeeded and its log says each of `texts`.
fn assert_built_saying(out: &std::process::Output, texts: &[&str]) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    for text in texts {
        assert!(stderr.contains(text), "expected {text:?} in:\n{stderr}");
    }
}

/// A build from the pair, on a runtime of its own.
fn build_pg(
    config: &pipeline::BuildConfig,
    source: &store::source::PgSource,
) -> (pipeline::Built, ReadFrom, i64) {
    pipeline::settings::runtime()
        .unwrap()
        .block_on(pipeline::build_from_postgres(config, source))
        .unwrap()
}

#[test]
fn the_replica_build_equals_the_content_build_and_a_paused_replica_never_serves_stale_data() {
    let pair = Pair::start();
    setup(&pair);
    let content = repo_root().join("content");
    let config = config_for(&content);

    // (a) Same catalog, same bytes, whichever source.
    let (from_db, read_from, version) = build_pg(&config, &pg_source(&pair, 5_000));
    assert!(
        matches!(read_from, ReadFrom::Replica { .. }),
        "{read_from:?}"
    );
    assert_eq!(version, 1);
    let from_content = pipeline::build_from_content(&config).unwrap();
    assert_eq!(from_db.catalog.version, from_content.catalog.version);
    assert!(
        from_db.site == from_content.site,
        "the PostgreSQL build is byte-identical to the content build"
    );

    // (b) Replay paused: an update on the primary still reaches the build.
    let rt = tokio::runtime::Runtime::new().unwrap();
    execute(
        &rt,
        &pair.replica_url(),
        Role::Replica,
        "SELECT pg_wal_replay_pause()",
    );
    execute(
        &rt,
        &pair.primary_url(),
        Role::Primary,
        "UPDATE products SET price = 1234.56 WHERE slug = 'cafe-pour-over-kettle'",
    );
    let out_dir = tempfile::tempdir().unwrap();
    // The log says why, and which server was read.
    assert_built_saying(
        &cli_build(&pair, &out_dir.path().join("public")),
        &[
            "has replayed catalog version 1 but the primary wants 2",
            "read the catalog from the primary instead",
        ],
    );
    let page = std::fs::read_to_string(
        out_dir
            .path()
            .join("public/products/cafe-pour-over-kettle/index.html"),
    )
    .unwrap();
    assert!(page.contains("€1,234.56"), "the build has the update");

    // Once replay resumes, the replica catches up and serves the build itself.
    execute(
        &rt,
        &pair.replica_url(),
        Role::Replica,
        "SELECT pg_wal_replay_resume()",
    );
    let (caught_up, read_from, version) = build_pg(&config, &pg_source(&pair, 10_000));
    assert!(
        matches!(read_from, ReadFrom::Replica { .. }),
        "{read_from:?}"
    );
    assert_eq!(version, 2);
    let json = String::from_utf8(
        caught_up
            .site
            .get("products.json")
            .unwrap()
            .body
            .read()
            .unwrap()
            .into_owned(),
    )
    .unwrap();
    assert!(json.contains("\"price\":\"1234.56\""));
    let client = rt
        .block_on(
            Target::parse(&pair.primary_url(), Role::Primary)
                .unwrap()
                .connect(),
        )
        .unwrap();
    let target = Target::parse(&pair.primary_url(), Role::Primary).unwrap();
    assert_eq!(
        rt.block_on(store::catalog_state(&client, &target))
            .unwrap()
            .0,
        2
    );
}

#[test]
fn a_build_survives_one_server_down_and_fails_cleanly_with_both_down() {
    let pair = Pair::start();
    setup(&pair);
    let out_dir = tempfile::tempdir().unwrap();
    let out = out_dir.path().join("public");

    // (c) Replica down: built from the primary, with a warning.
    pair.wait_for_replica();
    pair.stop("replica");
    assert_built_saying(
        &cli_build(&pair, &out),
        &[
            "cannot connect to the replica (DATABASE_REPLICA_URL) at 127.0.0.1:",
            "read the catalog from the primary instead",
        ],
    );

    // (d) Primary down, replica up: built from the replica, freshness unchecked.
    let out2 = out_dir.path().join("public2");
    assert!(pair.restart().status.success());
    pair.wait_for_replica();
    pair.stop("primary");
    assert_built_saying(
        &cli_build(&pair, &out2),
        &[
            "cannot connect to the primary (DATABASE_URL)",
            "whose freshness could not be checked",
        ],
    );
    assert!(
        out2.join("products/cafe-pour-over-kettle/index.html")
            .is_file()
    );

    // (e) Both down: a clear error, and the previous output is untouched.
    let before = std::fs::read(out.join("products.json")).unwrap();
    pair.stop("replica");
    let result = cli_build(&pair, &out);
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert_eq!(result.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(
            "error: cannot read the catalog from either server: cannot connect to the primary"
        ),
        "{stderr}"
    );
    assert!(
        !stderr.contains("shopfront-local"),
        "no password in errors: {stderr}"
    );
    assert_eq!(std::fs::read(out.join("products.json")).unwrap(), before);
}
