//! Test helpers shared by the workspace's integration tests: a fresh
//! database per test on the local primary, a PostgreSQL pair of a test's own
//! (through `infra/local/pg.sh`), free ports. Every helper cleans up what it
//! made when dropped.

pub mod images;

use std::path::PathBuf;
use std::process::{Command, Output};

/// The workspace's root folder.
pub fn repo_root() -> PathBuf {
    // Cargo sets CARGO_MANIFEST_DIR when it runs a test, to the crate under
    // test: read it then rather than baking in the path this crate was
    // compiled at, which is stale when a build cache is shared by checkouts.
    let crate_dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    crate_dir
        .ancestors()
        .find(|d| d.join("Cargo.lock").is_file())
        .unwrap_or(&crate_dir)
        .to_owned()
}

/// A database of its own on the local primary, dropped when the test ends.
/// Needs `DATABASE_URL` (the test command starts the pair and sets it).
pub struct FreshDb {
    pub url: String,
    admin_url: String,
    name: String,
}

fn admin_url() -> String {
    std::env::var("DATABASE_URL").unwrap_or_else(|_| {
        panic!(
            "DATABASE_URL is not set. Run ./scripts/test.sh, or start the local pair first: \
             eval \"$(infra/local/pg.sh start)\""
        )
    })
}

impl FreshDb {
    pub async fn new() -> Self {
        use std::sync::atomic::{AtomicU32, Ordering};
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let admin_url = admin_url();
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let name = format!(
            "shop_test_{}_{}_{nanos}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        connect(&admin_url)
            .await
            .unwrap_or_else(|e| panic!("cannot connect to DATABASE_URL: {e}"))
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap();
        Self {
            url: with_database(&admin_url, &name),
            admin_url,
            name,
        }
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    pub async fn drop_now(self) {
        drop_database(&self.admin_url, &self.name).await;
        std::mem::forget(self);
    }
}

/// `url` with its database name replaced; the query (`?sslmode=…`) is kept.
pub fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, format!("?{query}")),
        None => (url, String::new()),
    };
    let (server, _) = base
        .rsplit_once('/')
        .expect("a PostgreSQL URL ends with /database");
    format!("{server}/{name}{query}")
}

/// A client whose connection runs on the current runtime, over TLS as the
/// URL's `sslmode` and `sslrootcert` say (the store's own connector).
pub async fn connect(url: &str) -> Result<tokio_postgres::Client, store::DbError> {
    store::Target::parse(url, store::Role::Primary)?
        .connect_unpooled()
        .await
}

async fn drop_database(admin_url: &str, name: &str) {
    if let Ok(client) = connect(admin_url).await {
        let _ = client
            .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .await;
    }
}

/// Runs async work to its end from sync code that may itself be inside a
/// runtime (a test's drop, say): on a thread and a runtime of its own. A panic
/// in it comes back as the join's error.
fn block_on_own_thread<F>(work: F) -> std::thread::Result<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send,
{
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(work)
    })
    .join()
}

impl Drop for FreshDb {
    fn drop(&mut self) {
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        let _ = block_on_own_thread(async move { drop_database(&admin_url, &name).await });
    }
}

/// A PostgreSQL primary + streaming replica of the test's own, started with
/// `infra/local/pg.sh` on free ports; stopped and deleted when dropped.
pub struct Pair {
    data: tempfile::TempDir,
    pub primary_port: u16,
    pub replica_port: u16,
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Pair {
    pub fn start() -> Self {
        // A port found free may be taken by another test before PostgreSQL
        // binds it: a start that fails is tried again on other ports.
        let mut failure = String::new();
        for _ in 0..3 {
            let (primary_port, mut replica_port) = (free_port(), free_port());
            while replica_port == primary_port {
                replica_port = free_port();
            }
            let pair = Self {
                data: tempfile::tempdir().unwrap(),
                primary_port,
                replica_port,
            };
            let out = pair.script(&["start"]);
            if out.status.success() {
                return pair;
            }
            failure = String::from_utf8_lossy(&out.stderr).into_owned();
        }
        panic!("pg.sh start failed three times; the last time: {failure}");
    }

    fn script(&self, args: &[&str]) -> Output {
        Command::new(repo_root().join("infra/local/pg.sh"))
            .args(args)
            .env("PG_DATA", self.data.path())
            .env("PG_PRIMARY_PORT", self.primary_port.to_string())
            .env("PG_REPLICA_PORT", self.replica_port.to_string())
            .output()
            .unwrap()
    }

    pub fn primary_url(&self) -> String {
        self.url(self.primary_port)
    }

    pub fn replica_url(&self) -> String {
        self.url(self.replica_port)
    }

    fn url(&self, port: u16) -> String {
        format!(
            "postgres://postgres:shopfront-local@127.0.0.1:{port}/postgres?sslmode=verify-full&sslrootcert={}",
            self.ca_cert().display()
        )
    }

    /// The pair's CA certificate (PEM), which its URLs verify against.
    pub fn ca_cert(&self) -> PathBuf {
        self.data.path().join("tls/ca.crt")
    }

    /// Starts whatever is stopped (the script is idempotent).
    pub fn restart(&self) -> Output {
        self.script(&["start"])
    }

    /// Waits until the replica has replayed everything the primary has
    /// written so far. The pair commits without waiting for the replica
    /// (`synchronous_commit = off`), so a test that stops the primary, or the
    /// replica, after a write waits here first.
    pub fn wait_for_replica(&self) {
        let (primary, replica) = (self.primary_url(), self.replica_url());
        block_on_own_thread(async move {
            let lsn: String = connect(&primary)
                .await
                .unwrap()
                // The insert position: with synchronous_commit off, the
                // last commit may not be written out yet.
                .query_one("SELECT pg_current_wal_insert_lsn()::text", &[])
                .await
                .unwrap()
                .get(0);
            for _ in 0..300 {
                if let Ok(client) = connect(&replica).await {
                    let row = client
                        .query_one(
                            "SELECT coalesce(pg_last_wal_replay_lsn() >= $1::text::pg_lsn, false)",
                            &[&lsn],
                        )
                        .await;
                    if row.is_ok_and(|r| r.get::<_, bool>(0)) {
                        return;
                    }
                }
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            panic!("the replica did not replay the primary's WAL up to {lsn} in 300 tries");
        })
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
    }

    /// Stops one node: "primary" or "replica".
    pub fn stop(&self, node: &str) {
        let out = self.script(&["stop", node]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Pair {
    fn drop(&mut self) {
        let _ = self.script(&["stop"]);
    }
}
