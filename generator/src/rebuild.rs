//! A rebuild: the unit of work of `generator rebuild` and of the api's rebuild
//! worker. With a database: take the fleet-wide build lock, record the build in
//! `site_builds`, build from the replica (waiting for it to catch up), publish,
//! and record the result, moving `published_version` forward on success.
//! Without one: build from the content folder and publish.

use serde::Serialize;

use crate::db::{self, BuildRecord, DbError};
use crate::pipeline::{self, BuildConfig, BuildError, Built};
use crate::publish::{self, Destination, PublishError, Summary};
use crate::source::postgres::{PgSource, ReadFrom};

/// What to rebuild, from where, to where.
#[derive(Debug, Clone)]
pub struct Job<'a> {
    pub build: &'a BuildConfig,
    /// Unset: build from the content folder and record nothing.
    pub database: Option<&'a PgSource>,
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
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Build(#[from] BuildError),
    #[error(transparent)]
    Publish(#[from] PublishError),
}

/// Builds the site from the job's source: PostgreSQL by the rebuild
/// protocol, else the content folder.
pub async fn build(
    config: &BuildConfig,
    database: Option<&PgSource>,
) -> Result<(Built, Option<i64>, &'static str), BuildError> {
    match database {
        Some(source) => {
            let (built, from, version) = pipeline::build_from_postgres(config, source).await?;
            let read_from = match from {
                ReadFrom::Replica { .. } | ReadFrom::ReplicaUnchecked { .. } => "replica",
                ReadFrom::PrimaryOnly | ReadFrom::PrimaryFallback { .. } => "primary",
            };
            Ok((built, Some(version), read_from))
        }
        None => Ok((pipeline::build_from_content(config)?, None, "content")),
    }
}

/// Runs one rebuild. See the module's documentation.
pub async fn rebuild(job: &Job<'_>) -> Result<Outcome, RebuildError> {
    // A dry run has no side effect, in the database either.
    let primary = job.database.and_then(|d| d.primary.as_ref());
    let Some(primary) = primary.filter(|_| !job.destination.is_dry_run()) else {
        return build_and_publish(job).await;
    };
    let mut lock = db::lock_builds(primary).await?;
    let build_id = db::build_started(&lock, primary, job.trigger).await?;
    let result = build_and_publish(job).await;
    let record = match &result {
        Ok(done) => BuildRecord {
            catalog_version: done.catalog_version,
            source: Some(done.read_from.to_owned()),
            pages_uploaded: Some(count(done.publish.uploads.len())),
            pages_deleted: Some(count(done.publish.deletes.len())),
            paths_invalidated: Some(count(done.publish.invalidation.paths().len())),
            error: None,
        },
        Err(e) => BuildRecord {
            error: Some(e.to_string()),
            ..BuildRecord::default()
        },
    };
    let recorded = db::build_finished(&mut lock, primary, build_id, &record).await;
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

async fn build_and_publish(job: &Job<'_>) -> Result<Outcome, RebuildError> {
    let (built, catalog_version, read_from) = build(job.build, job.database).await?;
    let summary = publish::publish(&built.site, job.destination).await?;
    Ok(Outcome {
        build_id: None,
        catalog_version,
        read_from,
        products: built.catalog.products.len(),
        objects: built.site.len(),
        publish: summary,
    })
}

fn count(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}
