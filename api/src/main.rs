//! The `api` binary: serve, or manage admin accounts.

use std::io::BufRead as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use generator::db::{Role, Target};

/// The Shopfront write API.
#[derive(Debug, Parser)]
#[command(name = "api", version, about, args_conflicts_with_subcommands = true)]
struct Cli {
    /// Log format on stderr.
    #[arg(long, global = true, env = "LOG_FORMAT", default_value = "text", value_parser = ["text", "json"])]
    log_format: String,

    /// The primary, as postgres://user:password@host:port/database. Unset:
    /// the embedded default, which edits the content folder.
    #[arg(long, global = true, env = "DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,

    /// Without a database: where admin users and API tokens are kept
    /// (accounts.json). Keep it out of version control.
    #[arg(long, global = true, env = "STATE_DIR", default_value = ".shopfront")]
    state_dir: PathBuf,

    #[command(flatten)]
    serve: ServeArgs,

    #[command(subcommand)]
    command: Option<Command>,
}

/// How to serve: every setting also comes from the environment.
#[derive(Debug, clap::Args)]
struct ServeArgs {
    /// Where to listen.
    #[arg(long, env = "API_ADDR", default_value = "127.0.0.1:8080")]
    addr: String,
    /// The read replica; unset means reads go to the primary.
    #[arg(long, env = "DATABASE_REPLICA_URL", hide_env_values = true)]
    database_replica_url: Option<String>,
    /// The content folder (site.toml, images, templates) and themes.
    #[arg(long, env = "CONTENT_DIR", default_value = "content")]
    content: PathBuf,
    #[arg(long, env = "THEMES_DIR", default_value = "themes")]
    themes: PathBuf,
    /// The bucket to publish to; unset means the folder --out.
    #[arg(long, env = "S3_BUCKET")]
    bucket: Option<String>,
    #[arg(long, env = "S3_PREFIX", default_value = "")]
    prefix: String,
    #[arg(long, env = "CLOUDFRONT_DISTRIBUTION_ID")]
    distribution_id: Option<String>,
    #[arg(long, env = "AWS_REGION")]
    region: Option<String>,
    #[arg(long, env = "AWS_ENDPOINT_URL")]
    endpoint_url: Option<String>,
    #[arg(long, env = "PUBLISH_DIR", default_value = "public")]
    out: PathBuf,
    /// Do not run the rebuild worker in this process.
    #[arg(long, env = "API_NO_WORKER", value_parser = clap::builder::BoolishValueParser::new())]
    no_worker: bool,
    /// Signs session cookies; at least 32 bytes, the same on every instance.
    #[arg(long, env = "SESSION_SECRET", hide_env_values = true)]
    session_secret: Option<String>,
    /// Proxies (addresses or CIDR blocks, comma-separated) whose
    /// X-Forwarded-For and X-Forwarded-Proto are believed: the ALB's subnets.
    #[arg(long, env = "TRUSTED_PROXIES", value_delimiter = ',')]
    trusted_proxies: Vec<String>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the API (the default, also without a subcommand).
    Serve(Box<ServeArgs>),
    /// Manage admin accounts.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
}

#[derive(Debug, Subcommand)]
enum AdminCommand {
    /// Create an admin user; the password is read from stdin.
    CreateUser {
        #[arg(long)]
        email: String,
    },
    /// Set an admin's password; the new password is read from stdin.
    SetPassword {
        #[arg(long)]
        email: String,
    },
    /// Create an API token for an admin and print it (it is shown only once).
    CreateToken {
        #[arg(long)]
        email: String,
        /// What the token is for.
        #[arg(long, default_value = "script")]
        name: String,
    },
    /// Revoke an API token by its id.
    RevokeToken {
        #[arg(long)]
        id: i64,
    },
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    init_logging(&cli.log_format);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let primary = cli
        .database_url
        .clone()
        .filter(|u| !u.is_empty())
        .map(|url| Target::parse(&url, Role::Primary))
        .transpose()?;
    let serve = match cli.command {
        None => cli.serve,
        Some(Command::Serve(args)) => *args,
        Some(Command::Admin { command }) => {
            return runtime.block_on(admin(primary, &cli.state_dir, command));
        }
    };
    let state_dir = cli.state_dir;
    let ServeArgs {
        addr,
        database_replica_url,
        content,
        themes,
        bucket,
        prefix,
        distribution_id,
        region,
        endpoint_url,
        out,
        no_worker,
        session_secret,
        trusted_proxies,
    } = serve;
    runtime.block_on(async {
            let replica = database_replica_url
                .filter(|u| !u.is_empty())
                .map(|u| Target::parse(&u, Role::Replica))
                .transpose()?;
            let sessions = match session_secret.filter(|s| !s.is_empty()) {
                Some(secret) => api::session::Sessions::new(secret.as_bytes()).map_err(anyhow::Error::msg)?,
                None => {
                    tracing::warn!(
                        "SESSION_SECRET is not set: sessions are signed with a random key, so they end when this process does and other instances reject them"
                    );
                    let mut key = [0u8; 32];
                    rand::RngCore::fill_bytes(&mut rand::rng(), &mut key);
                    api::session::Sessions::new(&key).map_err(anyhow::Error::msg)?
                }
            };
            let trusted_proxies = trusted_proxies
                .iter()
                .filter(|p| !p.trim().is_empty())
                .map(|p| api::state::Network::parse(p))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| anyhow::anyhow!("TRUSTED_PROXIES: {e}"))?;
            let store = match &primary {
                Some(primary) => api::store::Store::Postgres {
                    primary: primary.clone(),
                    replica: replica.clone(),
                },
                None => {
                    tracing::info!(
                        "DATABASE_URL is not set: the embedded default, editing {} and keeping accounts in {}",
                        content.display(),
                        state_dir.display()
                    );
                    api::store::Store::Files(api::files::Files::new(&content, &state_dir))
                }
            };
            let state = Arc::new(api::state::State::new(
                store,
                content.clone(),
                sessions,
                trusted_proxies,
            ));
            let rebuilds = if no_worker {
                None
            } else {
                let destination = match bucket.filter(|b| !b.is_empty()) {
                    None => generator::publish::Destination::Dir {
                        out,
                        dry_run: false,
                    },
                    Some(bucket) => {
                        use generator::publish::s3;
                        let settings = s3::AwsSettings {
                            region: region.filter(|r| !r.is_empty()),
                            endpoint_url: endpoint_url.filter(|u| !u.is_empty()),
                        };
                        generator::publish::Destination::S3 {
                            clients: s3::clients(&settings).await?,
                            target: s3::Target::new(&bucket, &prefix, distribution_id.as_deref()),
                            options: s3::Options::default(),
                        }
                    }
                };
                anyhow::ensure!(
                    content.join("site.toml").is_file(),
                    "{} has no site.toml; set CONTENT_DIR to the shop's content folder",
                    content.display()
                );
                Some(api::worker::Rebuilds {
                    build: generator::pipeline::BuildConfig {
                        content_dir: content,
                        themes_dir: themes,
                        generated_at: None,
                        progress: false,
                    },
                    source: primary.map(|primary| generator::source::postgres::PgSource {
                        primary: Some(primary),
                        replica,
                        replica_wait: Duration::from_secs(10),
                    }),
                    destination,
                })
            };
            api::serve(&addr, state, rebuilds).await
    })
}

/// `api admin ...`: accounts in the database, or without one in the state
/// folder.
async fn admin(
    primary: Option<Target>,
    state_dir: &Path,
    command: AdminCommand,
) -> anyhow::Result<()> {
    use generator::db::admin;
    #[expect(clippy::large_enum_variant, reason = "one, for one command")]
    enum To {
        Db(generator::db::Connection, Target),
        Files(api::files::Files),
    }
    let to = match primary {
        Some(primary) => To::Db(primary.connect().await?, primary),
        None => To::Files(api::files::Files::new(Path::new("."), state_dir)),
    };
    match command {
        AdminCommand::CreateUser { email } => {
            let email = api::auth::normalize_email(&email).map_err(anyhow::Error::msg)?;
            let hash = api::auth::hash_password(&read_password()?)?;
            let id = match &to {
                To::Db(client, primary) => {
                    admin::create_user(client, primary, &email, &hash).await?
                }
                To::Files(files) => files.create_user(&email, &hash)?,
            };
            println!("created admin user {email} (id {id})");
        }
        AdminCommand::SetPassword { email } => {
            let email = api::auth::normalize_email(&email).map_err(anyhow::Error::msg)?;
            let hash = api::auth::hash_password(&read_password()?)?;
            match &to {
                To::Db(client, primary) => {
                    admin::set_password(client, primary, &email, &hash).await?
                }
                To::Files(files) => files.set_password(&email, &hash)?,
            }
            println!("set the password of {email}");
        }
        AdminCommand::CreateToken { email, name } => {
            let email = api::auth::normalize_email(&email).map_err(anyhow::Error::msg)?;
            let token = api::auth::new_token();
            let digest = api::auth::token_digest(&token);
            let id = match &to {
                To::Db(client, primary) => {
                    admin::create_token(client, primary, &email, &name, &digest).await?
                }
                To::Files(files) => files.create_token(&email, &name, &digest)?,
            };
            eprintln!("created API token {id} ({name}) for {email}; it is shown only now:");
            println!("{token}");
        }
        AdminCommand::RevokeToken { id } => {
            let revoked = match &to {
                To::Db(client, primary) => admin::revoke_token(client, primary, id).await?,
                To::Files(files) => files.revoke_token(id)?,
            };
            anyhow::ensure!(revoked, "there is no live API token with the id {id}");
            println!("revoked API token {id}");
        }
    }
    Ok(())
}

/// The first line of stdin, without its line ending.
fn read_password() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("could not read the password from stdin")?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

fn init_logging(format: &str) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,refinery_core=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if format == "json" {
        builder.json().try_init()
    } else {
        builder.with_target(false).try_init()
    };
}
