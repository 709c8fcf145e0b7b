//! Where the catalog, the accounts and the build history live: PostgreSQL
//! (reads from the replica, writes to the primary; all SQL in
//! `store`), or the `content/` folder (the embedded default, see
//! [`crate::files`]). Every route goes through here, so it does not care which.
//!
//! The store answers in its own terms ([`StoreError`]); the routes decide
//! what that means over HTTP (`impl From<StoreError> for ApiError` in
//! [`crate::error`]).

use std::time::Duration;

use catalog::records::{AuditRow, BuildRow, Fields, Filter, ImportPlan, Record, WriteRefused};
use store::admin::{NewSession, SessionRow};
use store::products;
use store::{Connection, DbError, Target, admin};

use crate::files::{self, Files, FilesError};

/// Why the store did not do what it was asked. A failure of the database or
/// of the folder is logged once, where it becomes a `StoreError`, so callers
/// that carry on without the answer (the worker, the token check) need not.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The catalog's rules refused a write: no such product, a stale
    /// version, or a slug another product has.
    #[error(transparent)]
    Refused(#[from] WriteRefused),
    /// PostgreSQL did not answer, or failed.
    #[error(transparent)]
    Db(DbError),
    /// The content folder or the state folder (embedded default).
    #[error(transparent)]
    Files(FilesError),
}

impl From<DbError> for StoreError {
    fn from(e: DbError) -> Self {
        tracing::error!("{e}");
        Self::Db(e)
    }
}

impl From<FilesError> for StoreError {
    fn from(e: FilesError) -> Self {
        tracing::error!("{e}");
        Self::Files(e)
    }
}

impl From<products::WriteError> for StoreError {
    fn from(e: products::WriteError) -> Self {
        match e {
            products::WriteError::Refused(e) => e.into(),
            products::WriteError::Db(e) => e.into(),
        }
    }
}

impl From<files::WriteError> for StoreError {
    fn from(e: files::WriteError) -> Self {
        match e {
            files::WriteError::Refused(e) => e.into(),
            files::WriteError::Files(e) => e.into(),
        }
    }
}

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
    /// A connection for reads: the replica, or the primary if there is none,
    /// it does not answer, or the read must see the latest write (`fresh`).
    async fn read<'a>(
        primary: &'a Target,
        replica: &'a Option<Target>,
        fresh: bool,
    ) -> Result<(Connection, &'a Target), DbError> {
        if let Some(replica) = replica.as_ref().filter(|_| !fresh) {
            match replica.connect().await {
                Ok(client) => return Ok((client, replica)),
                Err(e) => tracing::warn!("{e}; reading from the primary instead"),
            }
        }
        Ok((primary.connect().await?, primary))
    }

    /// Products that match, from the replica; `fresh` reads the primary
    /// (the admin pages, which must show the owner's own writes).
    pub async fn list(
        &self,
        filter: &Filter,
        fresh: bool,
    ) -> Result<(Vec<Record>, i64), StoreError> {
        match self {
            Store::Postgres { primary, replica } => {
                let (client, target) = Self::read(primary, replica, fresh).await?;
                Ok(products::list(&client, target, filter).await?)
            }
            Store::Files(files) => Ok(files.list(filter)?),
        }
    }

    pub async fn get(&self, id: i64, fresh: bool) -> Result<Option<Record>, StoreError> {
        match self {
            Store::Postgres { primary, replica } => {
                let (client, target) = Self::read(primary, replica, fresh).await?;
                Ok(products::get(&client, target, id).await?)
            }
            Store::Files(files) => Ok(files.get(id)?),
        }
    }

    /// `actor` (an admin's e-mail) goes to the audit log.
    pub async fn create(&self, actor: &str, fields: &Fields) -> Result<Record, StoreError> {
        match self {
            Store::Postgres { primary, .. } => {
                let client = primary.connect().await?;
                Ok(products::create(&client, primary, actor, fields).await?)
            }
            Store::Files(files) => Ok(files.create(actor, fields).await?),
        }
    }

    pub async fn update(
        &self,
        actor: &str,
        id: i64,
        expected: i64,
        fields: &Fields,
    ) -> Result<Record, StoreError> {
        match self {
            Store::Postgres { primary, .. } => {
                let client = primary.connect().await?;
                Ok(products::update(&client, primary, actor, id, expected, fields).await?)
            }
            Store::Files(files) => Ok(files.update(actor, id, expected, fields).await?),
        }
    }

    pub async fn delete(
        &self,
        actor: &str,
        id: i64,
        expected: Option<i64>,
    ) -> Result<(), StoreError> {
        match self {
            Store::Postgres { primary, .. } => {
                let client = primary.connect().await?;
                Ok(products::delete(&client, primary, actor, id, expected).await?)
            }
            Store::Files(files) => Ok(files.delete(actor, id, expected).await?),
        }
    }

    /// Applies a checked CSV import, all or nothing.
    pub async fn apply_import(&self, actor: &str, plan: &ImportPlan) -> Result<(), StoreError> {
        match self {
            Store::Postgres { primary, .. } => {
                let mut client = primary.connect().await?;
                Ok(products::apply_import(&mut client, primary, actor, plan).await?)
            }
            Store::Files(files) => Ok(files.apply_import(actor, plan).await?),
        }
    }

    /// A product's audit log, newest first.
    pub async fn history(&self, id: i64, limit: i64) -> Result<Vec<AuditRow>, StoreError> {
        match self {
            Store::Postgres { primary, .. } => {
                let client = primary.connect().await?;
                Ok(products::history(&client, primary, id, limit).await?)
            }
            Store::Files(files) => Ok(files.history(id, limit)?),
        }
    }

    /// Keeps an uploaded image as `<sha256>.<extension>`.
    pub async fn put_image(
        &self,
        sha256: &str,
        extension: &str,
        bytes: &[u8],
    ) -> Result<(), StoreError> {
        match self {
            Store::Postgres { primary, .. } => {
                let client = primary.connect().await?;
                Ok(products::put_image(&client, primary, sha256, extension, bytes).await?)
            }
            Store::Files(files) => Ok(files.put_image(sha256, extension, bytes)?),
        }
    }

    /// An image by file name: an upload, or one of the content folder's.
    pub async fn image(
        &self,
        file: &str,
        content_dir: &std::path::Path,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        if let Store::Postgres { primary, .. } = self {
            let client = primary.connect().await?;
            if let Some(bytes) = products::image(&client, primary, file).await? {
                return Ok(Some(bytes));
            }
        }
        Ok(std::fs::read(content_dir.join("images").join(file)).ok())
    }

    pub async fn recent_builds(&self, limit: i64) -> Result<Vec<BuildRow>, StoreError> {
        match self {
            Store::Postgres { primary, .. } => {
                let client = primary.connect().await?;
                Ok(store::recent_builds(&client, primary, limit).await?)
            }
            Store::Files(files) => Ok(files.recent_builds(limit)),
        }
    }

    pub async fn build(&self, id: i64) -> Result<Option<BuildRow>, StoreError> {
        match self {
            Store::Postgres { primary, .. } => {
                let client = primary.connect().await?;
                Ok(store::build(&client, primary, id).await?)
            }
            Store::Files(files) => Ok(files.build(id)),
        }
    }

    pub async fn user_by_email(&self, email: &str) -> Result<Option<UserRow>, StoreError> {
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

    pub async fn user_for_token(&self, sha256: &[u8]) -> Result<Option<(i64, String)>, StoreError> {
        match self {
            Store::Postgres { primary, .. } => {
                let client = primary.connect().await?;
                Ok(admin::user_for_token(&client, primary, sha256).await?)
            }
            Store::Files(files) => Ok(files.user_for_token(sha256)?),
        }
    }

    /// Keeps a new browser session, if the user's password is still the
    /// one the login checked (false: it changed meanwhile, or the user went).
    pub async fn create_session(&self, session: &NewSession<'_>) -> Result<bool, StoreError> {
        match self {
            Store::Postgres { primary, .. } => {
                let client = primary.connect().await?;
                Ok(admin::create_session(&client, primary, session).await?)
            }
            Store::Files(files) => Ok(files.create_session(session)?),
        }
    }

    /// The user of a live session, by its digest; always from the primary,
    /// so that a session ended anywhere is refused everywhere at once.
    pub async fn session_user(&self, sha256: &[u8]) -> Result<Option<(i64, String)>, StoreError> {
        match self {
            Store::Postgres { primary, .. } => {
                let client = primary.connect().await?;
                Ok(admin::session_user(&client, primary, sha256).await?)
            }
            Store::Files(files) => Ok(files.session_user(sha256)?),
        }
    }

    /// A user's live sessions, the most recently seen first.
    pub async fn sessions_of(&self, user_id: i64) -> Result<Vec<SessionRow>, StoreError> {
        match self {
            Store::Postgres { primary, .. } => {
                let client = primary.connect().await?;
                Ok(admin::sessions_of(&client, primary, user_id).await?)
            }
            Store::Files(files) => Ok(files.sessions_of(user_id)?),
        }
    }

    /// Ends the user's session `only`, or every one but `except`.
    pub async fn end_sessions(
        &self,
        user_id: i64,
        only: Option<&[u8]>,
        except: Option<&[u8]>,
    ) -> Result<u64, StoreError> {
        match self {
            Store::Postgres { primary, .. } => {
                let client = primary.connect().await?;
                Ok(admin::end_sessions(&client, primary, user_id, only, except).await?)
            }
            Store::Files(files) => Ok(files.end_sessions(user_id, only, except)?),
        }
    }

    /// Counts a login attempt under each of `hits` (a key and its window),
    /// atomically, and reads `peek`'s counts; every key's count within its
    /// window (0 if none).
    pub async fn count_attempts(
        &self,
        hits: &[(&str, Duration)],
        peek: &[&str],
    ) -> Result<std::collections::HashMap<String, i64>, StoreError> {
        let mut counts: std::collections::HashMap<String, i64> = hits
            .iter()
            .map(|(k, _)| *k)
            .chain(peek.iter().copied())
            .map(|k| (k.to_owned(), 0))
            .collect();
        let found = match self {
            Store::Postgres { primary, .. } => {
                let client = primary.connect().await?;
                let minutes: Vec<(&str, i32)> = hits
                    .iter()
                    .map(|(k, w)| {
                        (
                            *k,
                            i32::try_from(w.as_secs().div_ceil(60))
                                .unwrap_or(i32::MAX)
                                .max(1),
                        )
                    })
                    .collect();
                admin::count_attempts(&client, primary, &minutes, peek).await?
            }
            Store::Files(files) => files.count_attempts(hits, peek),
        };
        counts.extend(found);
        Ok(counts)
    }

    /// Forgets some attempt counts whose windows have passed.
    pub async fn prune_attempts(&self) -> Result<(), StoreError> {
        match self {
            Store::Postgres { primary, .. } => {
                let client = primary.connect().await?;
                admin::prune_attempts(&client, primary).await?;
            }
            Store::Files(files) => files.prune_attempts(),
        }
        Ok(())
    }

    /// Forgets the attempts counted under `keys`.
    pub async fn forget_attempts(&self, keys: &[&str]) -> Result<(), StoreError> {
        match self {
            Store::Postgres { primary, .. } => {
                let client = primary.connect().await?;
                Ok(admin::forget_attempts(&client, primary, keys).await?)
            }
            Store::Files(files) => {
                files.forget_attempts(keys);
                Ok(())
            }
        }
    }

    /// `(wanted_version, published_version)`.
    pub async fn catalog_state(&self) -> Result<(i64, i64), StoreError> {
        match self {
            Store::Postgres { primary, .. } => {
                let client = primary.connect().await?;
                Ok(store::catalog_state(&client, primary).await?)
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
