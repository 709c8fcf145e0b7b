//! The publish protocol of a remote target (a bucket and the CDN in front of
//! it), written against [`ObjectStore`], so it runs on the AWS SDK clients
//! (`s3`) or, in the tests, on a map in memory. Publishes a rendered [`Site`]
//! by the plan of [`crate::plan`], so the live site is consistent at every
//! moment.
//!
//! 1. Read the live manifest (or, with `--verify` or when there is none, list
//!    the bucket and HEAD every object for its SHA-256 metadata).
//! 2. Upload what changed, stage by stage: assets, product pages, listings
//!    and feeds. A stage starts only when the one before is all up.
//! 3. Delete what went away, behind the guards.
//! 4. Invalidate the changed paths on the CDN.
//! 5. Write the manifest, last.
//!
//! A publish that stops part way writes a manifest of what the bucket then
//! holds, with the paths it still owes an invalidation, so running it again
//! picks up exactly where it stopped.
//!
//! Retries are the store's: the SDK clients retry each request with backoff.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Instant;

use indicatif::ProgressBar;
use tokio::task::JoinSet;

use crate::plan::{self, Entry, Guards, Invalidation, Manifest, Stage};
use crate::{Compared, PublishError, Summary, elapsed_ms};
use render::site::Site;

/// A store deletes at most this many keys per request (S3's limit).
const DELETE_BATCH: usize = 1000;
/// HEAD requests in flight at once while listing.
const HEAD_CONCURRENCY: usize = 16;
/// Where the manifest lives, under the prefix. Listing ignores this folder.
const MANIFEST_DIR: &str = ".shopfront/";
const MANIFEST_KEY: &str = ".shopfront/manifest.json";

/// What a store was asked to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Op {
    Get,
    List,
    Head,
    Put,
    Delete,
    Invalidate,
}

impl std::fmt::Display for Op {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Get => "GET",
            Self::List => "LIST",
            Self::Head => "HEAD",
            Self::Put => "PUT",
            Self::Delete => "DELETE",
            Self::Invalidate => "INVALIDATE",
        })
    }
}

/// A store request that failed: what, on which key (the prefix of a listing,
/// the first key of a delete, empty for an invalidation), and why, as text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{op} {key} failed: {cause}")]
pub(crate) struct StoreError {
    pub op: Op,
    pub key: String,
    pub cause: String,
}

impl StoreError {
    pub fn new(op: Op, key: &str, cause: impl Into<String>) -> Self {
        Self {
            op,
            key: key.to_owned(),
            cause: cause.into(),
        }
    }

    /// The error of a read that the publish cannot do without.
    fn into_read(self, target: &Target) -> PublishError {
        let what = match self.op {
            Op::List => format!("the listing of {target}"),
            _ => target.url(&self.key),
        };
        PublishError::Read {
            what,
            cause: self.cause,
        }
    }
}

/// What the publish protocol needs of a bucket and the CDN in front of it.
/// Keys are the bucket's, prefix included. A store is cloned into each
/// request's task, so it should be cheap to clone.
pub(crate) trait ObjectStore: Clone + Send + Sync + 'static {
    /// The bytes of the object at `key`; `None` if there is no such object.
    fn get(&self, key: &str) -> impl Future<Output = Result<Option<Vec<u8>>, StoreError>> + Send;

    /// Every key that starts with `prefix`, in any order.
    fn list(&self, prefix: &str) -> impl Future<Output = Result<Vec<String>, StoreError>> + Send;

    /// The object's SHA-256 metadata (empty if it has none), content type and
    /// cache policy.
    fn head(&self, key: &str) -> impl Future<Output = Result<Entry, StoreError>> + Send;

    /// Stores `body` at `key` with the entry's content type and cache policy,
    /// and its SHA-256 as metadata unless that is empty.
    fn put(
        &self,
        key: &str,
        body: Vec<u8>,
        entry: &Entry,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Deletes up to [`DELETE_BATCH`] keys; fails if any one is refused.
    fn delete(&self, keys: &[String]) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Invalidates `paths` on the CDN; returns the invalidation's id.
    fn invalidate(
        &self,
        paths: &[String],
    ) -> impl Future<Output = Result<String, StoreError>> + Send;
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

/// The new site as the bucket will hold it.
struct Changes<'a> {
    site: &'a Site,
    manifest: Manifest,
}

/// Publishes `site` to `target` through `store`. See the module's
/// documentation for the steps.
pub(crate) async fn publish<S: ObjectStore>(
    store: &S,
    target: &Target,
    site: &Site,
    options: &Options,
) -> Result<Summary, PublishError> {
    let started = Instant::now();
    let new = Changes {
        site,
        manifest: Manifest::of(site),
    };
    let (live, compared_with) = live_manifest(store, target, options.verify).await?;
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
        && let Err(cause) = put_manifest(store, target, &holds).await
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
            upload_all(store, target, &new, &keys, options.concurrency, &bar).await;
        for key in uploaded {
            holds
                .objects
                .insert(key.clone(), new.manifest.objects[&key].clone());
            summary.upload_bytes += site.get(&key).map_or(0, |p| p.body.len() as u64);
            summary.uploads.push(key);
        }
        if let Some((key, cause)) = failed {
            bar.abandon();
            let kept = keep_manifest(store, target, &holds).await;
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
        let keys: Vec<String> = batch.iter().map(|k| target.key(k)).collect();
        if let Err(e) = store.delete(&keys).await {
            let kept = keep_manifest(store, target, &holds).await;
            let message = format!(
                "deleting stale objects from {target} failed: {}. Every changed object is up; {} of the {} stale objects were deleted. {kept}Run the publish again to finish.",
                e.cause,
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
        match store.invalidate(&holds.pending_invalidation).await {
            Ok(invalidation_id) => summary.invalidation_id = Some(invalidation_id),
            Err(e) => {
                let kept = keep_manifest(store, target, &holds).await;
                let message = format!(
                    "invalidating {} paths on CloudFront distribution {id} failed: {}. The bucket holds the new site; until the invalidation is made, CloudFront may serve old copies for up to their max-age. {kept}Run the publish again to invalidate them.",
                    holds.pending_invalidation.len(),
                    e.cause,
                );
                return Err(stopped(&mut summary, message));
            }
        }
    }

    // The manifest, last.
    if let Err(cause) = put_manifest(store, target, &done).await {
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
async fn live_manifest<S: ObjectStore>(
    store: &S,
    target: &Target,
    verify: bool,
) -> Result<(Option<Manifest>, Compared), PublishError> {
    let stored = match get_manifest(store, target).await {
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
    let mut listed = list_live(store, target).await?;
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

async fn get_manifest<S: ObjectStore>(
    store: &S,
    target: &Target,
) -> Result<Option<Manifest>, PublishError> {
    let key = target.manifest_key();
    let Some(bytes) = store.get(&key).await.map_err(|e| e.into_read(target))? else {
        return Ok(None);
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| PublishError::BadManifest {
            url: target.url(&key),
            cause: e.to_string(),
        })
}

/// Lists every object under the prefix (but the manifest's folder) and HEADs
/// each for its hash, type and cache policy.
async fn list_live<S: ObjectStore>(store: &S, target: &Target) -> Result<Manifest, PublishError> {
    let listed = store
        .list(target.prefix())
        .await
        .map_err(|e| e.into_read(target))?;
    let keys = listed.into_iter().filter_map(|full| {
        let key = full.strip_prefix(target.prefix())?;
        (!key.starts_with(MANIFEST_DIR)).then(|| key.to_owned())
    });
    let mut objects = BTreeMap::new();
    let mut heads = JoinSet::new();
    let mut pending = keys;
    loop {
        while heads.len() < HEAD_CONCURRENCY {
            let Some(key) = pending.next() else { break };
            let (store, full) = (store.clone(), target.key(&key));
            heads.spawn(async move {
                let head = store.head(&full).await;
                (key, head)
            });
        }
        let Some(joined) = heads.join_next().await else {
            break;
        };
        let (key, head) = joined.expect("a HEAD task does not panic");
        objects.insert(key, head.map_err(|e| e.into_read(target))?);
    }
    Ok(Manifest {
        objects,
        ..Manifest::default()
    })
}

/// Uploads `keys` with at most `limit` in flight. After the first failure no
/// new upload starts; those in flight finish. Returns the keys that went up
/// and the failure, if any.
async fn upload_all<S: ObjectStore>(
    store: &S,
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
            let entry = new.manifest.objects[key].clone();
            let body = match body_to_upload(&page.body, &entry) {
                Ok(body) => body,
                Err(cause) => {
                    failed.get_or_insert((key.to_owned(), cause));
                    break;
                }
            };
            let (store, full, key) = (store.clone(), target.key(key), key.to_owned());
            running.spawn(async move {
                let put = store.put(&full, body, &entry).await;
                (key, put.map_err(|e| e.cause))
            });
        }
        let Some(joined) = running.join_next().await else {
            break;
        };
        match joined {
            Ok((key, Ok(()))) => {
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

/// The bytes to upload: a file body (a photo's variant in the image cache)
/// is read now and checked against the digest the manifest records for it.
fn body_to_upload(body: &render::site::Body, entry: &Entry) -> Result<Vec<u8>, String> {
    let bytes = body.read().map_err(|e| {
        format!("cannot read it: {e}; the image cache changed during the publish, publish again")
    })?;
    if let Some(file) = body.as_file() {
        let read = crate::plan::sha256_hex([&bytes, &[], &[]]);
        if read != entry.sha256 {
            return Err(format!(
                "{} does not hold the bytes recorded for it (SHA-256 {read}, not {}); delete the image cache and publish again",
                file.path.display(),
                entry.sha256
            ));
        }
    }
    Ok(bytes.into_owned())
}

async fn put_manifest<S: ObjectStore>(
    store: &S,
    target: &Target,
    manifest: &Manifest,
) -> Result<(), String> {
    let body = serde_json::to_vec(manifest).map_err(|e| e.to_string())?;
    // The manifest carries no hash of its own.
    let entry = Entry {
        sha256: String::new(),
        content_type: "application/json".to_owned(),
        cache_control: "no-store".to_owned(),
    };
    store
        .put(&target.manifest_key(), body, &entry)
        .await
        .map_err(|e| e.cause)
}

/// Writes the manifest of a stopped publish; says how that went, for the
/// error message.
async fn keep_manifest<S: ObjectStore>(store: &S, target: &Target, holds: &Manifest) -> String {
    match put_manifest(store, target, holds).await {
        Ok(()) => "The manifest records what did change. ".to_owned(),
        Err(cause) => {
            tracing::warn!("could not record the partial publish in the manifest: {cause}");
            "The manifest could not be updated either, so run the next publish with --verify. "
                .to_owned()
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::sync::{Arc, Mutex, MutexGuard};

    use super::*;
    use crate::plan::{PlanError, sha256_hex};

    /// A bucket and distribution in memory, logging every call, that can be
    /// made to fail the `n`-th call of one kind.
    #[derive(Clone, Default)]
    struct Fake(Arc<Mutex<State>>);

    #[derive(Default)]
    struct State {
        objects: BTreeMap<String, (Vec<u8>, Entry)>,
        /// Every call, in order: what it was, on what, and whether it failed.
        log: Vec<(Op, String, bool)>,
        /// Calls of each kind since the last [`Fake::fail`].
        calls: BTreeMap<Op, usize>,
        /// The call of this kind, counted from 1, fails.
        fail: Option<(Op, usize)>,
        invalidations: usize,
    }

    impl Fake {
        fn state(&self) -> MutexGuard<'_, State> {
            self.0.lock().unwrap()
        }

        /// Makes the `n`-th call of `op` from now fail (counting from 1).
        fn fail(&self, op: Op, n: usize) {
            let mut s = self.state();
            s.calls.clear();
            s.fail = Some((op, n));
        }

        fn heal(&self) {
            self.state().fail = None;
        }

        fn clear_log(&self) {
            self.state().log.clear();
        }

        /// Logs a call; fails it if it is the one to fail.
        fn call(&self, op: Op, on: &str) -> Result<MutexGuard<'_, State>, StoreError> {
            let mut s = self.state();
            let n = {
                let n = s.calls.entry(op).or_default();
                *n += 1;
                *n
            };
            let failed = s.fail == Some((op, n));
            s.log.push((op, on.to_owned(), failed));
            if failed {
                return Err(StoreError::new(op, on, "injected fault"));
            }
            Ok(s)
        }

        /// Every call, as `OP what`.
        fn log(&self) -> Vec<String> {
            self.state()
                .log
                .iter()
                .map(|(op, on, failed)| {
                    let failed = if *failed { " (failed)" } else { "" };
                    format!("{op} {on}{failed}")
                })
                .collect()
        }

        /// The calls that change something.
        fn writes(&self) -> Vec<String> {
            self.log()
                .into_iter()
                .filter(|c| !["GET ", "LIST ", "HEAD "].iter().any(|r| c.starts_with(r)))
                .collect()
        }

        fn objects(&self) -> BTreeMap<String, (Vec<u8>, Entry)> {
            self.state().objects.clone()
        }

        fn manifest(&self, target: &Target) -> Manifest {
            let (bytes, _) = &self.state().objects[&target.manifest_key()];
            serde_json::from_slice(bytes).unwrap()
        }
    }

    impl ObjectStore for Fake {
        async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
            let s = self.call(Op::Get, key)?;
            Ok(s.objects.get(key).map(|(bytes, _)| bytes.clone()))
        }

        async fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
            let s = self.call(Op::List, prefix)?;
            Ok(s.objects
                .keys()
                .filter(|k| k.starts_with(prefix))
                .cloned()
                .collect())
        }

        async fn head(&self, key: &str) -> Result<Entry, StoreError> {
            let s = self.call(Op::Head, key)?;
            match s.objects.get(key) {
                Some((_, entry)) => Ok(entry.clone()),
                None => Err(StoreError::new(Op::Head, key, "no such key")),
            }
        }

        async fn put(&self, key: &str, body: Vec<u8>, entry: &Entry) -> Result<(), StoreError> {
            let mut s = self.call(Op::Put, key)?;
            s.objects.insert(key.to_owned(), (body, entry.clone()));
            Ok(())
        }

        async fn delete(&self, keys: &[String]) -> Result<(), StoreError> {
            let mut s = self.call(Op::Delete, &keys.join(" "))?;
            for key in keys {
                s.objects.remove(key);
            }
            Ok(())
        }

        async fn invalidate(&self, paths: &[String]) -> Result<String, StoreError> {
            let mut s = self.call(Op::Invalidate, &paths.join(" "))?;
            s.invalidations += 1;
            Ok(format!("I{}", s.invalidations))
        }
    }

    fn site(pages: &[(&str, &str)]) -> Site {
        let mut s = Site::new();
        for (k, body) in pages {
            s.insert((*k).to_owned(), body.as_bytes().to_vec());
        }
        s
    }

    const CSS1: &str = "assets/site.1111111111.css";
    const CSS2: &str = "assets/site.2222222222.css";

    fn v1() -> Site {
        site(&[
            (CSS1, "css 1"),
            ("images/mug.svg", "<svg/>"),
            ("index.html", "home 1"),
            ("products/cup/index.html", "cup"),
            ("products/mug/index.html", "mug 1"),
            ("products.json", "[1]"),
            ("sitemap.xml", "<urlset/>"),
        ])
    }

    /// `v1` with the mug's price edited.
    fn v1_edited() -> Site {
        site(&[
            (CSS1, "css 1"),
            ("images/mug.svg", "<svg/>"),
            ("index.html", "home 2"),
            ("products/cup/index.html", "cup"),
            ("products/mug/index.html", "mug 2"),
            ("products.json", "[2]"),
            ("sitemap.xml", "<urlset/>"),
        ])
    }

    /// `v1` with a new stylesheet, the mug's price edited, the cup gone and a
    /// pot new: a change in every stage.
    fn v2() -> Site {
        site(&[
            (CSS2, "css 2"),
            ("images/mug.svg", "<svg/>"),
            ("index.html", "home 2"),
            ("products/mug/index.html", "mug 2"),
            ("products/pot/index.html", "pot"),
            ("products.json", "[2]"),
            ("sitemap.xml", "<urlset/>"),
        ])
    }

    /// The uploads of `v2` over `v1`, in order.
    const V2_UPLOADS: [&str; 5] = [
        CSS2,
        "products/pot/index.html",
        "products/mug/index.html",
        "index.html",
        "products.json",
    ];
    /// The paths `v2` over `v1` invalidates: what changed or went away.
    const V2_PATHS: &str = "/ /index.html /products.json /products/cup/ /products/cup/index.html /products/mug/ /products/mug/index.html";

    fn target() -> Target {
        Target::new("b", "", Some("E1"))
    }

    /// The metadata of an object put by hand: no hash, S3's default type.
    fn by_hand() -> Entry {
        Entry {
            sha256: String::new(),
            content_type: "binary/octet-stream".into(),
            cache_control: String::new(),
        }
    }

    async fn run(store: &Fake, target: &Target, site: &Site) -> Result<Summary, PublishError> {
        publish(store, target, site, &Options::default()).await
    }

    /// A store that holds `v1`, published, with an empty log.
    async fn live_v1() -> Fake {
        let store = Fake::default();
        run(&store, &target(), &v1()).await.unwrap();
        store.clear_log();
        store
    }

    fn stopped(result: Result<Summary, PublishError>) -> (String, Summary) {
        match result {
            Err(PublishError::Stopped { message, summary }) => (message, *summary),
            other => panic!("expected a stopped publish, got {other:?}"),
        }
    }

    fn writes(calls: &[&str]) -> Vec<String> {
        calls.iter().map(|c| (*c).to_owned()).collect()
    }

    /// The bucket holds exactly `site`, the `retired` assets and the
    /// manifest, each page with its bytes, type, cache policy and hash; and
    /// the manifest says just that.
    fn assert_holds(store: &Fake, target: &Target, site: &Site, retired: &[&str]) {
        let objects = store.objects();
        let expected = Manifest::of(site);
        let mut keys: BTreeSet<String> = expected.objects.keys().cloned().collect();
        keys.extend(retired.iter().map(|k| (*k).to_owned()));
        let held: BTreeSet<String> = objects
            .keys()
            .filter_map(|k| k.strip_prefix(target.prefix()))
            .filter(|k| !k.starts_with(MANIFEST_DIR))
            .map(str::to_owned)
            .collect();
        assert_eq!(held, keys);
        for (key, page) in site.iter() {
            let (bytes, entry) = &objects[&target.key(key)];
            assert_eq!(bytes.as_slice(), &*page.body.read().unwrap(), "{key}");
            assert_eq!(entry, &expected.objects[key], "{key}");
        }
        let manifest = store.manifest(target);
        assert_eq!(
            manifest.objects.keys().cloned().collect::<BTreeSet<_>>(),
            keys
        );
        for (key, entry) in &expected.objects {
            assert_eq!(&manifest.objects[key], entry, "{key}");
        }
        assert_eq!(
            manifest.retired,
            retired.iter().map(|k| (*k).to_owned()).collect()
        );
        assert!(manifest.pending_invalidation.is_empty());
    }

    /// The manifest never vouches for bytes the bucket does not hold: every
    /// object is in it, with the hash of its bytes or as unknown (an empty
    /// hash), and every hash it records is that of an object held.
    fn assert_manifest_is_true(store: &Fake, target: &Target) -> Manifest {
        let manifest = store.manifest(target);
        let objects = store.objects();
        for (full, (bytes, _)) in &objects {
            let Some(key) = full.strip_prefix(target.prefix()) else {
                continue;
            };
            if key.starts_with(MANIFEST_DIR) {
                continue;
            }
            let recorded = &manifest.objects.get(key).expect(key).sha256;
            assert!(
                recorded.is_empty() || *recorded == sha256_hex([bytes, b"", b""]),
                "{key}: the manifest records another hash"
            );
        }
        for (key, entry) in &manifest.objects {
            if entry.sha256.is_empty() {
                continue;
            }
            let (bytes, _) = objects
                .get(&target.key(key))
                .unwrap_or_else(|| panic!("{key}: recorded but not held"));
            assert_eq!(entry.sha256, sha256_hex([bytes, b"", b""]), "{key}");
        }
        manifest
    }

    /// Runs the publish again on a healed store; it finishes `v2`.
    async fn assert_rerun_completes(store: &Fake) {
        store.heal();
        run(store, &target(), &v2()).await.unwrap();
        assert_holds(store, &target(), &v2(), &[CSS1]);
    }

    #[test]
    fn prefixes_are_folders() {
        assert_eq!(Target::new("b", "", None).key("index.html"), "index.html");
        let t = Target::new("b", "/shop//", Some(""));
        assert_eq!(t.key("index.html"), "shop/index.html");
        assert_eq!(t.manifest_key(), "shop/.shopfront/manifest.json");
        assert_eq!(t.distribution_id, None);
        assert_eq!(t.to_string(), "s3://b/shop/");
    }

    #[tokio::test]
    async fn a_first_publish_uploads_everything_in_stage_order_and_the_manifest_last() {
        let store = Fake::default();
        let target = Target::new("b", "shop", Some("E1"));
        let summary = run(&store, &target, &v1()).await.unwrap();
        assert_eq!(
            store.writes(),
            writes(&[
                "PUT shop/.shopfront/manifest.json",
                "PUT shop/assets/site.1111111111.css",
                "PUT shop/images/mug.svg",
                "PUT shop/products/cup/index.html",
                "PUT shop/products/mug/index.html",
                "PUT shop/index.html",
                "PUT shop/products.json",
                "PUT shop/sitemap.xml",
                "PUT shop/.shopfront/manifest.json",
            ])
        );
        assert_eq!(summary.compared_with, Compared::Nothing);
        assert_eq!(summary.uploads.len(), 7);
        assert_eq!(summary.upload_bytes, v1().total_bytes());
        assert_eq!(
            summary.invalidation,
            Invalidation::None,
            "nothing was cached"
        );
        assert_eq!(summary.target, "s3://b/shop/");
        assert_holds(&store, &target, &v1(), &[]);
        // The manifest carries no hash metadata of its own.
        let (_, entry) = &store.objects()["shop/.shopfront/manifest.json"];
        assert_eq!(
            (entry.sha256.as_str(), entry.content_type.as_str()),
            ("", "application/json")
        );
    }

    #[tokio::test]
    async fn an_unchanged_site_publishes_without_a_single_write() {
        let store = live_v1().await;
        let summary = run(&store, &target(), &v1()).await.unwrap();
        assert_eq!(store.log(), ["GET .shopfront/manifest.json"]);
        assert!(summary.uploads.is_empty() && summary.deletes.is_empty());
        assert_eq!(summary.unchanged, 7);
        assert_eq!(summary.compared_with, Compared::Manifest);
        assert_eq!(summary.invalidation_id, None);
    }

    #[tokio::test]
    async fn a_change_uploads_by_stage_then_deletes_invalidates_and_records() {
        let store = live_v1().await;
        let summary = run(&store, &target(), &v2()).await.unwrap();
        assert_eq!(
            store.writes(),
            writes(&[
                "PUT .shopfront/manifest.json",
                "PUT assets/site.2222222222.css",
                "PUT products/pot/index.html",
                "PUT products/mug/index.html",
                "PUT index.html",
                "PUT products.json",
                "DELETE products/cup/index.html",
                &format!("INVALIDATE {V2_PATHS}"),
                "PUT .shopfront/manifest.json",
            ])
        );
        assert_eq!(summary.uploads, V2_UPLOADS);
        assert_eq!(summary.deletes, ["products/cup/index.html"]);
        assert_eq!(summary.retired, [CSS1]);
        assert_eq!(summary.unchanged, 2);
        assert_eq!(summary.invalidation_id.as_deref(), Some("I1"));
        assert_holds(&store, &target(), &v2(), &[CSS1]);

        // The next publish deletes the old stylesheet, which needs no
        // invalidation (and no manifest before it: nothing goes up).
        store.clear_log();
        let next = run(&store, &target(), &v2()).await.unwrap();
        assert_eq!(
            store.writes(),
            writes(&[&format!("DELETE {CSS1}"), "PUT .shopfront/manifest.json"])
        );
        assert_eq!(next.deletes, [CSS1]);
        assert_holds(&store, &target(), &v2(), &[]);
    }

    #[tokio::test]
    async fn a_failed_first_manifest_write_changes_nothing() {
        let store = live_v1().await;
        let before = store.objects();
        store.fail(Op::Put, 1);
        let (message, summary) = stopped(run(&store, &target(), &v2()).await);
        assert_eq!(
            message,
            "writing the manifest s3://b/.shopfront/manifest.json failed: injected fault. Nothing was changed; run the publish again once S3 answers."
        );
        assert_eq!(store.writes(), ["PUT .shopfront/manifest.json (failed)"]);
        assert!(summary.uploads.is_empty());
        assert_eq!(store.objects(), before);
        assert_rerun_completes(&store).await;
    }

    #[tokio::test]
    async fn a_failed_asset_upload_stops_before_any_page() {
        let store = live_v1().await;
        store.fail(Op::Put, 2);
        let (message, summary) = stopped(run(&store, &target(), &v2()).await);
        assert_eq!(
            message,
            "uploading s3://b/assets/site.2222222222.css failed: injected fault. The publish stopped before any delete: 0 of the 5 changed objects went up, in order (up to the Assets stage), so the live site links only to objects that exist. The manifest records what did change. Run the publish again once S3 answers; it uploads the rest."
        );
        assert_eq!(
            store.writes(),
            writes(&[
                "PUT .shopfront/manifest.json",
                "PUT assets/site.2222222222.css (failed)",
                "PUT .shopfront/manifest.json",
            ])
        );
        assert!(summary.uploads.is_empty() && summary.deletes.is_empty());
        let manifest = assert_manifest_is_true(&store, &target());
        assert_eq!(manifest.pending_invalidation.join(" "), V2_PATHS);
        // Every page the bucket holds is still the old one.
        for (key, page) in v1().iter() {
            assert_eq!(store.objects()[key].0, &*page.body.read().unwrap(), "{key}");
        }
        assert_rerun_completes(&store).await;
    }

    #[tokio::test]
    async fn a_failed_product_page_stops_before_the_listings() {
        let store = live_v1().await;
        store.fail(Op::Put, 4);
        let (message, summary) = stopped(run(&store, &target(), &v2()).await);
        assert!(
            message.starts_with(
                "uploading s3://b/products/mug/index.html failed: injected fault. The publish stopped before any delete: 2 of the 5 changed objects went up, in order (up to the Products stage)"
            ),
            "{message}"
        );
        assert_eq!(
            store.writes(),
            writes(&[
                "PUT .shopfront/manifest.json",
                "PUT assets/site.2222222222.css",
                "PUT products/pot/index.html",
                "PUT products/mug/index.html (failed)",
                "PUT .shopfront/manifest.json",
            ])
        );
        assert_eq!(summary.uploads, V2_UPLOADS[..2]);
        assert!(summary.deletes.is_empty());
        assert_eq!(summary.upload_bytes, 8);
        let manifest = assert_manifest_is_true(&store, &target());
        assert_eq!(manifest.objects["products/mug/index.html"].sha256, "");
        assert_eq!(manifest.pending_invalidation.join(" "), V2_PATHS);
        assert_rerun_completes(&store).await;
    }

    #[tokio::test]
    async fn a_failed_listing_stops_before_any_delete_once_those_in_flight_are_up() {
        let store = live_v1().await;
        store.fail(Op::Put, 5);
        let (message, summary) = stopped(run(&store, &target(), &v2()).await);
        assert!(
            message.starts_with(
                "uploading s3://b/index.html failed: injected fault. The publish stopped before any delete: 4 of the 5 changed objects went up, in order (up to the Listings stage)"
            ),
            "{message}"
        );
        // products.json was already on its way, and finishes.
        assert_eq!(
            store.writes(),
            writes(&[
                "PUT .shopfront/manifest.json",
                "PUT assets/site.2222222222.css",
                "PUT products/pot/index.html",
                "PUT products/mug/index.html",
                "PUT index.html (failed)",
                "PUT products.json",
                "PUT .shopfront/manifest.json",
            ])
        );
        assert_eq!(
            summary.uploads,
            [V2_UPLOADS[..3].to_vec(), vec!["products.json"]].concat()
        );
        assert!(summary.deletes.is_empty());
        let manifest = assert_manifest_is_true(&store, &target());
        assert_eq!(manifest.objects["index.html"].sha256, "");
        assert!(manifest.objects.contains_key("products/cup/index.html"));
        assert_rerun_completes(&store).await;
    }

    #[tokio::test]
    async fn after_a_failed_upload_no_new_upload_starts() {
        let store = live_v1().await;
        store.fail(Op::Put, 5);
        let options = Options {
            concurrency: 1,
            ..Options::default()
        };
        let (_, summary) = stopped(publish(&store, &target(), &v2(), &options).await);
        assert_eq!(
            store.writes(),
            writes(&[
                "PUT .shopfront/manifest.json",
                "PUT assets/site.2222222222.css",
                "PUT products/pot/index.html",
                "PUT products/mug/index.html",
                "PUT index.html (failed)",
                "PUT .shopfront/manifest.json",
            ])
        );
        assert_eq!(summary.uploads, V2_UPLOADS[..3]);
        assert_manifest_is_true(&store, &target());
    }

    #[tokio::test]
    async fn a_failed_delete_stops_before_the_invalidation() {
        let store = live_v1().await;
        store.fail(Op::Delete, 1);
        let (message, summary) = stopped(run(&store, &target(), &v2()).await);
        assert_eq!(
            message,
            "deleting stale objects from s3://b/ failed: injected fault. Every changed object is up; 0 of the 1 stale objects were deleted. The manifest records what did change. Run the publish again to finish."
        );
        let log = store.writes();
        assert_eq!(
            log[log.len() - 2..],
            writes(&[
                "DELETE products/cup/index.html (failed)",
                "PUT .shopfront/manifest.json"
            ])
        );
        assert!(!log.iter().any(|w| w.starts_with("INVALIDATE")));
        assert_eq!(summary.uploads, V2_UPLOADS);
        assert!(summary.deletes.is_empty());
        let manifest = assert_manifest_is_true(&store, &target());
        assert!(manifest.objects["products/cup/index.html"].sha256.len() == 64);
        assert_eq!(manifest.pending_invalidation.join(" "), V2_PATHS);

        store.heal();
        store.clear_log();
        run(&store, &target(), &v2()).await.unwrap();
        assert_eq!(
            store.writes(),
            writes(&[
                "DELETE products/cup/index.html",
                &format!("INVALIDATE {V2_PATHS}"),
                "PUT .shopfront/manifest.json",
            ])
        );
        assert_holds(&store, &target(), &v2(), &[CSS1]);
    }

    #[tokio::test]
    async fn a_failed_invalidation_is_owed_by_the_manifest_and_made_next_time() {
        let store = live_v1().await;
        store.fail(Op::Invalidate, 1);
        let (message, summary) = stopped(run(&store, &target(), &v2()).await);
        assert_eq!(
            message,
            "invalidating 7 paths on CloudFront distribution E1 failed: injected fault. The bucket holds the new site; until the invalidation is made, CloudFront may serve old copies for up to their max-age. The manifest records what did change. Run the publish again to invalidate them."
        );
        assert_eq!(summary.uploads, V2_UPLOADS);
        assert_eq!(summary.deletes, ["products/cup/index.html"]);
        assert_eq!(summary.invalidation_id, None);
        let manifest = assert_manifest_is_true(&store, &target());
        assert_eq!(manifest.pending_invalidation.join(" "), V2_PATHS);

        store.heal();
        store.clear_log();
        let rerun = run(&store, &target(), &v2()).await.unwrap();
        assert!(rerun.uploads.is_empty() && rerun.deletes.is_empty());
        assert_eq!(
            store.writes(),
            writes(&[
                &format!("INVALIDATE {V2_PATHS}"),
                "PUT .shopfront/manifest.json"
            ])
        );
        assert_holds(&store, &target(), &v2(), &[CSS1]);
    }

    #[tokio::test]
    async fn a_failed_last_manifest_write_leaves_the_earlier_one_and_the_rerun_records_it() {
        let store = live_v1().await;
        // The manifest before the uploads, three pages, the manifest.
        store.fail(Op::Put, 5);
        let (message, summary) = stopped(run(&store, &target(), &v1_edited()).await);
        assert_eq!(
            message,
            "writing the manifest s3://b/.shopfront/manifest.json failed: injected fault. The site itself is published; run the publish again to record it (it uploads again what this one did)."
        );
        let edited = ["products/mug/index.html", "index.html", "products.json"];
        assert_eq!(summary.uploads, edited);
        assert_eq!(summary.invalidation_id.as_deref(), Some("I1"));
        // The manifest written before the uploads: what changed is unknown.
        let manifest = assert_manifest_is_true(&store, &target());
        for key in edited {
            assert_eq!(manifest.objects[key].sha256, "", "{key}");
        }

        store.heal();
        let rerun = run(&store, &target(), &v1_edited()).await.unwrap();
        assert_eq!(rerun.uploads, edited);
        assert_holds(&store, &target(), &v1_edited(), &[]);
    }

    #[tokio::test]
    async fn the_delete_guard_refuses_before_any_write() {
        let store = live_v1().await;
        let before = store.objects();
        let options = Options {
            guards: Guards {
                max_deletes: Some(0),
                ..Guards::default()
            },
            ..Options::default()
        };
        let err = publish(&store, &target(), &v2(), &options)
            .await
            .unwrap_err();
        assert!(
            matches!(
                &err,
                PublishError::Plan(PlanError::TooManyDeletes {
                    deletes: 1,
                    live: 7,
                    ..
                })
            ),
            "{err:?}"
        );
        assert!(store.writes().is_empty());
        assert_eq!(store.objects(), before);
    }

    #[tokio::test]
    async fn the_empty_catalog_guard_refuses_before_any_write() {
        let store = live_v1().await;
        let before = store.objects();
        let empty = site(&[("index.html", "no products"), ("products.json", "[]")]);
        let err = run(&store, &target(), &empty).await.unwrap_err();
        assert!(
            matches!(
                err,
                PublishError::Plan(PlanError::EmptyCatalog { live_products: 2 })
            ),
            "{err:?}"
        );
        assert!(store.writes().is_empty());
        assert_eq!(store.objects(), before);
    }

    #[tokio::test]
    async fn a_dry_run_makes_no_write() {
        let store = live_v1().await;
        let before = store.objects();
        let options = Options {
            dry_run: true,
            ..Options::default()
        };
        let plan = publish(&store, &target(), &v2(), &options).await.unwrap();
        assert_eq!(store.log(), ["GET .shopfront/manifest.json"]);
        assert_eq!(store.objects(), before);
        assert!(plan.dry_run);
        assert_eq!(plan.uploads, V2_UPLOADS);
        assert_eq!(plan.deletes, ["products/cup/index.html"]);
        assert_eq!(plan.invalidation.paths().join(" "), V2_PATHS);
        assert_eq!(plan.invalidation_id, None);

        // With --verify too: a listing and HEADs, still no write.
        let verify = Options {
            verify: true,
            ..options
        };
        store.clear_log();
        publish(&store, &target(), &v2(), &verify).await.unwrap();
        assert!(store.writes().is_empty(), "{:?}", store.log());
        assert!(store.log().contains(&"LIST ".to_owned()));
    }

    #[tokio::test]
    async fn verify_compares_against_the_listing_and_each_objects_metadata() {
        let store = live_v1().await;
        // Someone overwrites a page by hand; the manifest does not know.
        store.state().objects.insert(
            "products/mug/index.html".into(),
            (b"tampered".to_vec(), by_hand()),
        );
        let trusting = run(&store, &target(), &v1()).await.unwrap();
        assert!(trusting.uploads.is_empty());

        let options = Options {
            verify: true,
            ..Options::default()
        };
        let verified = publish(&store, &target(), &v1(), &options).await.unwrap();
        assert_eq!(verified.compared_with, Compared::Listing);
        assert_eq!(verified.uploads, ["products/mug/index.html"]);
        assert_holds(&store, &target(), &v1(), &[]);
    }

    #[tokio::test]
    async fn a_bad_manifest_is_refused_unless_verifying() {
        let store = live_v1().await;
        store.state().objects.insert(
            ".shopfront/manifest.json".into(),
            (b"not json".to_vec(), by_hand()),
        );
        let err = run(&store, &target(), &v1()).await.unwrap_err();
        assert!(
            matches!(&err, PublishError::BadManifest { url, .. } if url == "s3://b/.shopfront/manifest.json"),
            "{err:?}"
        );
        assert!(store.writes().is_empty());

        let options = Options {
            verify: true,
            ..Options::default()
        };
        let verified = publish(&store, &target(), &v1(), &options).await.unwrap();
        assert_eq!(verified.compared_with, Compared::Listing);
        assert!(verified.uploads.is_empty());
        assert_eq!(store.writes(), ["PUT .shopfront/manifest.json"]);
        assert_holds(&store, &target(), &v1(), &[]);
    }

    #[tokio::test]
    async fn read_failures_say_what_could_not_be_read() {
        let store = live_v1().await;
        store.fail(Op::Get, 1);
        let err = run(&store, &target(), &v1()).await.unwrap_err();
        assert!(
            matches!(&err, PublishError::Read { what, cause } if what == "s3://b/.shopfront/manifest.json" && cause == "injected fault"),
            "{err:?}"
        );
        let options = Options {
            verify: true,
            ..Options::default()
        };
        store.fail(Op::List, 1);
        let err = publish(&store, &target(), &v1(), &options)
            .await
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "could not read the listing of s3://b/: injected fault; check the bucket name, the credentials and the endpoint"
        );
        store.fail(Op::Head, 3);
        let err = publish(&store, &target(), &v1(), &options)
            .await
            .unwrap_err();
        assert!(
            matches!(&err, PublishError::Read { what, .. } if what.starts_with("s3://b/")),
            "{err:?}"
        );
        assert!(store.writes().is_empty());
    }

    #[tokio::test]
    async fn without_a_distribution_the_paths_are_owed_to_a_later_publish() {
        let store = live_v1().await;
        let bare = Target::new("b", "", None);
        let summary = run(&store, &bare, &v2()).await.unwrap();
        assert_eq!(summary.invalidation, Invalidation::None);
        assert!(!store.writes().iter().any(|w| w.starts_with("INVALIDATE")));
        assert_eq!(
            store.manifest(&bare).pending_invalidation.join(" "),
            V2_PATHS
        );

        // The next publish with a distribution makes them (and deletes the
        // stylesheet retired by the last one).
        store.clear_log();
        run(&store, &target(), &v2()).await.unwrap();
        assert_eq!(
            store.writes(),
            writes(&[
                &format!("DELETE {CSS1}"),
                &format!("INVALIDATE {V2_PATHS}"),
                "PUT .shopfront/manifest.json"
            ])
        );
        assert_holds(&store, &target(), &v2(), &[]);
    }
}
