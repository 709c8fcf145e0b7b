//! The `api` binary: serve, or manage admin accounts.

// The rebuild worker's future (a rebuild, its publish and its TLS
// connections, nested) is deeper than rustc's default layout-query limit
// when built for aarch64.
#![recursion_limit = "256"]

use std::io::BufRead as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use pipeline::settings::{DatabaseArgs, LogFormat, PublishArgs, RunFlags, init_logging, runtime};
use store::{Role, Target};

/// The Shopfront write API.
#[derive(Debug, Parser)]
#[command(name = "api", version, about, args_conflicts_with_subcommands = true)]
struct Cli {
    /// Log format on stderr.
    #[arg(long, global = true, env = "LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,

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

/// How to serve: every setting also comes from the environment. The
/// database and publish settings are the ones `generator rebuild` reads,
/// with the same names.
#[derive(Debug, clap::Args)]
struct ServeArgs {
    /// Where to listen.
    #[arg(long, env = "API_ADDR", default_value = "127.0.0.1:8080")]
    addr: String,
    #[command(flatten)]
    database: DatabaseArgs,
    /// The content folder (site.toml, images, templates) and themes.
    #[arg(long, env = "CONTENT_DIR", default_value = "content")]
    content: PathBuf,
    #[arg(long, env = "THEMES_DIR", default_value = "themes")]
    themes: PathBuf,
    #[command(flatten)]
    publish: PublishArgs,
    /// Do not run the rebuild worker in this process.
    #[arg(long, env = "API_NO_WORKER", value_parser = clap::builder::BoolishValueParser::new())]
    no_worker: bool,
    /// Keys the sessions' and login forms' CSRF tokens; at least 32 bytes,
    /// the same on every instance.
    #[arg(long, env = "SESSION_SECRET", hide_env_values = true)]
    session_secret: Option<String>,
    /// Password checks (argon2id, 19 MiB each) that may run at once; a login
    /// beyond them gets 503 at once.
    #[arg(long, env = "LOGIN_VERIFIES", default_value_t = api::login::DEFAULT_VERIFIES)]
    login_verifies: usize,
    /// Requests that may be in flight at once; beyond, 503 at once.
    #[arg(long, env = "API_MAX_IN_FLIGHT", default_value_t = api::state::DEFAULT_IN_FLIGHT)]
    max_in_flight: usize,
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
    /// Set an admin's password (which ends their sessions); the new password
    /// is read from stdin.
    SetPassword {
        #[arg(long)]
        email: String,
    },
    /// Remove an admin user, with their API tokens and sessions.
    RemoveUser {
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
    init_logging(cli.log_format, true);
    let runtime = runtime()?;
    let args = match cli.command {
        None => cli.serve,
        Some(Command::Serve(args)) => *args,
        Some(Command::Admin { command }) => {
            let primary = cli
                .database_url
                .as_deref()
                .filter(|u| !u.is_empty())
                .map(|url| Target::parse(url, Role::Primary))
                .transpose()?;
            return runtime.block_on(admin(primary, &cli.state_dir, command));
        }
    };
    let state_dir = cli.state_dir;
    runtime.block_on(serve(cli.database_url, &state_dir, args))
}

/// `api` (or `api serve`): the store, the sessions, the rebuild worker, then
/// the server until SIGTERM.
async fn serve(
    database_url: Option<String>,
    state_dir: &Path,
    args: ServeArgs,
) -> anyhow::Result<()> {
    let ServeArgs {
        addr,
        database,
        content,
        themes,
        publish,
        no_worker,
        session_secret,
        login_verifies,
        max_in_flight,
        trusted_proxies,
    } = args;
    let source = database.database(database_url.as_deref())?;
    // Accounts, sessions and uploads: only this user may look (an existing
    // folder keeps its mode).
    content::create_private_dir_all(state_dir)
        .with_context(|| format!("could not create the state folder {}", state_dir.display()))?;
    keep_private(state_dir);
    let sessions = match session_secret.filter(|s| !s.is_empty()) {
        Some(secret) => {
            api::session::Sessions::new(secret.as_bytes()).map_err(anyhow::Error::msg)?
        }
        None => {
            tracing::warn!(
                "SESSION_SECRET is not set: CSRF tokens are keyed with a random key, so open forms go stale when this process ends and other instances reject them"
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
    let store = match source.as_ref().and_then(|s| s.primary.clone()) {
        Some(primary) => api::store::Store::Postgres {
            primary,
            replica: source.as_ref().and_then(|s| s.replica.clone()),
        },
        None => {
            tracing::info!(
                "DATABASE_URL is not set: the embedded default, editing {} and keeping accounts in {}",
                content.display(),
                state_dir.display()
            );
            api::store::Store::Files(api::files::Files::new(&content, state_dir))
        }
    };
    let state = Arc::new(
        api::state::State::new(store, content.clone(), sessions, trusted_proxies)
            .with_limits(login_verifies, max_in_flight)
            .with_themes_dir(themes.clone())
            .with_upload_dir(state_dir.join("uploads"))
            .with_image_cache(state_dir.join("image-cache")),
    );
    let rebuilds = if no_worker {
        None
    } else {
        anyhow::ensure!(
            content.join("site.toml").is_file(),
            "{} has no site.toml; set CONTENT_DIR to the shop's content folder",
            content.display()
        );
        Some(api::worker::Rebuilds {
            destination: publish.destination(RunFlags::default()).await?,
            build: pipeline::BuildConfig {
                content_dir: content,
                themes_dir: themes,
                generated_at: None,
                progress: false,
                // One edit costs only the encodes of its new photos.
                image_cache: Some(state_dir.join("image-cache")),
            },
            source,
        })
    };
    api::login::warm_up();
    api::serve(&addr, state, rebuilds).await
}

/// `api admin ...`: accounts in the database, or without one in the state
/// folder.
async fn admin(
    primary: Option<Target>,
    state_dir: &Path,
    command: AdminCommand,
) -> anyhow::Result<()> {
    use store::admin;
    #[expect(clippy::large_enum_variant, reason = "one, for one command")]
    enum To {
        Db(store::Connection, Target),
        Files(api::files::Files),
    }
    let mut to = match primary {
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
            match &mut to {
                To::Db(client, primary) => {
                    admin::set_password(&mut *client, primary, &email, &hash).await?
                }
                To::Files(files) => files.set_password(&email, &hash)?,
            }
            println!("set the password of {email}, and ended their sessions");
        }
        AdminCommand::RemoveUser { email } => {
            let email = api::auth::normalize_email(&email).map_err(anyhow::Error::msg)?;
            match &to {
                To::Db(client, primary) => admin::remove_user(client, primary, &email).await?,
                To::Files(files) => files.remove_user(&email)?,
            }
            println!("removed admin user {email}, with their API tokens and sessions");
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

/// Makes the secrets an earlier version left readable by others (mode 0644)
/// the owner's alone, and warns of a state folder others may enter.
fn keep_private(state_dir: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let open = |path: &Path| {
            std::fs::metadata(path)
                .ok()
                .filter(|m| m.permissions().mode() & 0o077 != 0)
        };
        for name in ["accounts.json", "sessions.json"] {
            let path = state_dir.join(name);
            if open(&path).is_some() {
                match std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)) {
                    Ok(()) => {
                        tracing::warn!("{} was readable by others; it is 0600 now", path.display())
                    }
                    Err(e) => tracing::error!(
                        "{} is readable by others and could not be made 0600: {e}",
                        path.display()
                    ),
                }
            }
        }
        if open(state_dir).is_some() {
            tracing::warn!(
                "the state folder {} is open to other users; chmod 700 it",
                state_dir.display()
            );
        }
    }
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
