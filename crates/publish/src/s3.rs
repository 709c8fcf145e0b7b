//! The S3 + CloudFront target: the SDK clients, built in one place with their
//! retries and timeouts, and the object store the publish protocol runs on.
//! The protocol itself (manifest, staged uploads, deletes behind the guards,
//! the invalidation, the manifest written last, and the manifest of a stopped
//! publish) lives in the crate's private `remote` module, written against
//! that store, so it is tested without a server.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region};
use aws_sdk_s3::primitives::ByteStream;

use crate::plan::Entry;
use crate::remote::{self, ObjectStore, Op, StoreError};
pub use crate::remote::{Options, Target};
use crate::{PublishError, Summary};
use render::site::Site;

/// Attempts per request, the first included. Retries back off exponentially
/// with jitter, from [`INITIAL_BACKOFF`] up to [`MAX_BACKOFF`]; the SDK retries
/// throttling (503 SlowDown), 5xx answers, timeouts and broken connections.
const MAX_ATTEMPTS: u32 = 5;
const INITIAL_BACKOFF: Duration = Duration::from_millis(200);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// One attempt of one request, body included.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(30);

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

/// Publishes `site` to `target`: the protocol of the `remote` module on the
/// SDK clients.
pub async fn publish(
    clients: &Clients,
    target: &Target,
    site: &Site,
    options: &Options,
) -> Result<Summary, PublishError> {
    let bucket = Bucket {
        clients: clients.clone(),
        target: target.clone(),
    };
    remote::publish(&bucket, target, site, options).await
}

/// The target's bucket and distribution, through the SDK clients (which
/// retry each request).
#[derive(Debug, Clone)]
struct Bucket {
    clients: Clients,
    target: Target,
}

impl ObjectStore for Bucket {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let got = self
            .clients
            .s3
            .get_object()
            .bucket(&self.target.bucket)
            .key(key)
            .send()
            .await;
        let object = match got {
            Ok(object) => object,
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => return Ok(None),
            Err(e) => return Err(StoreError::new(Op::Get, key, describe(e))),
        };
        let bytes = object
            .body
            .collect()
            .await
            .map_err(|e| StoreError::new(Op::Get, key, e.to_string()))?
            .into_bytes();
        Ok(Some(Vec::from(bytes)))
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let mut keys = Vec::new();
        let mut token = None;
        loop {
            let page = self
                .clients
                .s3
                .list_objects_v2()
                .bucket(&self.target.bucket)
                .prefix(prefix)
                .set_continuation_token(token)
                .send()
                .await
                .map_err(|e| StoreError::new(Op::List, prefix, describe(e)))?;
            keys.extend(
                page.contents()
                    .iter()
                    .filter_map(|o| o.key())
                    .map(str::to_owned),
            );
            token = page.next_continuation_token().map(str::to_owned);
            if token.is_none() {
                return Ok(keys);
            }
        }
    }

    async fn head(&self, key: &str) -> Result<Entry, StoreError> {
        let head = self
            .clients
            .s3
            .head_object()
            .bucket(&self.target.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| StoreError::new(Op::Head, key, describe(e)))?;
        Ok(Entry {
            sha256: head
                .metadata()
                .and_then(|m| m.get("sha256"))
                .cloned()
                .unwrap_or_default(),
            content_type: head.content_type().unwrap_or_default().to_owned(),
            cache_control: head.cache_control().unwrap_or_default().to_owned(),
        })
    }

    async fn put(&self, key: &str, body: Vec<u8>, entry: &Entry) -> Result<(), StoreError> {
        let mut request = self
            .clients
            .s3
            .put_object()
            .bucket(&self.target.bucket)
            .key(key)
            .body(ByteStream::from(body))
            .content_type(&entry.content_type)
            .cache_control(&entry.cache_control);
        if !entry.sha256.is_empty() {
            request = request.metadata("sha256", &entry.sha256);
        }
        request
            .send()
            .await
            .map_err(|e| StoreError::new(Op::Put, key, describe(e)))?;
        Ok(())
    }

    async fn delete(&self, keys: &[String]) -> Result<(), StoreError> {
        use aws_sdk_s3::types::{Delete, ObjectIdentifier};
        let first = keys.first().map_or("", String::as_str);
        let fail = |cause: String| StoreError::new(Op::Delete, first, cause);
        let objects = keys
            .iter()
            .map(|k| ObjectIdentifier::builder().key(k).build())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| fail(e.to_string()))?;
        let delete = Delete::builder()
            .set_objects(Some(objects))
            .quiet(true)
            .build()
            .map_err(|e| fail(e.to_string()))?;
        let out = self
            .clients
            .s3
            .delete_objects()
            .bucket(&self.target.bucket)
            .delete(delete)
            .send()
            .await
            .map_err(|e| fail(describe(e)))?;
        match out.errors().first() {
            None => Ok(()),
            Some(e) => Err(StoreError::new(
                Op::Delete,
                e.key().unwrap_or(first),
                format!(
                    "S3 refused to delete {} of them, {} first: {} ({})",
                    out.errors().len(),
                    e.key().unwrap_or("?"),
                    e.message().unwrap_or("no message"),
                    e.code().unwrap_or("no code")
                ),
            )),
        }
    }

    async fn invalidate(&self, paths: &[String]) -> Result<String, StoreError> {
        use aws_sdk_cloudfront::types::{InvalidationBatch, Paths};
        let fail = |cause: String| StoreError::new(Op::Invalidate, "", cause);
        let Some(distribution_id) = &self.target.distribution_id else {
            return Err(fail("no distribution is configured".to_owned()));
        };
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
                    .map_err(|e| fail(e.to_string()))?,
            )
            .caller_reference(reference)
            .build()
            .map_err(|e| fail(e.to_string()))?;
        let out = self
            .clients
            .cloudfront
            .create_invalidation()
            .distribution_id(distribution_id)
            .invalidation_batch(batch)
            .send()
            .await
            .map_err(|e| fail(describe(e)))?;
        Ok(out
            .invalidation()
            .map(|i| i.id().to_owned())
            .unwrap_or_default())
    }
}

/// An SDK error with its causes, on one line.
fn describe<E: std::error::Error>(e: E) -> String {
    aws_sdk_s3::error::DisplayErrorContext(e).to_string()
}
