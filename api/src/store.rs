//! Where the catalog, the accounts and the build history live: PostgreSQL
//! (reads from the replica, writes to the primary; all SQL in
//! `generator::db`), or the `content/` folder (the embedded default, see
//! [`crate::files`]). Every route goes through here, so it does not care which.

use std::time::Duration;

use generator::db::products::{self, Fields, Filter, Record};
use generator::db::{BuildRow, Connection, DbError, Target, admin};
use poem_openapi::payload::Json;

use crate::error::ApiError;
use crate::files::{Files, FilesError, StoreWriteError};
use crate::problem::Problem;

#[expect(clippy::large_enum_variant, reason = "one per process")]
pub enum Store {
    Postgres {
        primary: Target,
        /// Reads go here when it is set (and answers).
        replica: Option<Target>,
    },
    Files(Files),
}

/// `(user_id, email, password_hash)`.
pub type UserRow = (i64, String, String);

impl Store {
    /// A connection for reads: the replica, or the primary if there is none
    /// or it does not answer.
    async fn read(
        primary: &Target,
        replica: Option<&Target>,
    ) -> Result<(Connection, Target), DbError> {
        if let Some(replica) = replica {
            match replica.connect().await {
                Ok(client) => return Ok((client, replica.clone())),
                Err(e) => tracing::warn!("{e}; reading from the primary instead"),
            }
        }
        Ok((primary.connect().await?, primary.clone()))
    }

    pub async fn list(&self, filter: &Filter) -> Result<(Vec<Record>, i64), ApiError> {
        match self {
            Store::Postgres { primary, replica } => {
                let (client, target) = Self::read(primary, replica.as_ref()).await?;
                Ok(products::list(&client, &target, filter).await?)
            }
            Store::Files(files) => Ok(files.list(filter)?),
        }
    }

    pub async fn get(&self, id: i64) -> Result<Option<Record>, ApiError> {
        match self {
            Store::Postgres { primary, replica } => {
                let (client, target) = Self::read(primary, replica.as_ref()).await?;
                Ok(products::get(&client, &target, id).await?)
            }
            Store::Files(files) => Ok(files.get(id)?),
        }
    }

    pub async fn create(&self, fields: &Fields) -> Result<Record, ApiError> {
        match self {
            Store::Postgres { primary, .. } => {
                let client = primary.connect().await?;
                Ok(products::create(&client, primary, fields).await?)
            }
            Store::Files(files) => Ok(files.create(fields).await?),
        }
    }

    pub async fn update(
        &self,
        id: i64,
        expected: i64,
        fields: &Fields,
    ) -> Result<Record, ApiError> {
        match self {
            Store::Postgres { primary, .. } => {
                let client = primary.connect().await?;
                Ok(products::update(&client, primary, id, expected, fields).await?)
            }
            Store::Files(files) => Ok(files.update(id, expected, fields).await?),
        }
    }

    pub async fn delete(&self, id: i64, expected: Option<i64>) -> Result<(), ApiError> {
        match self {
            Store::Postgres { primary, .. } => {
                let client = primary.connect().await?;
                Ok(products::delete(&client, primary, id, expected).await?)
            }
            Store::Files(files) => Ok(files.delete(id, expected).await?),
        }
    }

    pub async fn recent_builds(&self, limit: i64) -> Result<Vec<BuildRow>, ApiError> {
        match self {
            Store::Postgres { primary, .. } => {
                let client = primary.connect().await?;
                Ok(generator::db::recent_builds(&client, primary, limit).await?)
            }
            Store::Files(files) => Ok(files.recent_builds(limit)),
        }
    }

    pub async fn build(&self, id: i64) -> Result<Option<BuildRow>, ApiError> {
        match self {
            Store::Postgres { primary, .. } => {
                let client = primary.connect().await?;
                Ok(generator::db::build(&client, primary, id).await?)
            }
            Store::Files(files) => Ok(files.build(id)),
        }
    }

    pub async fn user_by_email(&self, email: &str) -> Result<Option<UserRow>, ApiError> {
        match self {
            Store::Postgres { primary, .. } => {
                let client = primary.connect().await?;
                Ok(admin::user_by_email(&client, primary, email)
                    .await?
                    .map(|u| (u.user_id, u.email, u.password_hash)))
            }
            Store::Files(files) => Ok(files.user_by_email(email)?),
        }
    }

    pub async fn user_for_token(&self, sha256: &[u8]) -> Result<Option<(i64, String)>, ApiError> {
        match self {
            Store::Postgres { primary, .. } => {
                let client = primary.connect().await?;
                Ok(admin::user_for_token(&client, primary, sha256).await?)
            }
            Store::Files(files) => Ok(files.user_for_token(sha256)?),
        }
    }

    /// Failed logins under `key` within `window`.
    pub async fn recent_failures(&self, key: &str, window: Duration) -> Result<i64, ApiError> {
        match self {
            Store::Postgres { primary, .. } => {
                let client = primary.connect().await?;
                let minutes = i32::try_from(window.as_secs() / 60).unwrap_or(i32::MAX);
                Ok(admin::recent_failures(&client, primary, key, minutes).await?)
            }
            Store::Files(files) => Ok(files.recent_failures(key, window)),
        }
    }

    pub async fn record_failure(&self, keys: &[&str], window: Duration) -> Result<(), ApiError> {
        match self {
            Store::Postgres { primary, .. } => {
                let client = primary.connect().await?;
                Ok(admin::record_failure(&client, primary, keys).await?)
            }
            Store::Files(files) => {
                files.record_failure(keys, window);
                Ok(())
            }
        }
    }

    /// `(wanted_version, published_version)`.
    pub async fn catalog_state(&self) -> Result<(i64, i64), ApiError> {
        match self {
            Store::Postgres { primary, .. } => {
                let client = primary.connect().await?;
                Ok(generator::db::catalog_state(&client, primary).await?)
            }
            Store::Files(files) => Ok(files.catalog_state()),
        }
    }

    /// Whether the store answers: the primary, or the content folder.
    pub async fn ready(&self) -> bool {
        match self {
            Store::Postgres { primary, .. } => match primary.connect().await {
                Ok(client) => client.simple_query("SELECT 1").await.is_ok(),
                Err(_) => false,
            },
            Store::Files(files) => files.content_dir().join("site.toml").is_file(),
        }
    }
}

impl From<FilesError> for ApiError {
    fn from(e: FilesError) -> Self {
        tracing::error!("{e}");
        Self::Unavailable(Json(Problem::new(
            503,
            "Service Unavailable",
            e.to_string(),
        )))
    }
}

impl From<StoreWriteError> for ApiError {
    fn from(e: StoreWriteError) -> Self {
        match e {
            StoreWriteError::Rule(e) => e.into(),
            StoreWriteError::Files(e) => e.into(),
        }
    }
}
