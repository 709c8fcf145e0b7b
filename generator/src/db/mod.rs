//! PostgreSQL: connections and migrations. All SQL lives under this module.
//!
//! Error messages name the operation and the server (`host:port`), never the
//! connection URL, so a password can never reach a log.

use std::str::FromStr;

use tokio_postgres::config::Host;
use tokio_postgres::{Client, Config, NoTls};

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
    #[error(
        "cannot connect to {role} at {server}: {source}; check that the server is running and the URL is right"
    )]
    Connect {
        role: Role,
        server: String,
        source: tokio_postgres::Error,
    },
    #[error("{operation} on {server} failed: {source}")]
    Query {
        operation: &'static str,
        server: String,
        source: tokio_postgres::Error,
    },
    #[error("migrating the database on {server} failed: {source}")]
    Migrate {
        server: String,
        source: refinery::Error,
    },
}

/// A parsed connection target.
#[derive(Clone)]
pub struct Target {
    pub role: Role,
    config: Config,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Target({}, {})", self.role, self.server())
    }
}

impl Target {
    pub fn parse(url: &str, role: Role) -> Result<Self, DbError> {
        let mut config = Config::from_str(url).map_err(|e| DbError::BadUrl {
            role,
            reason: e.to_string(),
        })?;
        config.application_name("shopfront-generator");
        config.connect_timeout(std::time::Duration::from_secs(5));
        Ok(Self { role, config })
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

    /// Opens one connection; the connection task runs on the current runtime.
    pub async fn connect(&self) -> Result<Client, DbError> {
        let (client, connection) =
            self.config
                .connect(NoTls)
                .await
                .map_err(|source| DbError::Connect {
                    role: self.role,
                    server: self.server(),
                    source,
                })?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!("database connection closed: {e}");
            }
        });
        Ok(client)
    }

    pub(crate) fn query_error(
        &self,
        operation: &'static str,
    ) -> impl FnOnce(tokio_postgres::Error) -> DbError + '_ {
        move |source| DbError::Query {
            operation,
            server: self.server(),
            source,
        }
    }
}

/// What `migrate` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migrated {
    /// Names of the migrations applied by this run, like `V1__catalog`.
    pub applied: Vec<String>,
}

/// Applies the embedded migrations that the database lacks. A second run is
/// a no-op.
pub async fn migrate(primary: &Target) -> Result<Migrated, DbError> {
    let mut client = primary.connect().await?;
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
    Ok(Migrated { applied })
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
