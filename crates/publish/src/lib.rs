//! Publish targets: where a rendered [`render::site::Site`] goes. A local
//! folder ([`dir`]) by default, or S3 + CloudFront (`s3`, behind the feature of that name) by the plan of
//! [`plan`]. The bucket's publish protocol is written against a small object
//! store (the private `remote` module), which `s3` implements on the AWS SDK
//! clients; it is built without the `s3` feature too, for its tests.

use std::path::PathBuf;
use std::time::Instant;

use serde::Serialize;

use plan::Invalidation;
use render::site::Site;

pub mod dir;
pub mod plan;
// Without the s3 feature only the tests run the protocol.
#[cfg_attr(not(feature = "s3"), allow(dead_code))]
mod remote;
#[cfg(feature = "s3")]
pub mod s3;

/// What the live state was compared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Compared {
    /// The manifest of the last publish.
    Manifest,
    /// The bucket's listing and every object's metadata.
    Listing,
    /// Nothing: the bucket holds no site yet.
    Nothing,
}

/// What a publish did, or with `dry_run`, would do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// `s3://bucket/prefix`.
    pub target: String,
    pub distribution_id: Option<String>,
    pub dry_run: bool,
    pub compared_with: Compared,
    /// Keys uploaded, in the order they went up.
    pub uploads: Vec<String>,
    pub upload_bytes: u64,
    /// Objects already live with the same bytes, type and cache policy.
    pub unchanged: usize,
    /// Keys deleted.
    pub deletes: Vec<String>,
    /// Old fingerprinted assets the site no longer uses, kept until the next
    /// publish for pages cached before this one.
    pub retired: Vec<String>,
    pub invalidation: Invalidation,
    /// CloudFront's id for the invalidation made.
    pub invalidation_id: Option<String>,
    pub elapsed_ms: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("no AWS region is configured; set AWS_REGION (or --region) to the bucket's region")]
    NoRegion,
    #[error(transparent)]
    Plan(#[from] plan::PlanError),
    #[error(transparent)]
    Dir(#[from] dir::DirError),
    #[error(
        "could not read {what}: {cause}; check the bucket name, the credentials and the endpoint"
    )]
    Read { what: String, cause: String },
    #[error(
        "the live manifest {url} is not valid ({cause}); run the publish with --verify to compare against the bucket itself"
    )]
    BadManifest { url: String, cause: String },
    /// The publish stopped part way; the summary says what was done.
    #[error("{message}")]
    Stopped {
        message: String,
        summary: Box<Summary>,
    },
}

/// Milliseconds since `started`, for summaries.
pub(crate) fn elapsed_ms(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// Where a publish goes.
#[derive(Debug, Clone)]
pub enum Destination {
    /// A local folder, replaced whole in one swap.
    Dir { out: PathBuf, dry_run: bool },
    /// A bucket and the distribution in front of it.
    #[cfg(feature = "s3")]
    S3 {
        clients: s3::Clients,
        target: s3::Target,
        options: s3::Options,
    },
}

impl Destination {
    pub fn is_dry_run(&self) -> bool {
        match self {
            Self::Dir { dry_run, .. } => *dry_run,
            #[cfg(feature = "s3")]
            Self::S3 { options, .. } => options.dry_run,
        }
    }
}

/// Publishes `site` to `destination`.
pub async fn publish(site: &Site, destination: &Destination) -> Result<Summary, PublishError> {
    match destination {
        Destination::Dir { out, dry_run } => {
            let started = Instant::now();
            // A dry run does not look at the folder: it lists every file.
            let written = if *dry_run {
                dir::Written {
                    written: site.iter().map(|(k, _)| k.to_owned()).collect(),
                    ..dir::Written::default()
                }
            } else {
                dir::write_site(site, out)?
            };
            let upload_bytes = written
                .written
                .iter()
                .filter_map(|k| site.get(k))
                .map(|p| p.body.len() as u64)
                .sum();
            Ok(Summary {
                target: out.display().to_string(),
                distribution_id: None,
                dry_run: *dry_run,
                compared_with: Compared::Nothing,
                uploads: written.written,
                upload_bytes,
                unchanged: written.unchanged,
                deletes: written.removed,
                retired: Vec::new(),
                invalidation: Invalidation::None,
                invalidation_id: None,
                elapsed_ms: elapsed_ms(started),
            })
        }
        #[cfg(feature = "s3")]
        Destination::S3 {
            clients,
            target,
            options,
        } => s3::publish(clients, target, site, options).await,
    }
}
