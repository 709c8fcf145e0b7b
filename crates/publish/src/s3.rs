//! The S3 + CloudFront target: publishes a rendered [`Site`] by the plan of
//! [`super::plan`], so the live site is consistent at every moment.
//!
//! 1. Read the live manifest (or, with `--verify` or when there is none, list
//!    the bucket and HEAD every object for its SHA-256 metadata).
//! 2. Upload what changed, stage by stage: assets, product pages, listings
//!    and feeds. A stage starts only when the one before is all up.
//! 3. Delete what went away, behind the guards.
//! 4. Invalidate the changed paths on CloudFront.
//! 5. Write the manifest, last.
//!
//! A publish that stops part way writes a manifest of what the bucket then
//! holds, with the paths it still owes an invalidation, so running it again
//! picks up exactly where it stopped.

use std::time::{Duration, Instant};

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region};
use aws_sdk_s3::primitives::ByteStream;
use indicatif::ProgressBar;
use tokio::task::JoinSet;

use super::plan::{self, Entry, Guards, Invalidation, Manifest, Stage};
use super::{Compared, PublishError, Summary, elapsed_ms};
use render::site::Site;

/// Attempts per request, the first included. Retries back off exponentially
/// with jitter, from [`INITIAL_BACKOFF`] up to [`MAX_BACKOFF`]; the SDK retries
/// throttling (503 SlowDown), 5xx answers, timeouts and broken connections.
pub const MAX_ATTEMPTS: u32 = 5;
const INITIAL_BACKOFF: Duration = Duration::from_millis(200);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// One attempt of one request, body included.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(30);
/// S3 deletes at most this many keys per request.
const DELETE_BATCH: usize = 1000;
/// Where the manifest lives, under the prefix. Listing ignores this folder.
const MANIFEST_DIR: &str = ".shopfront/";
const MANIFEST_KEY: &str = ".shopfront/manifest.json";

/// How to reach AWS. Credentials come from the usual chain (environment,
/// profile, instance role).
#[derive(Debug, Clone, Default)]
pub struct AwsSettings {
    /// Else `AWS_REGION` or the profile's.
    pub region: Option<String>,
    /// The local stack (moto), or any S3-compatible server. S3 is then
    /// addressed path-style.
    pub endpoint_url: Option<String>,
}

/// The S3 and CloudFront clients.
#[derive(Debug, Clone)]
pub struct Clients {
    pub s3: aws_sdk_s3::Client,
    pub cloudfront: aws_sdk_cloudfront::Client,
}

/// Builds both clients, with this module's retry and timeout settings. The
/// one place a client is made.
pub async fn clients(settings: &AwsSettings) -> Result<Clients, PublishError> {
    let retry = RetryConfig::standard()
        .with_max_attempts(MAX_ATTEMPTS)
        .with_initial_backoff(INITIAL_BACKOFF)
        .with_max_backoff(MAX_BACKOFF);
    let timeout = TimeoutConfig::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .operation_attempt_timeout(ATTEMPT_TIMEOUT)
        .build();
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .retry_config(retry)
        .timeout_config(timeout);
    if let Some(region) = &settings.region {
        loader = loader.region(Region::new(region.clone()));
    }
    if let Some(url) = &settings.endpoint_url {
        loader = loader.endpoint_url(url);
    }
    let shared = loader.load().await;
    if shared.region().is_none() {
        return Err(PublishError::NoRegion);
    }
    let s3 = aws_sdk_s3::config::Builder::from(&shared)
        .force_path_style(settings.endpoint_url.is_some())
        .build();
    Ok(Clients {
        s3: aws_sdk_s3::Client::from_conf(s3),
        cloudfront: aws_sdk_cloudfront::Client::new(&shared),
    })
}

/// The bucket, the key prefix and the distribution in front of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub bucket: String,
    /// `""`, or a folder such as `shop/`. CloudFront's origin path maps it to
    /// `/`, so invalidation paths never carry it.
    prefix: String,
    /// Unset: nothing is invalidated.
    pub distribution_id: Option<String>,
}

impl Target {
    pub fn new(bucket: &str, prefix: &str, distribution_id: Option<&str>) -> Self {
        let prefix = prefix.trim_matches('/');
        Self {
            bucket: bucket.to_owned(),
            prefix: if prefix.is_empty() {
                String::new()
            } else {
                format!("{prefix}/")
            },
            distribution_id: distribution_id
                .filter(|id| !id.is_empty())
                .map(str::to_owned),
        }
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The S3 key of a site key.
    pub fn key(&self, site_key: &str) -> String {
        format!("{}{site_key}", self.prefix)
    }

    fn manifest_key(&self) -> String {
        self.key(MANIFEST_KEY)
    }

    fn url(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.bucket)
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.prefix)
    }
}

/// How to publish.
#[derive(Debug, Clone)]
pub struct Options {
    /// Plan only: read the bucket, change nothing anywhere.
    pub dry_run: bool,
    /// Ignore the manifest: list the bucket and HEAD every object.
    pub verify: bool,
    pub guards: Guards,
    /// Requests in flight at once.
    pub concurrency: usize,
    /// Show a progress bar while objects upload.
    pub progress: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            dry_run: false,
            verify: false,
            guards: Guards::default(),
            concurrency: 16,
            progress: false,
        }
    }
}

/// The new site as S3 will hold it.
struct Changes<'a> {
    site: &'a Site,
    manifest: Manifest,
}

/// Publishes `site` to `target`. See the module's documentation for the steps.
pub async fn publish(
    clients: &Clients,
    target: &Target,
    site: &Site,
    options: &Options,
) -> Result<Summary, PublishError> {
    let started = Instant::now();
    let new = Changes {
        site,
        manifest: Manifest::of(site),
    };
    let (live, compared_with) = live_manifest(clients, target, options.verify).await?;
    let plan = plan::plan(&new.manifest, live.as_ref(), &options.guards)?;
    let invalidation = if target.distribution_id.is_some() {
        plan.invalidation.clone()
    } else {
        Invalidation::None
    };
    let mut summary = Summary {
        target: target.to_string(),
        distribution_id: target.distribution_id.clone(),
        dry_run: options.dry_run,
        compared_with,
        uploads: Vec::new(),
        upload_bytes: 0,
        unchanged: plan.unchanged,
        deletes: Vec::new(),
        retired: plan.retired.clone(),
        invalidation,
        invalidation_id: None,
        elapsed_ms: 0,
    };
    if options.dry_run {
        summary.uploads = plan.uploads.iter().map(|(_, k)| k.clone()).collect();
        summary.upload_bytes = upload_bytes(site, &summary.uploads);
        summary.deletes = plan.deletes;
        summary.elapsed_ms = elapsed_ms(started);
        return Ok(summary);
    }
    // What the bucket will hold, and the CDN paths still owed (kept for a
    // later publish when there is no distribution to invalidate now).
    let mut done = Manifest::after(&new.manifest, live.as_ref(), &plan);
    if target.distribution_id.is_none() {
        done.pending_invalidation = plan.invalidation.paths();
    }
    if compared_with == Compared::Manifest && live.as_ref() == Some(&done) {
        summary.elapsed_ms = elapsed_ms(started);
        return Ok(summary);
    }

    // What the bucket holds, kept true as the publish goes. Before the first
    // upload, the manifest marks every key about to change as unknown (an
    // empty hash) and lists the paths owed, so even a publish killed part way
    // leaves a manifest the next one can trust.
    let mut holds = live.clone().unwrap_or_default();
    holds.pending_invalidation = plan.invalidation.paths();
    for (_, key) in &plan.uploads {
        let entry = Entry {
            sha256: String::new(),
            ..new.manifest.objects[key].clone()
        };
        holds.objects.insert(key.clone(), entry);
    }
    let stopped = |summary: &mut Summary, message: String| {
        summary.elapsed_ms = elapsed_ms(started);
        PublishError::Stopped {
            message,
            summary: Box::new(summary.clone()),
        }
    };
    if !plan.uploads.is_empty()
        && let Err(cause) = put_manifest(clients, target, &holds).await
    {
        let message = format!(
            "writing the manifest {} failed: {cause}. Nothing was changed; run the publish again once S3 answers.",
            target.url(&target.manifest_key())
        );
        return Err(stopped(&mut summary, message));
    }

    // Uploads, stage by stage.
    let bar = upload_bar(options.progress, plan.uploads.len());
    for stage in Stage::ALL {
        let keys: Vec<&str> = plan
            .uploads
            .iter()
            .filter(|(s, _)| *s == stage)
            .map(|(_, k)| k.as_str())
            .collect();
        let (uploaded, failed) =
            upload_all(clients, target, &new, &keys, options.concurrency, &bar).await;
        for key in uploaded {
            holds
                .objects
                .insert(key.clone(), new.manifest.objects[&key].clone());
            summary.upload_bytes += site.get(&key).map_or(0, |p| p.body.len() as u64);
            summary.uploads.push(key);
        }
        if let Some((key, cause)) = failed {
            bar.abandon();
            let kept = keep_manifest(clients, target, &holds).await;
            let message = format!(
                "uploading {} failed: {cause}. The publish stopped before any delete: {} of the {} changed objects went up, in order (up to the {stage:?} stage), so the live site links only to objects that exist. {kept}Run the publish again once S3 answers; it uploads the rest.",
                target.url(&target.key(&key)),
                summary.uploads.len(),
                plan.uploads.len(),
            );
            return Err(stopped(&mut summary, message));
        }
        tracing::debug!(?stage, objects = keys.len(), "stage uploaded");
    }
    bar.finish_and_clear();

    // Deletes, after every upload.
    for batch in plan.deletes.chunks(DELETE_BATCH) {
        if let Err(cause) = delete_batch(clients, target, batch).await {
            let kept = keep_manifest(clients, target, &holds).await;
            let message = format!(
                "deleting stale objects from {target} failed: {cause}. Every changed object is up; {} of the {} stale objects were deleted. {kept}Run the publish again to finish.",
                summary.deletes.len(),
                plan.deletes.len(),
            );
            return Err(stopped(&mut summary, message));
        }
        for key in batch {
            holds.objects.remove(key);
            summary.deletes.push(key.clone());
        }
    }

    // The invalidation, once the bucket holds the new site.
    if let (Some(id), false) = (
        &target.distribution_id,
        summary.invalidation == Invalidation::None,
    ) {
        match invalidate(clients, id, &holds.pending_invalidation).await {
            Ok(invalidation_id) => summary.invalidation_id = Some(invalidation_id),
            Err(cause) => {
                let kept = keep_manifest(clients, target, &holds).await;
                let message = format!(
                    "invalidating {} paths on CloudFront distribution {id} failed: {cause}. The bucket holds the new site; until the invalidation is made, CloudFront may serve old copies for up to their max-age. {kept}Run the publish again to invalidate them.",
                    holds.pending_invalidation.len()
                );
                return Err(stopped(&mut summary, message));
            }
        }
    }

    // The manifest, last.
    if let Err(cause) = put_manifest(clients, target, &done).await {
        let message = format!(
            "writing the manifest {} failed: {cause}. The site itself is published; run the publish again to record it (it uploads again what this one did).",
            target.url(&target.manifest_key())
        );
        return Err(stopped(&mut summary, message));
    }
    summary.elapsed_ms = elapsed_ms(started);
    Ok(summary)
}

fn upload_bytes(site: &Site, keys: &[String]) -> u64 {
    keys.iter()
        .filter_map(|k| site.get(k))
        .map(|p| p.body.len() as u64)
        .sum()
}

fn upload_bar(show: bool, len: usize) -> ProgressBar {
    if !show || len == 0 {
        return ProgressBar::hidden();
    }
    ProgressBar::new(len as u64)
        .with_message("uploading")
        .with_style(
            indicatif::ProgressStyle::with_template("{msg} {bar:40} {pos}/{len} objects")
                .expect("valid template"),
        )
}

/// The live manifest, or what the bucket's listing says.
async fn live_manifest(
    clients: &Clients,
    target: &Target,
    verify: bool,
) -> Result<(Option<Manifest>, Compared), PublishError> {
    let key = target.manifest_key();
    let stored = match get_manifest(clients, target, &key).await {
        Ok(stored) => stored,
        Err(PublishError::BadManifest { url, cause }) if verify => {
            tracing::warn!(
                "the live manifest {url} is not valid ({cause}); comparing against the bucket's listing"
            );
            None
        }
        Err(e) => return Err(e),
    };
    if let (Some(stored), false) = (&stored, verify) {
        return Ok((Some(stored.clone()), Compared::Manifest));
    }
    let mut listed = list_live(clients, target).await?;
    if let Some(stored) = stored {
        let differ = listed
            .objects
            .iter()
            .filter(|(k, e)| stored.objects.get(*k) != Some(*e))
            .count()
            + stored
                .objects
                .keys()
                .filter(|k| !listed.objects.contains_key(*k))
                .count();
        if differ > 0 {
            tracing::warn!(
                objects = differ,
                "the manifest and the bucket disagree; the bucket wins"
            );
        }
        listed.pending_invalidation = stored.pending_invalidation;
        listed.retired = stored
            .retired
            .into_iter()
            .filter(|k| listed.objects.contains_key(k))
            .collect();
    } else if listed.objects.is_empty() {
        return Ok((None, Compared::Nothing));
    }
    Ok((Some(listed), Compared::Listing))
}

async fn get_manifest(
    clients: &Clients,
    target: &Target,
    key: &str,
) -> Result<Option<Manifest>, PublishError> {
    let url = target.url(key);
    let got = clients
        .s3
        .get_object()
        .bucket(&target.bucket)
        .key(key)
        .send()
        .await;
    let object = match got {
        Ok(object) => object,
        Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => return Ok(None),
        Err(e) => {
            return Err(PublishError::Read {
                what: url,
                cause: describe(e),
            });
        }
    };
    let bytes = object
        .body
        .collect()
        .await
        .map_err(|e| PublishError::Read {
            what: url.clone(),
            cause: e.to_string(),
        })?
        .into_bytes();
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| PublishError::BadManifest {
            url,
            cause: e.to_string(),
        })
}

/// Lists every object under the prefix (but the manifest's folder) and HEADs
/// each for its hash, type and cache policy.
async fn list_live(clients: &Clients, target: &Target) -> Result<Manifest, PublishError> {
    let mut keys = Vec::new();
    let mut token = None;
    loop {
        let page = clients
            .s3
            .list_objects_v2()
            .bucket(&target.bucket)
            .prefix(target.prefix())
            .set_continuation_token(token)
            .send()
            .await
            .map_err(|e| PublishError::Read {
                what: format!("the listing of {target}"),
                cause: describe(e),
            })?;
        for object in page.contents() {
            let Some(key) = object.key().and_then(|k| k.strip_prefix(target.prefix())) else {
                continue;
            };
            if !key.starts_with(MANIFEST_DIR) {
                keys.push(key.to_owned());
            }
        }
        token = page.next_continuation_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    let mut objects = std::collections::BTreeMap::new();
    let mut heads = JoinSet::new();
    let mut pending = keys.into_iter();
    loop {
        while heads.len() < 16 {
            let Some(key) = pending.next() else { break };
            let s3 = clients.s3.clone();
            let (bucket, full) = (target.bucket.clone(), target.key(&key));
            heads.spawn(async move {
                let head = s3.head_object().bucket(bucket).key(&full).send().await;
                (key, full, head)
            });
        }
        let Some(joined) = heads.join_next().await else {
            break;
        };
        let (key, full, head) = joined.expect("a HEAD task does not panic");
        let head = head.map_err(|e| PublishError::Read {
            what: target.url(&full),
            cause: describe(e),
        })?;
        let entry = Entry {
            sha256: head
                .metadata()
                .and_then(|m| m.get("sha256"))
                .cloned()
                .unwrap_or_default(),
            content_type: head.content_type().unwrap_or_default().to_owned(),
            cache_control: head.cache_control().unwrap_or_default().to_owned(),
        };
        objects.insert(key, entry);
    }
    Ok(Manifest {
        objects,
        ..Manifest::default()
    })
}

/// Uploads `keys` with at most `limit` in flight. After the first failure no
/// new upload starts; those in flight finish. Returns the keys that went up
/// and the failure, if any.
async fn upload_all(
    clients: &Clients,
    target: &Target,
    new: &Changes<'_>,
    keys: &[&str],
    limit: usize,
    bar: &ProgressBar,
) -> (Vec<String>, Option<(String, String)>) {
    let mut done = Vec::with_capacity(keys.len());
    let mut failed = None;
    let mut running = JoinSet::new();
    let mut pending = keys.iter();
    loop {
        while failed.is_none() && running.len() < limit.max(1) {
            let Some(&key) = pending.next() else { break };
            let page = new.site.get(key).expect("planned keys are in the site");
            let entry = &new.manifest.objects[key];
            let request = clients
                .s3
                .put_object()
                .bucket(&target.bucket)
                .key(target.key(key))
                .body(ByteStream::from(page.body.bytes().into_owned()))
                .content_type(&entry.content_type)
                .cache_control(&entry.cache_control)
                .metadata("sha256", &entry.sha256);
            let key = key.to_owned();
            running.spawn(async move { (key, request.send().await.map_err(describe)) });
        }
        let Some(joined) = running.join_next().await else {
            break;
        };
        match joined {
            Ok((key, Ok(_))) => {
                bar.inc(1);
                done.push(key);
            }
            Ok((key, Err(cause))) => {
                failed.get_or_insert((key, cause));
            }
            Err(e) => {
                failed.get_or_insert((String::new(), format!("an upload task ended: {e}")));
            }
        }
    }
    (done, failed)
}

async fn delete_batch(clients: &Clients, target: &Target, keys: &[String]) -> Result<(), String> {
    use aws_sdk_s3::types::{Delete, ObjectIdentifier};
    let objects = keys
        .iter()
        .map(|k| ObjectIdentifier::builder().key(target.key(k)).build())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    let delete = Delete::builder()
        .set_objects(Some(objects))
        .quiet(true)
        .build()
        .map_err(|e| e.to_string())?;
    let out = clients
        .s3
        .delete_objects()
        .bucket(&target.bucket)
        .delete(delete)
        .send()
        .await
        .map_err(describe)?;
    match out.errors().first() {
        None => Ok(()),
        Some(e) => Err(format!(
            "S3 refused to delete {} of them, {} first: {} ({})",
            out.errors().len(),
            e.key().unwrap_or("?"),
            e.message().unwrap_or("no message"),
            e.code().unwrap_or("no code")
        )),
    }
}

async fn invalidate(
    clients: &Clients,
    distribution_id: &str,
    paths: &[String],
) -> Result<String, String> {
    use aws_sdk_cloudfront::types::{InvalidationBatch, Paths};
    let reference = format!(
        "shopfront-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos()
    );
    let batch = InvalidationBatch::builder()
        .paths(
            Paths::builder()
                .quantity(i32::try_from(paths.len()).unwrap_or(i32::MAX))
                .set_items(Some(paths.to_vec()))
                .build()
                .map_err(|e| e.to_string())?,
        )
        .caller_reference(reference)
        .build()
        .map_err(|e| e.to_string())?;
    let out = clients
        .cloudfront
        .create_invalidation()
        .distribution_id(distribution_id)
        .invalidation_batch(batch)
        .send()
        .await
        .map_err(describe)?;
    Ok(out
        .invalidation()
        .map(|i| i.id().to_owned())
        .unwrap_or_default())
}

async fn put_manifest(
    clients: &Clients,
    target: &Target,
    manifest: &Manifest,
) -> Result<(), String> {
    let body = serde_json::to_vec(manifest).map_err(|e| e.to_string())?;
    clients
        .s3
        .put_object()
        .bucket(&target.bucket)
        .key(target.manifest_key())
        .body(ByteStream::from(body))
        .content_type("application/json")
        .cache_control("no-store")
        .send()
        .await
        .map_err(describe)?;
    Ok(())
}

/// Writes the manifest of a stopped publish; says how that went, for the
/// error message.
async fn keep_manifest(clients: &Clients, target: &Target, holds: &Manifest) -> String {
    match put_manifest(clients, target, holds).await {
        Ok(()) => "The manifest records what did change. ".to_owned(),
        Err(cause) => {
            tracing::warn!("could not record the partial publish in the manifest: {cause}");
            "The manifest could not be updated either, so run the next publish with --verify. "
                .to_owned()
        }
    }
}

/// An SDK error with its causes, on one line.
fn describe<E: std::error::Error>(e: E) -> String {
    aws_sdk_s3::error::DisplayErrorContext(e).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_are_folders() {
        assert_eq!(Target::new("b", "", None).key("index.html"), "index.html");
        let t = Target::new("b", "/shop//", Some(""));
        assert_eq!(t.key("index.html"), "shop/index.html");
        assert_eq!(t.manifest_key(), "shop/.shopfront/manifest.json");
        assert_eq!(t.distribution_id, None);
        assert_eq!(t.to_string(), "s3://b/shop/");
    }
}
