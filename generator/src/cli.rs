//! The command line: parse flags, turn them into settings, run the command.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use clap::{Parser, Subcommand, ValueEnum};

use crate::pipeline::{self, BuildConfig};
use crate::publish;
use crate::serve::{self, ServeConfig};

/// Builds and serves the Shopfront storefront.
///
/// The storefront is static: a page per product, per category and per listing
/// page, a search page, products.json, sitemap.xml and robots.txt, rendered
/// from the catalog in content/ with a Tera theme.
#[derive(Debug, Parser)]
#[command(name = "generator", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// Log format on stderr.
    #[arg(long, global = true, env = "LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, clap::Args)]
struct SourceArgs {
    /// The content folder: site.toml, products/*.md, images/ and optional
    /// templates/ [default: content]
    #[arg(long, value_name = "DIR")]
    content: Option<PathBuf>,

    /// The folder of themes; the theme named in site.toml is read from here, or
    /// the built-in default theme is used if it is not there.
    #[arg(long, value_name = "DIR", default_value = "themes")]
    themes: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum SourceKind {
    Content,
    Postgres,
}

/// The primary, for the commands that write to it.
#[derive(Debug, Clone, clap::Args)]
struct PrimaryArgs {
    /// The primary, as postgres://user:password@host:port/database.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true, value_name = "URL")]
    database_url: String,
}

impl PrimaryArgs {
    fn target(&self) -> anyhow::Result<crate::db::Target> {
        Ok(crate::db::Target::parse(
            &self.database_url,
            crate::db::Role::Primary,
        )?)
    }
}

#[derive(Debug, Clone, clap::Args)]
struct DbArgs {
    /// The primary, as postgres://user:password@host:port/database.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true, value_name = "URL")]
    database_url: Option<String>,

    /// The read replica; unset means reads go to the primary.
    #[arg(
        long,
        env = "DATABASE_REPLICA_URL",
        hide_env_values = true,
        value_name = "URL"
    )]
    database_replica_url: Option<String>,

    /// How long to wait for the replica to catch up with the primary before
    /// reading from the primary instead.
    #[arg(
        long,
        env = "REPLICA_WAIT_SECS",
        value_name = "SECONDS",
        default_value_t = 10.0
    )]
    replica_wait: f64,

    /// Connections each server's pool may open.
    #[arg(
        long,
        env = "DATABASE_POOL_SIZE",
        value_name = "N",
        default_value_t = 4
    )]
    pool_size: usize,

    /// How long to wait for a connection before treating a server as down.
    #[arg(
        long,
        env = "DATABASE_CONNECT_TIMEOUT_SECS",
        value_name = "SECONDS",
        default_value_t = 5
    )]
    connect_timeout: u64,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Render the whole site and write it to a folder.
    ///
    /// Every page is rendered in memory first; the output folder is replaced in
    /// one swap only if all of them succeeded, so a failed build leaves the
    /// previous output untouched. Set SOURCE_DATE_EPOCH for a reproducible
    /// `generated_at` in products.json.
    Build {
        #[command(flatten)]
        source: SourceArgs,

        /// Where the products come from. Defaults to postgres when DATABASE_URL
        /// is set and --content is not given, else content. With postgres,
        /// site.toml, images and templates still come from the content folder.
        #[arg(long = "source", value_enum, value_name = "SOURCE")]
        from: Option<SourceKind>,

        #[command(flatten)]
        db: DbArgs,

        /// Where to write the site. Replaced whole; it must be empty or a previous output.
        #[arg(long, value_name = "DIR", default_value = "public")]
        out: PathBuf,
    },
    /// Build, serve on 127.0.0.1 and rebuild when content or the theme changes.
    ///
    /// Open pages reload by themselves after a rebuild. A failed rebuild is shown
    /// in the terminal and on the page, and the last good site keeps being served.
    Serve {
        #[command(flatten)]
        source: SourceArgs,

        /// The port to listen on.
        #[arg(long, short, default_value_t = 8000)]
        port: u16,
    },
    /// Apply the database migrations to the primary.
    ///
    /// Migrations are embedded in the binary and applied in order, each once;
    /// running this again is a no-op.
    Migrate {
        #[command(flatten)]
        primary: PrimaryArgs,
    },
    /// Load the content folder into the primary, upserting by slug.
    ///
    /// The content is validated exactly as `build` does; any problem aborts the
    /// import before anything is written. Everything goes in one transaction.
    /// Unchanged products are left untouched, so importing twice changes nothing.
    /// Products in the database but not in the content are left alone.
    Import {
        /// The content folder to import.
        #[arg(long, value_name = "DIR", default_value = "content")]
        content: PathBuf,

        #[command(flatten)]
        primary: PrimaryArgs,
    },
}

/// Runs the command line and returns the process exit code.
pub fn run() -> anyhow::Result<ExitCode> {
    let cli = Cli::parse();
    init_logging(cli.log_format);
    let progress = cli.log_format == LogFormat::Text
        && std::io::stderr().is_terminal()
        && std::env::var_os("CI").is_none();
    match cli.command {
        Command::Build {
            source,
            from,
            db,
            out,
        } => {
            let config = build_config(&source, progress)?;
            let started = Instant::now();
            let from = from.unwrap_or(if source.content.is_none() && db.database_url.is_some() {
                SourceKind::Postgres
            } else {
                SourceKind::Content
            });
            let built = match from {
                SourceKind::Content => pipeline::build_from_content(&config)?,
                SourceKind::Postgres => pipeline::build_from_postgres(&config, &pg_source(&db)?)?.0,
            };
            publish::dir::write_site(&built.site, &out)?;
            println!(
                "built {} pages ({} files, {}) from {} products in {} ms → {}",
                built.site.html_pages(),
                built.site.len(),
                human_bytes(built.site.total_bytes()),
                built.catalog.products.len(),
                started.elapsed().as_millis(),
                out.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Migrate { primary } => {
            let primary = primary.target()?;
            let migrated = crate::db::runtime()?.block_on(crate::db::migrate(&primary))?;
            if migrated.applied.is_empty() {
                println!("the database on {} is up to date", primary.server());
            } else {
                println!(
                    "applied {} migration(s) on {}: {}",
                    migrated.applied.len(),
                    primary.server(),
                    migrated.applied.join(", ")
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Import { content, primary } => {
            let primary = primary.target()?;
            let catalog = crate::source::content::load(&content)?;
            let runtime = crate::db::runtime()?;
            let started = Instant::now();
            let done = runtime.block_on(crate::db::import(&primary, &catalog))?;
            println!(
                "imported {} products into {} in {} ms: {} inserted, {} updated, {} unchanged; {} in the database but not in {} (left alone); wanted_version {}",
                catalog.products.len(),
                primary.server(),
                started.elapsed().as_millis(),
                done.inserted,
                done.updated,
                done.unchanged,
                done.not_in_content,
                content.display(),
                done.wanted_version
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Serve { source, port } => {
            let config = ServeConfig {
                build: build_config(&source, progress)?,
                port,
            };
            serve::serve(&config)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn pg_source(db: &DbArgs) -> anyhow::Result<crate::source::postgres::PgSource> {
    use crate::db::{Role, Target};
    anyhow::ensure!(
        db.replica_wait.is_finite() && (0.0..=3600.0).contains(&db.replica_wait),
        "--replica-wait must be between 0 and 3600 seconds"
    );
    let limits = crate::db::Limits {
        pool_size: db.pool_size.clamp(1, 64),
        connect_timeout: std::time::Duration::from_secs(db.connect_timeout.clamp(1, 600)),
    };
    let target = |url: &Option<String>, role| {
        url.as_deref()
            .map(|u| Target::with_limits(u, role, limits))
            .transpose()
    };
    Ok(crate::source::postgres::PgSource {
        primary: target(&db.database_url, Role::Primary)?,
        replica: target(&db.database_replica_url, Role::Replica)?,
        replica_wait: std::time::Duration::from_secs_f64(db.replica_wait),
    })
}

fn build_config(source: &SourceArgs, progress: bool) -> anyhow::Result<BuildConfig> {
    let content = source
        .content
        .clone()
        .unwrap_or_else(|| PathBuf::from("content"));
    anyhow::ensure!(
        content.join("site.toml").is_file(),
        "{} is not a content folder (it has no site.toml); pass --content DIR or run from the shop's folder",
        content.display()
    );
    Ok(BuildConfig {
        content_dir: content,
        themes_dir: source.themes.clone(),
        generated_at: source_date_epoch()?,
        progress,
    })
}

/// `SOURCE_DATE_EPOCH` (seconds since 1970), the convention for reproducible builds.
fn source_date_epoch() -> anyhow::Result<Option<DateTime<Utc>>> {
    let Ok(value) = std::env::var("SOURCE_DATE_EPOCH") else {
        return Ok(None);
    };
    let secs: i64 = value
        .trim()
        .parse()
        .with_context(|| format!("SOURCE_DATE_EPOCH={value:?} is not a whole number of seconds"))?;
    DateTime::from_timestamp(secs, 0)
        .map(Some)
        .with_context(|| format!("SOURCE_DATE_EPOCH={value:?} is out of range"))
}

pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut unit = 0;
    let mut whole = n;
    let mut tenths = 0;
    while whole >= 1024 && unit < UNITS.len() - 1 {
        tenths = (whole % 1024) * 10 / 1024;
        whole /= 1024;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{whole}.{tenths} {}", UNITS[unit])
    }
}

fn init_logging(format: LogFormat) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,refinery_core=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.with_target(false).without_time().try_init(),
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_are_human() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(5 * 1024 * 1024), "5.0 MiB");
    }

    #[test]
    fn cli_is_well_formed() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
