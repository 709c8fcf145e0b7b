//! Product list answers, kept serialized for a moment.
//!
//! `GET /api/products` is public and polled; the catalog is small and changes
//! rarely. Each instance keeps the JSON bytes of recent answers, per query,
//! for at most [`TTL`], and forgets them all when this instance writes or
//! PostgreSQL says the catalog changed. A list answer can therefore be up to
//! `TTL` older than what it was read from (the replica, already eventually
//! consistent); single products (`GET /api/products/{id}`, with their
//! `ETag`) are never cached.
//!
//! Each answer is kept twice: as it is, and gzipped once for the clients
//! that send `Accept-Encoding: gzip` (a list of 100 products shrinks about
//! fourfold).

use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use bytes::Bytes;

use poem::http::header;
use poem::{IntoResponse, Response};
use poem_openapi::ApiResponse;
use poem_openapi::payload::Payload;
use poem_openapi::registry::{MetaMediaType, MetaResponse, MetaResponses, MetaSchemaRef, Registry};
use poem_openapi::types::{ToJSON, Type};

/// How long a cached answer may be served.
pub const TTL: Duration = Duration::from_secs(1);
/// More distinct queries than this at once, and the cache starts over.
const MAX_ENTRIES: usize = 512;

/// Serialized answers by query.
#[derive(Default)]
pub struct ListCache {
    entries: RwLock<HashMap<String, Entry>>,
}

#[derive(Clone)]
struct Entry {
    at: Instant,
    plain: Bytes,
    gzip: Bytes,
}

/// Whether an `Accept-Encoding` header takes gzip.
pub fn accepts_gzip(req: &poem::Request) -> bool {
    req.headers()
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|coding| {
            let mut parts = coding.split(';');
            let name = parts.next().unwrap_or("").trim();
            let refused = parts.any(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    == Some(0.0)
            });
            (name.eq_ignore_ascii_case("gzip") || name == "*") && !refused
        })
}

fn gzip(body: &[u8]) -> Bytes {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    // Writing to a Vec cannot fail.
    let _ = encoder.write_all(body);
    Bytes::from(encoder.finish().unwrap_or_default())
}

impl ListCache {
    /// The answer for `key` if it is fresh, else `fill()`'s, remembered;
    /// gzipped if `gzip`.
    pub async fn get_or_fill<T, E, F>(
        &self,
        key: String,
        gzip: bool,
        fill: F,
    ) -> Result<JsonBytes<T>, E>
    where
        T: ToJSON,
        F: Future<Output = Result<T, E>>,
    {
        let now = Instant::now();
        let cached = self.read().get(&key).cloned();
        let entry = match cached {
            Some(entry) if now.duration_since(entry.at) < TTL => entry,
            _ => {
                let plain = Bytes::from(fill.await?.to_json_string());
                let entry = Entry {
                    at: now,
                    gzip: self::gzip(&plain),
                    plain,
                };
                let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
                if entries.len() >= MAX_ENTRIES {
                    entries.retain(|_, e| now.duration_since(e.at) < TTL);
                    if entries.len() >= MAX_ENTRIES {
                        entries.clear();
                    }
                }
                entries.insert(key, entry.clone());
                entry
            }
        };
        Ok(if gzip {
            JsonBytes::new(entry.gzip, true)
        } else {
            JsonBytes::new(entry.plain, false)
        })
    }

    /// Forget every answer: the catalog changed.
    pub fn clear(&self) {
        self.entries
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Entry>> {
        self.entries.read().unwrap_or_else(|e| e.into_inner())
    }
}

/// A JSON answer already serialized, documented in the spec as `T`.
pub struct JsonBytes<T> {
    body: Bytes,
    gzipped: bool,
    _type: PhantomData<fn() -> T>,
}

impl<T> JsonBytes<T> {
    fn new(body: Bytes, gzipped: bool) -> Self {
        Self {
            body,
            gzipped,
            _type: PhantomData,
        }
    }
}

impl<T: Type> Payload for JsonBytes<T> {
    const CONTENT_TYPE: &'static str = "application/json; charset=utf-8";

    fn schema_ref() -> MetaSchemaRef {
        T::schema_ref()
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}

impl<T: Type> IntoResponse for JsonBytes<T> {
    fn into_response(self) -> Response {
        let response = Response::builder()
            .header(header::CONTENT_TYPE, <Self as Payload>::CONTENT_TYPE)
            .header(header::VARY, "Accept-Encoding");
        if self.gzipped {
            response
                .header(header::CONTENT_ENCODING, "gzip")
                .body(self.body)
        } else {
            response.body(self.body)
        }
    }
}

impl<T: Type> ApiResponse for JsonBytes<T> {
    fn meta() -> MetaResponses {
        MetaResponses {
            responses: vec![MetaResponse {
                description: "",
                status: Some(200),
                status_range: None,
                content: vec![MetaMediaType {
                    content_type: <Self as Payload>::CONTENT_TYPE,
                    schema: T::schema_ref(),
                }],
                headers: vec![],
            }],
        }
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn answers_are_kept_until_cleared() {
        let cache = ListCache::default();
        let fill = |n: i64| async move { Ok::<_, ()>(n) };
        let first = cache.get_or_fill("q".into(), false, fill(1)).await.unwrap();
        let again = cache.get_or_fill("q".into(), false, fill(2)).await.unwrap();
        assert_eq!(first.body, "1");
        assert_eq!(again.body, "1", "a fresh answer is served from the cache");
        let other = cache
            .get_or_fill("other".into(), false, fill(3))
            .await
            .unwrap();
        assert_eq!(other.body, "3");
        cache.clear();
        let after = cache.get_or_fill("q".into(), false, fill(4)).await.unwrap();
        assert_eq!(after.body, "4");
    }

    #[tokio::test]
    async fn a_failed_fill_is_not_kept() {
        let cache = ListCache::default();
        let failed = cache
            .get_or_fill::<i64, _, _>("q".into(), false, async { Err("down") })
            .await;
        assert!(failed.is_err());
        let ok = cache
            .get_or_fill("q".into(), false, async { Ok::<_, ()>(5) })
            .await;
        assert_eq!(ok.unwrap().body, "5");
    }

    #[tokio::test]
    async fn gzip_is_served_to_those_who_take_it() {
        use std::io::Read;
        let cache = ListCache::default();
        let answer = cache
            .get_or_fill("q".into(), true, async { Ok::<_, ()>("x".repeat(1000)) })
            .await
            .unwrap();
        assert!(answer.gzipped && answer.body.len() < 100);
        let mut text = String::new();
        flate2::read::GzDecoder::new(&answer.body[..])
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text, format!("\"{}\"", "x".repeat(1000)));
    }

    #[test]
    fn accept_encoding_is_read_with_its_weights() {
        let takes = |value: &str| {
            accepts_gzip(
                &poem::Request::builder()
                    .header("accept-encoding", value)
                    .finish(),
            )
        };
        assert!(takes("gzip, deflate, br"));
        assert!(takes("br;q=1.0, gzip;q=0.8"));
        assert!(takes("*"));
        assert!(!takes("gzip;q=0"));
        assert!(!takes("identity"));
        assert!(!accepts_gzip(&poem::Request::builder().finish()));
    }
}
