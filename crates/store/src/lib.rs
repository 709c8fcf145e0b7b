//! PostgreSQL: connections and migrations. All SQL lives under this module.
//!
//! Error messages name the operation and the server (`host:port`), never the
//! connection URL, so a password can never reach a log.

use std::str::FromStr;

use tokio_postgres::config::Host;
use tokio_postgres::{Client, Config};

use catalog::records::{BuildRecord, BuildRow};

pub mod admin;
pub mod products;
pub mod source;
pub mod tls;

mod embedded {
    refinery::embed_migrations!("migrations");
}

/// Which server a connection is for, for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Primary,
    Replica,
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Role::Primary => "the primary (DATABASE_URL)",
            Role::Replica => "the replica (DATABASE_REPLICA_URL)",
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error(
        "{role} is not a valid PostgreSQL URL ({reason}); expected postgres://user:password@host:port/database"
    )]
    BadUrl { role: Role, reason: String },
    #[error("cannot connect to {role} at {server}: {detail}; {hint}")]
    Connect {
        role: Role,
        server: String,
        detail: String,
        hint: &'static str,
    },
    #[error("{operation} on {server} failed: {detail}")]
    Query {
        operation: &'static str,
        server: String,
        /// The server's words for it (see `describe`).
        detail: String,
    },
    #[error(
        "the api's role name {name:?} is not a plain PostgreSQL name; use lower-case letters, digits and _ (at most 63)"
    )]
    BadRoleName { name: String },
    #[error("migrating the database on {server} failed: {source}")]
    Migrate {
        server: String,
        source: refinery::Error,
    },
}

/// A server to talk to: its parsed URL and a connection pool (deadpool). The
/// pool opens connections lazily, on the runtime that first asks for one.
#[derive(Clone)]
pub struct Target {
    pub role: Role,
    config: Config,
    tls: tls::Connector,
    pool: deadpool_postgres::Pool,
}

/// Pool size and connect timeout.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub pool_size: usize,
    pub connect_timeout: std::time::Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            pool_size: 4,
            connect_timeout: std::time::Duration::from_secs(5),
        }
    }
}

/// A pooled connection; use it as a `tokio_postgres::Client`.
pub type Connection = deadpool_postgres::Object;

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Target({}, {})", self.role, self.server())
    }
}

impl Target {
    pub fn parse(url: &str, role: Role) -> Result<Self, DbError> {
        Self::with_limits(url, role, Limits::default())
    }

    pub fn with_limits(url: &str, role: Role, limits: Limits) -> Result<Self, DbError> {
        let bad_url = |reason: String| DbError::BadUrl { role, reason };
        let (url, settings) = tls::split(url).map_err(bad_url)?;
        let mut config = Config::from_str(&url).map_err(|e| bad_url(e.to_string()))?;
        config.ssl_mode(settings.wire_mode());
        config.application_name("shopfront-generator");
        config.connect_timeout(limits.connect_timeout);
        let tls = settings.connector().map_err(bad_url)?;
        let manager = deadpool_postgres::Manager::from_config(
            config.clone(),
            tls.clone(),
            deadpool_postgres::ManagerConfig {
                recycling_method: deadpool_postgres::RecyclingMethod::Fast,
            },
        );
        let pool = deadpool_postgres::Pool::builder(manager)
            .max_size(limits.pool_size.max(1))
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .create_timeout(Some(limits.connect_timeout))
            .wait_timeout(Some(limits.connect_timeout.saturating_mul(2)))
            .build()
            .map_err(|e| DbError::BadUrl {
                role,
                reason: e.to_string(),
            })?;
        Ok(Self {
            role,
            config,
            tls,
            pool,
        })
    }

    /// `host:port` of the server, for messages.
    pub fn server(&self) -> String {
        let host = match self.config.get_hosts().first() {
            Some(Host::Tcp(h)) => h.clone(),
            #[cfg(unix)]
            Some(Host::Unix(p)) => p.display().to_string(),
            None => "localhost".into(),
        };
        let port = self.config.get_ports().first().copied().unwrap_or(5432);
        format!("{host}:{port}")
    }

    /// A connection from the pool.
    pub async fn connect(&self) -> Result<Connection, DbError> {
        use deadpool_postgres::PoolError;
        self.pool.get().await.map_err(|e| match e {
            PoolError::Backend(e) => self.connect_error(&e),
            PoolError::Timeout(_) => DbError::Connect {
                role: self.role,
                server: self.server(),
                detail: "timed out".to_owned(),
                hint: CONNECT_HINT,
            },
            other => DbError::Connect {
                role: self.role,
                server: self.server(),
                detail: other.to_string(),
                hint: CONNECT_HINT,
            },
        })
    }

    /// A client outside the pool, whose connection runs on the current runtime.
    pub async fn connect_unpooled(&self) -> Result<Client, DbError> {
        let (client, connection) = self
            .config
            .connect(self.tls.clone())
            .await
            .map_err(|e| self.connect_error(&e))?;
        tokio::spawn(connection);
        Ok(client)
    }

    fn connect_error(&self, e: &tokio_postgres::Error) -> DbError {
        let detail = describe(e);
        // The handshake's error names the certificate problem; a server
        // refusing plain connections answers "no encryption".
        let hint = if detail.contains("no encryption") {
            PLAIN_REFUSED_HINT
        } else if detail.contains("TLS") || detail.contains("certificate") {
            TLS_HINT
        } else {
            CONNECT_HINT
        };
        DbError::Connect {
            role: self.role,
            server: self.server(),
            detail,
            hint,
        }
    }

    pub(crate) fn query_error(
        &self,
        operation: &'static str,
    ) -> impl FnOnce(tokio_postgres::Error) -> DbError + '_ {
        move |source| DbError::Query {
            operation,
            server: self.server(),
            detail: describe(&source),
        }
    }
}

const CONNECT_HINT: &str = "check that the server is running and the URL is right";
const PLAIN_REFUSED_HINT: &str = "the server accepts TLS connections only: set sslmode=verify-full \
     and sslrootcert in the URL (not sslmode=disable)";
const TLS_HINT: &str = "check the URL's sslmode and sslrootcert: under verify-full the server's \
     certificate must name the URL's host and chain to a CA in sslrootcert (on AWS, the RDS CA bundle)";

/// The server's own words for a database error, else the client's, with
/// the chain of causes (a TLS failure's reason is in a cause).
fn describe(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return format!("{} ({})", db.message(), db.code().code());
    }
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// What `migrate` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migrated {
    /// Names of the migrations applied by this run, like `V1__catalog`.
    pub applied: Vec<String>,
    /// The api's role, if one was set up.
    pub api_role: Option<String>,
}

/// The api's own login: it may read and write the catalog's tables
/// (`API_TABLES`) and nothing else: no DDL, no migration history, no other
/// database. The migrations run as the owner (on RDS, the master user).
#[derive(Clone)]
pub struct ApiRole {
    pub name: String,
    pub password: String,
}

impl std::fmt::Debug for ApiRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ApiRole({})", self.name)
    }
}

/// The tables the api reads and writes: every table of the migrations but
/// refinery's history. A test checks that a new table is not forgotten.
pub const API_TABLES: &[&str] = &[
    "products",
    "product_images",
    "catalog_state",
    "site_builds",
    "audit_log",
    "admin_users",
    "api_tokens",
    "admin_sessions",
    "login_attempts",
];

/// Key of the session-level advisory lock that serialises migrations, so
/// that instances booting together migrate one at a time.
const MIGRATE_LOCK: i64 = 0x0073_686f_7066_6d67; // "shopfmg"

/// Applies the embedded migrations that the database lacks, then, given an
/// `api_role`, creates or updates that role and grants it exactly the
/// catalog's privileges. Holds an advisory lock throughout, so concurrent
/// runs wait for each other; a second run is a no-op.
pub async fn migrate(primary: &Target, api_role: Option<&ApiRole>) -> Result<Migrated, DbError> {
    if let Some(role) = api_role {
        check_role_name(&role.name)?;
    }
    // A session of its own: the lock ends with it, whatever happens.
    let mut client = primary.connect_unpooled().await?;
    advisory_lock(
        &client,
        primary,
        MIGRATE_LOCK,
        (
            "taking the migration lock",
            "waiting for the migration lock",
        ),
        &format!(
            "another migrate is running on {}; waiting for it",
            primary.server()
        ),
    )
    .await?;
    let report = embedded::migrations::runner()
        .set_abort_divergent(true)
        .run_async(&mut client)
        .await
        .map_err(|source| DbError::Migrate {
            server: primary.server(),
            source,
        })?;
    let applied = report
        .applied_migrations()
        .iter()
        .map(|m| format!("V{}__{}", m.version(), m.name()))
        .collect();
    if let Some(role) = api_role {
        grant_api_role(&client, primary, role).await?;
    }
    client
        .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATE_LOCK])
        .await
        .map_err(primary.query_error("releasing the migration lock"))?;
    Ok(Migrated {
        applied,
        api_role: api_role.map(|r| r.name.clone()),
    })
}

fn check_role_name(name: &str) -> Result<(), DbError> {
    let mut chars = name.chars();
    let plain = chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && name.len() <= 63;
    if plain {
        Ok(())
    } else {
        Err(DbError::BadRoleName { name: name.into() })
    }
}

/// Creates the role or sets its password, then replaces its privileges
/// with exactly: connect to this database, use the schema, read and write
/// `API_TABLES` and use their sequences. One transaction.
async fn grant_api_role(client: &Client, primary: &Target, role: &ApiRole) -> Result<(), DbError> {
    let fail = |what| primary.query_error(what);
    let name = &role.name; // checked by check_role_name: safe as an identifier
    // The server quotes the password (whatever characters it holds) and
    // the database's name.
    let row = client
        .query_one(
            "SELECT quote_literal($1), quote_ident(current_database())",
            &[&role.password],
        )
        .await
        .map_err(fail("quoting the api role's password"))?;
    let (password, db): (String, String) = (row.get(0), row.get(1));
    let exists = client
        .query_opt("SELECT 1 FROM pg_roles WHERE rolname = $1", &[name])
        .await
        .map_err(fail("looking up the api role"))?
        .is_some();
    let verb = if exists { "ALTER" } else { "CREATE" };
    let tables = API_TABLES.join(", ");
    let sql = format!(
        "BEGIN;
         {verb} ROLE {name} WITH LOGIN PASSWORD {password};
         REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {name};
         REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {name};
         REVOKE CREATE ON SCHEMA public FROM PUBLIC;
         GRANT CONNECT ON DATABASE {db} TO {name};
         GRANT USAGE ON SCHEMA public TO {name};
         GRANT SELECT, INSERT, UPDATE, DELETE ON {tables} TO {name};
         GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {name};
         COMMIT;"
    );
    client
        .batch_execute(&sql)
        .await
        .map_err(fail("setting up the api role"))?;
    tracing::info!("the api role {name} may read and write the catalog tables");
    Ok(())
}

/// `(wanted_version, published_version)` from `catalog_state`.
pub async fn catalog_state(client: &Client, target: &Target) -> Result<(i64, i64), DbError> {
    let row = client
        .query_one(
            "SELECT wanted_version, published_version FROM catalog_state WHERE id = 1",
            &[],
        )
        .await
        .map_err(target.query_error("reading catalog_state"))?;
    Ok((row.get(0), row.get(1)))
}

/// What `import` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Imported {
    pub inserted: u64,
    pub updated: u64,
    pub unchanged: u64,
    /// Rows in the database whose slug is not in the content (left alone).
    pub not_in_content: u64,
    /// `wanted_version` after the import.
    pub wanted_version: i64,
}

/// Upserts every product of `catalog` by slug, in one transaction and one
/// statement. Rows whose content is unchanged are skipped by the schema's
/// trigger, so a repeated import changes nothing and wants no rebuild.
pub async fn import(primary: &Target, catalog: &catalog::Catalog) -> Result<Imported, DbError> {
    let mut client = primary.connect().await?;
    let tx = client
        .transaction()
        .await
        .map_err(primary.query_error("starting the import transaction"))?;
    // Drafts and archived products too: the database keeps every product.
    let p: Vec<&catalog::Product> = catalog.products.iter().chain(&catalog.unlisted).collect();
    let ids: Vec<i64> = p.iter().map(|p| p.id.get()).collect();
    let slugs: Vec<&str> = p.iter().map(|p| p.slug.as_str()).collect();
    let names: Vec<&str> = p.iter().map(|p| p.name.as_str()).collect();
    let descriptions: Vec<&str> = p.iter().map(|p| p.description.as_str()).collect();
    // Prices travel as exact decimal text and are cast by the server.
    let prices: Vec<String> = p.iter().map(|p| p.price.to_string()).collect();
    let image_urls: Vec<Option<&str>> = p
        .iter()
        .map(|p| p.image_url().map(|u| u.as_str()))
        .collect();
    let images: Vec<String> = p.iter().map(|p| images_json(&p.images)).collect();
    let categories: Vec<&str> = p.iter().map(|p| p.category.as_str()).collect();
    let stock: Vec<i32> = p.iter().map(|p| p.stock_quantity.get()).collect();
    let created: Vec<chrono::DateTime<chrono::Utc>> = p.iter().map(|p| p.created_at).collect();
    let updated: Vec<chrono::DateTime<chrono::Utc>> = p.iter().map(|p| p.updated_at).collect();
    let m: Vec<&catalog::Merchandising> = p.iter().map(|p| &p.merchandising).collect();
    let statuses: Vec<&str> = m.iter().map(|m| m.status.as_str()).collect();
    let compare_at: Vec<Option<String>> = m
        .iter()
        .map(|m| m.compare_at_price.map(|c| c.to_string()))
        .collect();
    let seo_titles: Vec<Option<&str>> = m.iter().map(|m| m.seo_title.as_deref()).collect();
    let seo_descriptions: Vec<Option<&str>> =
        m.iter().map(|m| m.seo_description.as_deref()).collect();
    let gtins: Vec<Option<&str>> = m
        .iter()
        .map(|m| m.gtin.as_ref().map(|g| g.as_str()))
        .collect();
    let mpns: Vec<Option<&str>> = m.iter().map(|m| m.mpn.as_deref()).collect();
    let buy_urls: Vec<Option<&str>> = m
        .iter()
        .map(|m| m.buy_url.as_ref().map(|u| u.as_str()))
        .collect();
    let rows = tx
        .query(
            "INSERT INTO products (product_id, slug, name, description, price, image_url, images, category, stock_quantity, created_at, updated_at,
                                   status, compare_at_price, seo_title, seo_description, gtin, mpn, buy_url)
             SELECT id, slug, name, description, price::numeric(10,2), image_url, images::jsonb, category, stock, created_at, updated_at,
                    status, compare_at::numeric(10,2), seo_title, seo_description, gtin, mpn, buy_url
             FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::int[],
                         $9::timestamptz[], $10::timestamptz[], $11::text[], $12::text[], $13::text[], $14::text[],
                         $15::text[], $16::text[], $17::text[], $18::text[])
                  AS c(id, slug, name, description, price, image_url, category, stock, created_at, updated_at, images,
                       status, compare_at, seo_title, seo_description, gtin, mpn, buy_url)
             ON CONFLICT (slug) DO UPDATE SET
                 product_id = EXCLUDED.product_id, name = EXCLUDED.name, description = EXCLUDED.description,
                 price = EXCLUDED.price, image_url = EXCLUDED.image_url, images = EXCLUDED.images,
                 category = EXCLUDED.category,
                 stock_quantity = EXCLUDED.stock_quantity, created_at = EXCLUDED.created_at,
                 updated_at = EXCLUDED.updated_at, status = EXCLUDED.status,
                 compare_at_price = EXCLUDED.compare_at_price, seo_title = EXCLUDED.seo_title,
                 seo_description = EXCLUDED.seo_description, gtin = EXCLUDED.gtin, mpn = EXCLUDED.mpn,
                 buy_url = EXCLUDED.buy_url
             RETURNING (xmax = 0) AS inserted",
            &[&ids, &slugs, &names, &descriptions, &prices, &image_urls, &categories, &stock, &created, &updated, &images,
              &statuses, &compare_at, &seo_titles, &seo_descriptions, &gtins, &mpns, &buy_urls],
        )
        .await
        .map_err(primary.query_error("upserting the products"))?;
    let inserted = rows.iter().filter(|r| r.get::<_, bool>(0)).count() as u64;
    let updated = rows.len() as u64 - inserted;
    tx.execute(
        "SELECT setval(pg_get_serial_sequence('products', 'product_id'), GREATEST((SELECT max(product_id) FROM products), 1))",
        &[],
    )
    .await
    .map_err(primary.query_error("advancing the product id sequence"))?;
    let not_in_content: i64 = tx
        .query_one(
            "SELECT count(*) FROM products WHERE slug <> ALL($1::text[])",
            &[&slugs],
        )
        .await
        .map_err(primary.query_error("counting products not in the content"))?
        .get(0);
    let wanted: i64 = tx
        .query_one("SELECT wanted_version FROM catalog_state WHERE id = 1", &[])
        .await
        .map_err(primary.query_error("reading catalog_state"))?
        .get(0);
    tx.commit()
        .await
        .map_err(primary.query_error("committing the import"))?;
    Ok(Imported {
        inserted,
        updated,
        unchanged: p.len() as u64 - inserted - updated,
        not_in_content: not_in_content as u64,
        wanted_version: wanted,
    })
}

/// One `products` row, as stored. Turned into a validated `Product` by
/// `source::postgres`.
#[derive(Debug, Clone)]
pub struct ProductRow {
    pub product_id: i64,
    pub slug: String,
    pub name: String,
    pub description: String,
    pub price: rust_decimal::Decimal,
    /// In order, the main image first (see [`images_of`]).
    pub images: Vec<catalog::records::StoredImage>,
    pub category: Option<String>,
    pub stock_quantity: i32,
    pub status: String,
    pub compare_at_price: Option<rust_decimal::Decimal>,
    pub seo_title: Option<String>,
    pub seo_description: Option<String>,
    pub gtin: Option<String>,
    pub mpn: Option<String>,
    pub buy_url: Option<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

/// The `images` column's JSON for a product's images.
pub(crate) fn images_json(images: &[catalog::Image]) -> String {
    let stored: Vec<catalog::records::StoredImage> = images.iter().map(Into::into).collect();
    serde_json::to_string(&stored).expect("a list of strings serialises")
}

/// A row's images: the `images` list, or (when a writer set `image_url`
/// alone, as the seed does) that one image without alt text. A list that
/// does not parse (the column's CHECK makes it an array, not its entries'
/// shape) is read as the main image alone, so the row's checks still run.
pub(crate) fn images_of(
    image_url: Option<String>,
    images: Option<&str>,
) -> Vec<catalog::records::StoredImage> {
    let list: Vec<catalog::records::StoredImage> = images
        .and_then(|text| serde_json::from_str(text).ok())
        .unwrap_or_default();
    match (list.is_empty(), image_url) {
        (false, _) => list,
        (true, Some(url)) => vec![catalog::records::StoredImage {
            url,
            alt: String::new(),
        }],
        (true, None) => Vec::new(),
    }
}

/// The catalog at one moment: every product and the `wanted_version` they
/// make up, read in one REPEATABLE READ snapshot.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub version: i64,
    pub rows: Vec<ProductRow>,
    /// Uploaded images some product shows, without their bytes (which
    /// [`image_bytes`] reads, for those a build must encode). An upload no
    /// product uses any more is kept, but not published.
    pub images: Vec<Upload>,
}

/// An uploaded image, named by its content: `<sha256>.<extension>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upload {
    /// The hex SHA-256 of its bytes (the row's key, computed on upload).
    pub sha256: String,
    pub extension: String,
}

impl Upload {
    /// Its file name, as products' `image_url` name it under `/images/`.
    pub fn file(&self) -> String {
        format!("{}.{}", self.sha256, self.extension)
    }
}

/// The bytes of the uploads with these digests, by digest. A digest with no
/// row is left out (the caller says which it was missing).
pub async fn image_bytes(
    client: &Client,
    target: &Target,
    sha256: &[String],
) -> Result<std::collections::BTreeMap<String, Vec<u8>>, DbError> {
    if sha256.is_empty() {
        return Ok(Default::default());
    }
    Ok(client
        .query(
            "SELECT sha256, bytes FROM product_images WHERE sha256 = ANY($1)",
            &[&sha256],
        )
        .await
        .map_err(target.query_error("reading uploaded images' bytes"))?
        .into_iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect())
}

/// `wanted_version` as this server sees it (on a replica: as replayed so far).
pub async fn wanted_version(client: &Client, target: &Target) -> Result<i64, DbError> {
    catalog_state(client, target)
        .await
        .map(|(wanted, _)| wanted)
}

/// Reads the whole catalog in one read-only REPEATABLE READ transaction, so
/// the products and the version agree. Works on a hot standby too.
pub async fn read_snapshot(client: &mut Client, target: &Target) -> Result<Snapshot, DbError> {
    let tx = client
        .build_transaction()
        .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await
        .map_err(target.query_error("starting the catalog snapshot"))?;
    let version: i64 = tx
        .query_one("SELECT wanted_version FROM catalog_state WHERE id = 1", &[])
        .await
        .map_err(target.query_error("reading catalog_state"))?
        .get(0);
    let rows = tx
        .query(
            "SELECT product_id, slug, name, coalesce(description, ''), price, image_url, category, stock_quantity,
                    created_at, updated_at, images::text, status, compare_at_price, seo_title,
                    seo_description, gtin, mpn, buy_url
             FROM products ORDER BY product_id",
            &[],
        )
        .await
        .map_err(target.query_error("reading the products"))?
        .into_iter()
        .map(|r| ProductRow {
            product_id: r.get(0),
            slug: r.get(1),
            name: r.get(2),
            description: r.get(3),
            price: r.get(4),
            images: images_of(r.get(5), r.get(10)),
            category: r.get(6),
            stock_quantity: r.get(7),
            created_at: r.get(8),
            updated_at: r.get(9),
            status: r.get(11),
            compare_at_price: r.get(12),
            seo_title: r.get(13),
            seo_description: r.get(14),
            gtin: r.get(15),
            mpn: r.get(16),
            buy_url: r.get(17),
        })
        .collect();
    let images = tx
        .query(
            "SELECT i.sha256, i.extension FROM product_images i
             WHERE EXISTS (SELECT 1 FROM products p
                           WHERE p.image_url = '/images/' || i.sha256 || '.' || i.extension
                              OR p.images @> jsonb_build_array(jsonb_build_object(
                                     'url', '/images/' || i.sha256 || '.' || i.extension)))
             ORDER BY i.sha256",
            &[],
        )
        .await
        .map_err(target.query_error("reading the product images"))?
        .into_iter()
        .map(|r| Upload {
            sha256: r.get(0),
            extension: r.get(1),
        })
        .collect();
    tx.commit()
        .await
        .map_err(target.query_error("ending the catalog snapshot"))?;
    Ok(Snapshot {
        version,
        rows,
        images,
    })
}

/// The advisory lock that lets one build run at a time across the fleet.
const BUILD_LOCK: i64 = 0x5348_4f50_4652_4f4e; // "SHOPFRON"

/// A session on the primary holding the build lock; the lock goes with the
/// session, however the build ends.
pub struct BuildLock {
    client: deadpool_postgres::ClientWrapper,
}

impl std::ops::Deref for BuildLock {
    type Target = Client;
    fn deref(&self) -> &Client {
        &self.client
    }
}

impl std::ops::DerefMut for BuildLock {
    fn deref_mut(&mut self) -> &mut Client {
        &mut self.client
    }
}

/// Takes a session-level advisory lock on `client`, waiting (and saying so)
/// if another session holds it. It lasts until unlocked or the session ends.
async fn advisory_lock(
    client: &Client,
    target: &Target,
    key: i64,
    (taking, waiting): (&'static str, &'static str),
    waiting_message: &str,
) -> Result<(), DbError> {
    let got: bool = client
        .query_one("SELECT pg_try_advisory_lock($1)", &[&key])
        .await
        .map_err(target.query_error(taking))?
        .get(0);
    if !got {
        tracing::info!("{waiting_message}");
        client
            .execute("SELECT pg_advisory_lock($1)", &[&key])
            .await
            .map_err(target.query_error(waiting))?;
    }
    Ok(())
}

/// Takes the build lock, waiting for a build elsewhere to finish. The session
/// leaves the pool, so the lock is released when the returned value drops.
pub async fn lock_builds(primary: &Target) -> Result<BuildLock, DbError> {
    let client = deadpool_postgres::Object::take(primary.connect().await?);
    advisory_lock(
        &client,
        primary,
        BUILD_LOCK,
        ("taking the build lock", "waiting for the build lock"),
        "another build is running; waiting for it to finish",
    )
    .await?;
    Ok(BuildLock { client })
}

const ABANDONED: &str = "abandoned: the process running it stopped before it finished; nothing of it was recorded as published";

/// Closes, as abandoned, the builds left unfinished by a process that died
/// during one. Runs under the build lock (as [`build_started`] does), for a
/// worker that finds the site current and builds nothing.
pub async fn close_abandoned_builds(client: &Client, primary: &Target) -> Result<u64, DbError> {
    client
        .execute(
            "UPDATE site_builds SET finished_at = now(), error = $1 WHERE finished_at IS NULL",
            &[&ABANDONED],
        )
        .await
        .map_err(primary.query_error("closing abandoned builds in site_builds"))
}

/// Records that a build started; returns its `build_id`. It runs under the
/// build lock, so a build still unfinished here belongs to a process that
/// died during it (killed, or its host lost): it is closed as abandoned.
pub async fn build_started(
    client: &Client,
    primary: &Target,
    trigger: &str,
) -> Result<i64, DbError> {
    Ok(client
        .query_one(
            "WITH abandoned AS (
                 UPDATE site_builds SET finished_at = now(), error = $2
                 WHERE finished_at IS NULL
             )
             INSERT INTO site_builds (trigger) VALUES ($1) RETURNING build_id",
            &[&trigger, &ABANDONED],
        )
        .await
        .map_err(primary.query_error("recording the build in site_builds"))?
        .get(0))
}

/// Records how a build ended. A build that published moves
/// `published_version` forward (never back), in the same transaction.
pub async fn build_finished(
    client: &mut Client,
    primary: &Target,
    build_id: i64,
    record: &BuildRecord,
) -> Result<(), DbError> {
    let tx = client
        .transaction()
        .await
        .map_err(primary.query_error("recording the build's end"))?;
    tx.execute(
        "UPDATE site_builds SET finished_at = clock_timestamp(),
                duration_ms = (extract(epoch FROM clock_timestamp() - started_at) * 1000)::bigint,
                catalog_version = $2, source = $3, pages_uploaded = $4, pages_deleted = $5,
                paths_invalidated = $6, error = $7
         WHERE build_id = $1",
        &[
            &build_id,
            &record.catalog_version,
            &record.source,
            &record.pages_uploaded,
            &record.pages_deleted,
            &record.paths_invalidated,
            &record.error,
        ],
    )
    .await
    .map_err(primary.query_error("recording the build's end"))?;
    if let (None, Some(version)) = (&record.error, record.catalog_version) {
        tx.execute(
            "UPDATE catalog_state SET published_version = greatest(published_version, $1),
                    updated_at = now() WHERE id = 1",
            &[&version],
        )
        .await
        .map_err(primary.query_error("recording the published version"))?;
    }
    tx.commit()
        .await
        .map_err(primary.query_error("recording the build's end"))
}

const BUILD_COLUMNS: &str = "build_id, started_at, finished_at, trigger, catalog_version, source, pages_uploaded, pages_deleted, paths_invalidated, duration_ms, error";

fn build_row(r: &tokio_postgres::Row) -> BuildRow {
    BuildRow {
        build_id: r.get(0),
        started_at: r.get(1),
        finished_at: r.get(2),
        trigger: r.get(3),
        catalog_version: r.get(4),
        source: r.get(5),
        pages_uploaded: r.get(6),
        pages_deleted: r.get(7),
        paths_invalidated: r.get(8),
        duration_ms: r.get(9),
        error: r.get(10),
    }
}

/// The latest builds, newest first.
pub async fn recent_builds(
    client: &Client,
    target: &Target,
    limit: i64,
) -> Result<Vec<BuildRow>, DbError> {
    let rows = client
        .query(
            &format!("SELECT {BUILD_COLUMNS} FROM site_builds ORDER BY build_id DESC LIMIT $1"),
            &[&limit],
        )
        .await
        .map_err(target.query_error("reading site_builds"))?;
    Ok(rows.iter().map(build_row).collect())
}

pub async fn build(
    client: &Client,
    target: &Target,
    build_id: i64,
) -> Result<Option<BuildRow>, DbError> {
    let row = client
        .query_opt(
            &format!("SELECT {BUILD_COLUMNS} FROM site_builds WHERE build_id = $1"),
            &[&build_id],
        )
        .await
        .map_err(target.query_error("reading site_builds"))?;
    Ok(row.as_ref().map(build_row))
}

/// A session of its own (outside the pool) listening for `catalog_changed`.
pub struct Listener {
    _client: Client,
    pub notifications: tokio::sync::mpsc::UnboundedReceiver<()>,
}

/// Opens a listening session; each notification arrives on
/// `Listener::notifications`, which closes if the session is lost.
pub async fn listen_catalog_changed(target: &Target) -> Result<Listener, DbError> {
    use futures_util::StreamExt as _;
    let (client, mut connection) = target
        .config
        .connect(target.tls.clone())
        .await
        .map_err(|e| target.connect_error(&e))?;
    let (tx, notifications) = tokio::sync::mpsc::unbounded_channel();
    let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
    tokio::spawn(async move {
        while let Some(message) = messages.next().await {
            match message {
                Ok(tokio_postgres::AsyncMessage::Notification(_)) => {
                    if tx.send(()).is_err() {
                        break;
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!("the catalog_changed listener lost its connection: {e}");
                    break;
                }
            }
        }
    });
    client
        .batch_execute("LISTEN catalog_changed")
        .await
        .map_err(target.query_error("listening for catalog_changed"))?;
    Ok(Listener {
        _client: client,
        notifications,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_name_the_server_and_hide_the_password() {
        let t = Target::parse(
            "postgres://shop:s3cret@db.internal:6543/shop",
            Role::Primary,
        )
        .unwrap();
        assert_eq!(t.server(), "db.internal:6543");
        assert!(!format!("{t:?}").contains("s3cret"));
        let e =
            Target::parse("postgres://shop:s3cret@db:notaport/shop", Role::Replica).unwrap_err();
        let text = e.to_string();
        assert!(
            text.starts_with("the replica (DATABASE_REPLICA_URL) is not a valid PostgreSQL URL"),
            "{text}"
        );
        assert!(!text.contains("s3cret"), "{text}");
    }
}
