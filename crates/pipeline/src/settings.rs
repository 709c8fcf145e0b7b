//! The settings both binaries share, declared once: `generator` and `api`
//! flatten these clap structs, so every flag and environment variable has
//! the same name and the same default in both, and both turn them into a
//! database and a publish destination the same way.
//!
//! A setting that needs a feature the binary was built without is an error
//! that says how to build it, never silently ignored.

use std::path::PathBuf;
#[cfg(feature = "postgres")]
use std::time::Duration;

use publish::Destination;

use crate::Database;

/// Why the settings cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error(
        "{setting} is set, but this binary was built without {what}; build it with `--features {feature}`"
    )]
    NotBuiltWith {
        setting: &'static str,
        what: &'static str,
        feature: &'static str,
    },
    #[error("{0}")]
    Invalid(String),
    #[cfg(feature = "postgres")]
    #[error(transparent)]
    Db(#[from] store::DbError),
    #[error(transparent)]
    Publish(#[from] publish::PublishError),
}

/// The database settings besides the primary's URL (which each binary
/// declares itself, as its commands need it differently).
#[derive(Debug, Clone, clap::Args)]
pub struct DatabaseArgs {
    /// The read replica; unset means reads go to the primary.
    #[arg(
        long,
        env = "DATABASE_REPLICA_URL",
        hide_env_values = true,
        value_name = "URL"
    )]
    pub database_replica_url: Option<String>,

    /// How long to wait for the replica to catch up with the primary before
    /// reading from the primary instead.
    #[arg(
        long,
        env = "REPLICA_WAIT_SECS",
        value_name = "SECONDS",
        default_value_t = 10.0
    )]
    pub replica_wait: f64,

    /// Connections each server's pool may open.
    #[arg(
        long,
        env = "DATABASE_POOL_SIZE",
        value_name = "N",
        default_value_t = 4
    )]
    pub pool_size: usize,

    /// How long to wait for a connection before treating a server as down.
    #[arg(
        long,
        env = "DATABASE_CONNECT_TIMEOUT_SECS",
        value_name = "SECONDS",
        default_value_t = 5
    )]
    pub connect_timeout: u64,
}

impl DatabaseArgs {
    /// The database to build from, with `primary` as DATABASE_URL: `None`
    /// when it is unset (the content folder is used; a replica alone is not).
    pub fn database(&self, primary: Option<&str>) -> Result<Option<Database>, SettingsError> {
        match primary.filter(|u| !u.is_empty()) {
            None => Ok(None),
            Some(url) => self.connect(Some(url)).map(Some),
        }
    }

    /// The database with whatever is set, as `--source postgres` asks.
    #[cfg(feature = "postgres")]
    pub fn connect(&self, primary: Option<&str>) -> Result<Database, SettingsError> {
        use store::{Role, Target};
        let primary = primary.filter(|u| !u.is_empty());
        let replica = self
            .database_replica_url
            .as_deref()
            .filter(|u| !u.is_empty());
        if !(self.replica_wait.is_finite() && (0.0..=3600.0).contains(&self.replica_wait)) {
            return Err(SettingsError::Invalid(
                "--replica-wait (REPLICA_WAIT_SECS) must be between 0 and 3600 seconds".into(),
            ));
        }
        let limits = self.limits();
        let target = |url: Option<&str>, role| {
            url.map(|u| Target::with_limits(u, role, limits))
                .transpose()
        };
        Ok(Database {
            primary: target(primary, Role::Primary)?,
            replica: target(replica, Role::Replica)?,
            replica_wait: Duration::from_secs_f64(self.replica_wait),
        })
    }

    /// The database with whatever is set, as `--source postgres` asks.
    #[cfg(not(feature = "postgres"))]
    pub fn connect(&self, _: Option<&str>) -> Result<Database, SettingsError> {
        Err(SettingsError::NotBuiltWith {
            setting: "DATABASE_URL (or --source postgres)",
            what: "PostgreSQL support",
            feature: "postgres",
        })
    }

    /// Pool size and connect timeout, within sane bounds.
    #[cfg(feature = "postgres")]
    pub fn limits(&self) -> store::Limits {
        store::Limits {
            pool_size: self.pool_size.clamp(1, 64),
            connect_timeout: Duration::from_secs(self.connect_timeout.clamp(1, 600)),
        }
    }
}

/// Where a publish goes and the limits it keeps to.
#[derive(Debug, Clone, clap::Args)]
pub struct PublishArgs {
    /// The bucket to publish to. Unset: publish to the local folder --out.
    #[arg(long, env = "S3_BUCKET", value_name = "NAME")]
    pub bucket: Option<String>,

    /// A folder in the bucket to publish under (CloudFront's origin path).
    #[arg(long, env = "S3_PREFIX", value_name = "PREFIX", default_value = "")]
    pub prefix: String,

    /// The CloudFront distribution to invalidate. Unset: no invalidation.
    #[arg(long, env = "CLOUDFRONT_DISTRIBUTION_ID", value_name = "ID")]
    pub distribution_id: Option<String>,

    /// The bucket's region [default: from the AWS profile]
    #[arg(long, env = "AWS_REGION", value_name = "REGION")]
    pub region: Option<String>,

    /// An S3- and CloudFront-compatible endpoint, such as the local stack's.
    #[arg(long, env = "AWS_ENDPOINT_URL", value_name = "URL")]
    pub endpoint_url: Option<String>,

    /// The local folder to publish to when no bucket is set.
    #[arg(
        long,
        env = "PUBLISH_DIR",
        value_name = "DIR",
        default_value = "public"
    )]
    pub out: PathBuf,

    /// Refuse to delete more than N objects [default: half of the live ones]
    #[arg(long, env = "PUBLISH_MAX_DELETES", value_name = "N")]
    pub max_deletes: Option<usize>,

    /// Past this many changed paths, invalidate /* instead (one path, as
    /// CloudFront bills it).
    #[arg(
        long,
        env = "PUBLISH_MAX_INVALIDATION_PATHS",
        value_name = "N",
        default_value_t = 300
    )]
    pub max_invalidation_paths: usize,

    /// Requests to S3 in flight at once.
    #[arg(
        long,
        env = "PUBLISH_CONCURRENCY",
        value_name = "N",
        default_value_t = 16
    )]
    pub concurrency: usize,
}

/// What one publish run asks for beyond the settings: the command line's
/// `--dry-run`, `--verify`, `--force` and whether to show progress.
#[derive(Debug, Clone, Copy, Default)]
pub struct RunFlags {
    pub dry_run: bool,
    pub verify: bool,
    pub force: bool,
    pub progress: bool,
}

impl PublishArgs {
    /// The destination these settings name: the bucket (and its clients,
    /// built in the one place that builds them), else the folder `out`.
    pub async fn destination(&self, run: RunFlags) -> Result<Destination, SettingsError> {
        let Some(bucket) = self.bucket.as_deref().filter(|b| !b.is_empty()) else {
            return Ok(Destination::Dir {
                out: self.out.clone(),
                dry_run: run.dry_run,
            });
        };
        self.bucket_destination(bucket, run).await
    }

    #[cfg(feature = "s3")]
    async fn bucket_destination(
        &self,
        bucket: &str,
        run: RunFlags,
    ) -> Result<Destination, SettingsError> {
        use publish::plan::Guards;
        use publish::s3;
        let settings = s3::AwsSettings {
            region: self.region.clone().filter(|r| !r.is_empty()),
            endpoint_url: self.endpoint_url.clone().filter(|u| !u.is_empty()),
        };
        Ok(Destination::S3 {
            clients: s3::clients(&settings).await?,
            target: s3::Target::new(bucket, &self.prefix, self.distribution_id.as_deref()),
            options: s3::Options {
                dry_run: run.dry_run,
                verify: run.verify,
                guards: Guards {
                    max_deletes: self.max_deletes,
                    max_invalidation_paths: self.max_invalidation_paths.max(1),
                    force: run.force,
                    ..Guards::default()
                },
                concurrency: self.concurrency.clamp(1, 256),
                progress: run.progress,
            },
        })
    }

    #[cfg(not(feature = "s3"))]
    async fn bucket_destination(&self, _: &str, _: RunFlags) -> Result<Destination, SettingsError> {
        Err(SettingsError::NotBuiltWith {
            setting: "S3_BUCKET (--bucket)",
            what: "S3 support",
            feature: "s3",
        })
    }
}

/// Log format on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Sets up `tracing` to stderr, as text or JSON, filtered by `RUST_LOG`.
/// Servers keep timestamps in text mode; one-shot commands leave them out.
pub fn init_logging(format: LogFormat, timestamps: bool) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,refinery_core=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour only on a terminal: no escape codes in files, CI or journald.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    let _ = match (format, timestamps) {
        (LogFormat::Json, _) => builder.json().try_init(),
        (LogFormat::Text, true) => builder.with_target(false).try_init(),
        (LogFormat::Text, false) => builder.with_target(false).without_time().try_init(),
    };
}

/// A runtime for one-shot work on the command line: the database, S3 and
/// CloudFront clients.
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
}
