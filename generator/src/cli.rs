//! The command line: parse flags, turn them into settings, run the command.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use clap::{Parser, Subcommand, ValueEnum};

use pipeline::rebuild;
use pipeline::settings::{DatabaseArgs, LogFormat, PublishArgs, RunFlags, init_logging, runtime};
use pipeline::{BuildConfig, Database};
use publish::plan::Invalidation;
use publish::{self, PublishError, Summary};

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

    /// Where photos' variants are kept between builds, so that a rebuild
    /// encodes only new photos. Safe to delete at any time. Default:
    /// `.shopfront/image-cache` beside the content folder.
    #[arg(long, env = "SHOPFRONT_IMAGE_CACHE", value_name = "DIR")]
    image_cache: Option<PathBuf>,
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

#[cfg(feature = "postgres")]
impl PrimaryArgs {
    fn target(&self) -> anyhow::Result<store::Target> {
        Ok(store::Target::parse(
            &self.database_url,
            store::Role::Primary,
        )?)
    }
}

/// The api's own database login, set up by `migrate`.
#[derive(Debug, Clone, clap::Args)]
struct ApiRoleArgs {
    /// The role the api connects as (created if missing).
    #[arg(
        long,
        env = "API_DATABASE_ROLE",
        value_name = "NAME",
        requires = "api_password"
    )]
    api_role: Option<String>,
    /// Its password (set on every run, so a rotated secret takes effect).
    #[arg(
        long,
        env = "API_DATABASE_PASSWORD",
        hide_env_values = true,
        value_name = "PASSWORD",
        requires = "api_role"
    )]
    api_password: Option<String>,
}

#[derive(Debug, Clone, clap::Args)]
struct DbArgs {
    /// The primary, as postgres://user:password@host:port/database.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true, value_name = "URL")]
    database_url: Option<String>,

    #[command(flatten)]
    more: DatabaseArgs,
}

impl DbArgs {
    fn database(&self) -> anyhow::Result<Option<Database>> {
        Ok(self.more.database(self.database_url.as_deref())?)
    }
}

/// Where a build's products, settings and theme come from.
#[derive(Debug, Clone, clap::Args)]
struct InputArgs {
    #[command(flatten)]
    source: SourceArgs,

    /// Where the products come from. Defaults to postgres when DATABASE_URL
    /// is set and --content is not given, else content. With postgres,
    /// site.toml, images and templates still come from the content folder.
    #[arg(long = "source", value_enum, value_name = "SOURCE")]
    from: Option<SourceKind>,

    #[command(flatten)]
    db: DbArgs,
}

/// Where and how to publish.
#[derive(Debug, Clone, clap::Args)]
struct PublishFlags {
    #[command(flatten)]
    to: PublishArgs,

    /// Print the plan (uploads, deletes, invalidation) and change nothing.
    #[arg(long)]
    dry_run: bool,

    /// Ignore the manifest: compare against the bucket's listing and each
    /// object's metadata (slower; for a missing or doubtful manifest).
    #[arg(long)]
    verify: bool,

    /// Publish even if the delete guard or the empty-catalog guard objects.
    #[arg(long)]
    force: bool,

    /// Print the summary as JSON on stdout, for automation.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Render the whole site and write it to a folder.
    ///
    /// Every page is rendered in memory first; the output folder is replaced in
    /// one swap only if all of them succeeded, so a failed build leaves the
    /// previous output untouched. `generated_at` in products.json is the
    /// catalog's latest `updated_at`, or SOURCE_DATE_EPOCH if set.
    Build {
        #[command(flatten)]
        input: InputArgs,

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
    /// Render the site and publish it: to S3 + CloudFront when a bucket is
    /// set, else to the local folder --out.
    ///
    /// Only objects whose bytes changed are uploaded (decided by SHA-256, kept
    /// in each object's metadata and in a manifest written last). Uploads go
    /// in order: assets, product pages, then listings and feeds; stale objects
    /// are deleted last, behind the delete and empty-catalog guards; changed
    /// paths are invalidated on CloudFront. A publish that fails part way
    /// deletes nothing, and running it again completes it.
    Publish {
        #[command(flatten)]
        input: InputArgs,

        #[command(flatten)]
        publish: PublishFlags,
    },
    /// Wait for the replica, build, publish, and record the build in
    /// site_builds: what ops run, and what the api's rebuild worker runs.
    ///
    /// With DATABASE_URL, one build runs at a time across the fleet (an
    /// advisory lock), and a successful publish moves published_version
    /// forward. Without it, the site is built from the content folder.
    Rebuild {
        #[command(flatten)]
        source: SourceArgs,

        #[command(flatten)]
        db: DbArgs,

        #[command(flatten)]
        publish: PublishFlags,

        /// Why this build runs, as recorded in site_builds.
        #[arg(long, value_name = "WORD", default_value = "cli")]
        trigger: String,
    },
    /// Apply the database migrations to the primary.
    ///
    /// Migrations are embedded in the binary and applied in order, each once;
    /// running this again is a no-op. Concurrent runs (instances booting
    /// together) take turns under a PostgreSQL advisory lock. Run it as the
    /// database's owner; with --api-role, it also creates or updates the
    /// api's own login, which may only read and write the catalog's tables.
    Migrate {
        #[command(flatten)]
        primary: PrimaryArgs,
        #[command(flatten)]
        api_role: ApiRoleArgs,
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
    init_logging(cli.log_format, false);
    let progress = cli.log_format == LogFormat::Text
        && std::io::stderr().is_terminal()
        && std::env::var_os("CI").is_none();
    match cli.command {
        Command::Build { input, out } => {
            let config = build_config(&input.source, progress)?;
            let started = Instant::now();
            let database = database(&input)?;
            let runtime = runtime()?;
            let (built, ..) = runtime.block_on(rebuild::build(&config, database.as_ref()))?;
            let writing = std::time::Instant::now();
            let written = publish::dir::write_site(&built.site, &out)?;
            tracing::debug!(write_time = ?writing.elapsed(), "site written");
            let changes = if written.unchanged + written.removed.len() > 0 {
                format!(
                    " ({} written, {} unchanged, {} removed)",
                    written.written.len(),
                    written.unchanged,
                    written.removed.len()
                )
            } else {
                String::new()
            };
            println!(
                "built {} pages ({} files, {}) from {} products in {} ms → {}{changes}",
                built.site.html_pages(),
                built.site.len(),
                human_bytes(built.site.total_bytes()),
                built.catalog.products.len(),
                started.elapsed().as_millis(),
                out.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Publish { input, publish } => {
            let database = database(&input)?;
            let outcome = run_job(&input.source, database, &publish, "publish", progress)?;
            report(&outcome.publish, publish.json)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Rebuild {
            source,
            db,
            publish,
            trigger,
        } => {
            let database = db.database()?;
            let outcome = run_job(&source, database, &publish, &trigger, progress)?;
            if publish.json {
                println!("{}", serde_json::to_string_pretty(&outcome)?);
                return Ok(ExitCode::SUCCESS);
            }
            let version = outcome
                .catalog_version
                .map_or(String::new(), |v| format!(" at catalog version {v}"));
            let build = outcome
                .build_id
                .map_or(String::new(), |id| format!(" (build {id})"));
            println!(
                "rebuilt {} products from the {}{version}{build}",
                outcome.products, outcome.read_from
            );
            report(&outcome.publish, false)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Migrate { primary, api_role } => migrate(&primary, &api_role),
        Command::Import { content, primary } => import(&content, &primary),
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

/// The database to build from, if the products come from PostgreSQL:
/// `--source`, else PostgreSQL when DATABASE_URL is set and --content is not.
fn database(input: &InputArgs) -> anyhow::Result<Option<Database>> {
    let from = input.from.unwrap_or(
        if input.source.content.is_none() && input.db.database_url.is_some() {
            SourceKind::Postgres
        } else {
            SourceKind::Content
        },
    );
    match from {
        SourceKind::Content => Ok(None),
        SourceKind::Postgres => Ok(Some(
            input.db.more.connect(input.db.database_url.as_deref())?,
        )),
    }
}

/// Builds and publishes: what `publish` and `rebuild` share. A failed
/// publish prints its summary first with --json.
fn run_job(
    source: &SourceArgs,
    database: Option<Database>,
    publish: &PublishFlags,
    trigger: &str,
    progress: bool,
) -> anyhow::Result<rebuild::Outcome> {
    let config = build_config(source, progress && !publish.json)?;
    let runtime = runtime()?;
    let flags = RunFlags {
        dry_run: publish.dry_run,
        verify: publish.verify,
        force: publish.force,
        progress: progress && !publish.json,
    };
    let destination = runtime.block_on(publish.to.destination(flags))?;
    let job = rebuild::Job {
        build: &config,
        database: database.as_ref(),
        destination: &destination,
        trigger,
    };
    runtime
        .block_on(rebuild::rebuild(&job))
        .map_err(|e| report_stopped(e.into(), publish.json))
}

/// `generator migrate`.
#[cfg(feature = "postgres")]
fn migrate(primary: &PrimaryArgs, api_role: &ApiRoleArgs) -> anyhow::Result<ExitCode> {
    let primary = primary.target()?;
    let role = match (&api_role.api_role, &api_role.api_password) {
        (Some(name), Some(password)) => Some(store::ApiRole {
            name: name.clone(),
            password: password.clone(),
        }),
        _ => None,
    };
    let migrated = runtime()?.block_on(store::migrate(&primary, role.as_ref()))?;
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
    if let Some(name) = migrated.api_role {
        println!("the api role {name} may read and write the catalog tables, and nothing else");
    }
    Ok(ExitCode::SUCCESS)
}

/// `generator import`.
#[cfg(feature = "postgres")]
fn import(content: &std::path::Path, primary: &PrimaryArgs) -> anyhow::Result<ExitCode> {
    let primary = primary.target()?;
    let catalog = content::load(content)?;
    let runtime = runtime()?;
    let started = Instant::now();
    let done = runtime.block_on(store::import(&primary, &catalog))?;
    println!(
        "imported {} products into {} in {} ms: {} inserted, {} updated, {} unchanged; {} in the database but not in {} (left alone); wanted_version {}",
        catalog.products.len() + catalog.unlisted.len(),
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

#[cfg(not(feature = "postgres"))]
fn migrate(_: &PrimaryArgs, _: &ApiRoleArgs) -> anyhow::Result<ExitCode> {
    Err(without_postgres("migrate"))
}

#[cfg(not(feature = "postgres"))]
fn import(_: &std::path::Path, _: &PrimaryArgs) -> anyhow::Result<ExitCode> {
    Err(without_postgres("import"))
}

#[cfg(not(feature = "postgres"))]
fn without_postgres(command: &str) -> anyhow::Error {
    anyhow::anyhow!(
        "`generator {command}` needs PostgreSQL, and this binary was built without PostgreSQL support; build it with `--features postgres`"
    )
}

/// Prints a publish's summary: the plan in full for a dry run, else one line.
fn report(summary: &Summary, json: bool) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    match write_report(&mut out, summary, json).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

fn write_report(
    out: &mut impl std::io::Write,
    summary: &Summary,
    json: bool,
) -> std::io::Result<()> {
    if json {
        serde_json::to_writer_pretty(&mut *out, summary)?;
        writeln!(out)?;
        return Ok(());
    }
    let invalidated = match &summary.invalidation {
        Invalidation::None => "nothing".to_owned(),
        Invalidation::Everything => "/* (too many paths to list)".to_owned(),
        Invalidation::Paths(paths) => format!("{} paths", paths.len()),
    };
    if summary.dry_run {
        writeln!(
            out,
            "dry run for {}: would upload {} objects ({}), leave {} unchanged, delete {} and invalidate {}; nothing was changed",
            summary.target,
            summary.uploads.len(),
            human_bytes(summary.upload_bytes),
            summary.unchanged,
            summary.deletes.len(),
            invalidated
        )?;
        for key in &summary.uploads {
            writeln!(out, "  upload      {key}")?;
        }
        for key in &summary.deletes {
            writeln!(out, "  delete      {key}")?;
        }
        for path in summary.invalidation.paths() {
            writeln!(out, "  invalidate  {path}")?;
        }
        return Ok(());
    }
    let id = summary
        .invalidation_id
        .as_deref()
        .map_or(String::new(), |id| format!(" (invalidation {id})"));
    writeln!(
        out,
        "published to {} in {} ms: uploaded {} objects ({}), {} unchanged, deleted {}, invalidated {}{id}",
        summary.target,
        summary.elapsed_ms,
        summary.uploads.len(),
        human_bytes(summary.upload_bytes),
        summary.unchanged,
        summary.deletes.len(),
        invalidated
    )
}

/// A failed publish: with --json, the summary of what was done goes to stdout
/// first; the error itself goes to stderr.
fn report_stopped(e: anyhow::Error, json: bool) -> anyhow::Error {
    let stopped = match e.downcast_ref::<rebuild::RebuildError>() {
        Some(rebuild::RebuildError::Publish(PublishError::Stopped { summary, .. })) => {
            Some(summary)
        }
        _ => None,
    };
    if let (true, Some(summary)) = (json, stopped)
        && let Ok(text) = serde_json::to_string_pretty(summary)
    {
        println!("{text}");
    }
    e
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
        image_cache: Some(
            source
                .image_cache
                .clone()
                .unwrap_or_else(|| images::default_cache_dir(&content)),
        ),
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
