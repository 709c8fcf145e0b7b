//! A rebuild: the unit of work of `generator rebuild` and of the api's rebuild
//! worker. With a database: take the fleet-wide build lock, record the build in
//! `site_builds`, build from the replica (waiting for it to catch up), publish,
//! and record the result, moving `published_version` forward on success.
//! Without one: build from the content folder and publish.

use catalog::records::BuildRecord;
use publish::{self, Destination, PublishError, Summary};
use serde::Serialize;

use crate::{BuildConfig, BuildError, Built, Database};

/// What to rebuild, from where, to where.
#[derive(Debug, Clone)]
pub struct Job<'a> {
    pub build: &'a BuildConfig,
    /// Unset: build from the content folder and record nothing.
    pub database: Option<&'a Database>,
    pub destination: &'a Destination,
    /// Why the build runs, for `site_builds`: `cli`, `api`, `notify`, `tick`.
    pub trigger: &'a str,
}

/// What a rebuild did.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// The `site_builds` row, with a database.
    pub build_id: Option<i64>,
    /// The `wanted_version` the catalog was read at, with a database.
    pub catalog_version: Option<i64>,
    /// `replica`, `primary` or `content`.
    pub read_from: &'static str,
    pub products: usize,
    pub objects: usize,
    pub publish: Summary,
}

#[derive(Debug, thiserror::Error)]
pub enum RebuildError {
    #[cfg(feature = "postgres")]
    #[error(transparent)]
    Db(#[from] store::DbError),
    #[error(transparent)]
    Build(#[from] BuildError),
    #[error(transparent)]
    Publish(#[from] PublishError),
}

/// Builds the site from the job's source: PostgreSQL by the rebuild
/// protocol, else the content folder.
pub async fn build(
    config: &BuildConfig,
    database: Option<&Database>,
) -> Result<(Built, Option<i64>, &'static str), BuildError> {
    match database {
        #[cfg(feature = "postgres")]
        Some(source) => {
            use store::source::ReadFrom;
            let (built, from, version) = crate::build_from_postgres(config, source).await?;
            let read_from = match from {
                ReadFrom::Replica { .. } | ReadFrom::ReplicaUnchecked { .. } => "replica",
                ReadFrom::PrimaryOnly | ReadFrom::PrimaryFallback { .. } => "primary",
            };
            Ok((built, Some(version), read_from))
        }
        #[cfg(not(feature = "postgres"))]
        Some(never) => match *never {},
        None => Ok((crate::build_from_content(config)?, None, "content")),
    }
}

/// Runs one rebuild. See the module's documentation.
pub async fn rebuild(job: &Job<'_>) -> Result<Outcome, RebuildError> {
    #[cfg(feature = "postgres")]
    if let Some(primary) = recording(job) {
        let lock = store::lock_builds(primary).await?;
        return recorded(job, primary, lock).await;
    }
    run(job, &mut BuildRecord::default()).await
}

/// Runs one rebuild if the site is behind the catalog, as checked once the
/// build lock is held: with several api instances, every one hears of each
/// write, and the build that waited for the lock while another published the
/// same version is not run again. `None`: the site was already current.
/// Without a database there is no record to check, and it always runs.
pub async fn rebuild_if_behind(job: &Job<'_>) -> Result<Option<Outcome>, RebuildError> {
    #[cfg(feature = "postgres")]
    if let Some(primary) = recording(job) {
        let lock = store::lock_builds(primary).await?;
        let (wanted, published) = store::catalog_state(&lock, primary).await?;
        if published >= wanted {
            store::close_abandoned_builds(&lock, primary).await?;
            tracing::debug!(
                catalog_version = published,
                "the site is current: another build published it"
            );
            return Ok(None);
        }
        return recorded(job, primary, lock).await.map(Some);
    }
    run(job, &mut BuildRecord::default()).await.map(Some)
}

/// The primary a job's build is recorded on. A dry run has no side effect,
/// in the database either.
#[cfg(feature = "postgres")]
fn recording<'a>(job: &Job<'a>) -> Option<&'a store::Target> {
    job.database
        .and_then(|d| d.primary.as_ref())
        .filter(|_| !job.destination.is_dry_run())
}

/// Builds and publishes, filling in `record` (what `site_builds` keeps) as it
/// goes, so a failed build still says how far it got. The caller keeps the
/// record: [`rebuild`] in `site_builds`, the api's embedded default in memory.
pub async fn run(job: &Job<'_>, record: &mut BuildRecord) -> Result<Outcome, RebuildError> {
    let result = async {
        let (built, catalog_version, read_from) = build(job.build, job.database).await?;
        record.catalog_version = catalog_version;
        record.source = Some(read_from.to_owned());
        let published = publish::publish(&built.site, job.destination).await;
        let summary = match &published {
            Ok(summary) => Some(summary),
            Err(PublishError::Stopped { summary, .. }) => Some(&**summary),
            Err(_) => None,
        };
        if let Some(summary) = summary {
            record.pages_uploaded = Some(count(summary.uploads.len()));
            record.pages_deleted = Some(count(summary.deletes.len()));
            record.paths_invalidated = Some(if summary.invalidation_id.is_some() {
                count(summary.invalidation.paths().len())
            } else {
                0
            });
        }
        Ok::<_, RebuildError>(Outcome {
            build_id: None,
            catalog_version,
            read_from,
            products: built.catalog.products.len(),
            objects: built.site.len(),
            publish: published?,
        })
    }
    .await;
    if let Err(e) = &result {
        record.error = Some(e.to_string());
    }
    result
}

/// A rebuild under the fleet-wide lock (held by `lock`), recorded in
/// `site_builds`.
#[cfg(feature = "postgres")]
async fn recorded(
    job: &Job<'_>,
    primary: &store::Target,
    mut lock: store::BuildLock,
) -> Result<Outcome, RebuildError> {
    let build_id = store::build_started(&lock, primary, job.trigger).await?;
    let mut record = BuildRecord::default();
    let result = run(job, &mut record).await;
    let recorded = store::build_finished(&mut lock, primary, build_id, &record).await;
    match (result, recorded) {
        (Ok(mut done), Ok(())) => {
            done.build_id = Some(build_id);
            Ok(done)
        }
        (Ok(_), Err(e)) => Err(e.into()),
        (Err(e), recorded) => {
            if let Err(r) = recorded {
                tracing::warn!("could not record the failed build {build_id}: {r}");
            }
            Err(e)
        }
    }
}

fn count(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}
