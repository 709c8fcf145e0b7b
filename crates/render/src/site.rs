//! The rendered site, in memory: a map from object key to bytes, content type
//! and cache policy. Nothing is written anywhere until a whole `Site` exists.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;

/// How long browsers and CloudFront may keep an object. The one place this
/// policy is decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CachePolicy {
    /// Fingerprinted assets and image variants: the name changes whenever
    /// the bytes do.
    Immutable,
    /// Product images: named by the catalog, rarely replaced.
    Image,
    /// Pages and feeds: short-lived, invalidated by exact path on publish.
    Short,
}

impl CachePolicy {
    pub fn for_key(key: &str) -> Self {
        if key.starts_with("assets/") || key.starts_with(images::VARIANT_PREFIX) {
            Self::Immutable
        } else if key.starts_with("images/") {
            Self::Image
        } else {
            Self::Short
        }
    }

    /// The `Cache-Control` header value.
    pub fn header(self) -> &'static str {
        match self {
            Self::Immutable => "public, max-age=31536000, immutable",
            Self::Image => "public, max-age=86400",
            Self::Short => "public, max-age=60, must-revalidate",
        }
    }
}

/// The `Content-Type` for an object key, by its extension.
pub fn content_type_for(key: &str) -> &'static str {
    let ext = key.rsplit_once('.').map_or("", |(_, e)| e);
    match ext.to_ascii_lowercase().as_str() {
        "html" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" => "text/javascript; charset=utf-8",
        "json" => "application/json",
        "xml" => "application/xml; charset=utf-8",
        "txt" => "text/plain; charset=utf-8",
        "svg" => "image/svg+xml",
        "webp" => "image/webp",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "avif" => "image/avif",
        "gif" => "image/gif",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "webmanifest" => "application/manifest+json",
        _ => "application/octet-stream",
    }
}

/// An object's bytes. A page may splice in a part that many pages share (the
/// site header), which is then held once in memory however many pages use it.
#[derive(Debug, Clone)]
pub struct Body {
    own: Vec<u8>,
    /// `shared` goes at byte `at` of `own`.
    splice: Option<(usize, Arc<[u8]>)>,
}

impl Body {
    /// `own[..at] + shared + own[at..]`.
    pub fn spliced(own: Vec<u8>, at: usize, shared: Arc<[u8]>) -> Self {
        assert!(at <= own.len(), "splice point past the end");
        Self {
            own,
            splice: Some((at, shared)),
        }
    }

    /// The three parts in order; write or hash them without copying.
    pub fn parts(&self) -> [&[u8]; 3] {
        match &self.splice {
            Some((at, shared)) => [&self.own[..*at], shared, &self.own[*at..]],
            None => [&self.own, &[], &[]],
        }
    }

    /// The whole body, copied only if it is spliced.
    pub fn bytes(&self) -> Cow<'_, [u8]> {
        match &self.splice {
            None => Cow::Borrowed(&self.own),
            Some(_) => Cow::Owned(self.parts().concat()),
        }
    }

    pub fn len(&self) -> usize {
        self.own.len() + self.splice.as_ref().map_or(0, |(_, s)| s.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl From<Vec<u8>> for Body {
    fn from(own: Vec<u8>) -> Self {
        Self { own, splice: None }
    }
}

impl PartialEq for Body {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.bytes() == other.bytes()
    }
}

impl Eq for Body {}

/// One object of the site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub body: Body,
    pub content_type: &'static str,
    pub cache: CachePolicy,
}

/// The whole rendered site, keyed by object key (`products/x/index.html`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Site {
    pages: BTreeMap<String, Page>,
}

impl Site {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an object; its type and cache policy follow from the key.
    pub fn insert(&mut self, key: String, body: impl Into<Body>) {
        let page = Page {
            content_type: content_type_for(&key),
            cache: CachePolicy::for_key(&key),
            body: body.into(),
        };
        self.pages.insert(key, page);
    }

    pub fn get(&self, key: &str) -> Option<&Page> {
        self.pages.get(key)
    }

    /// Objects in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Page)> {
        self.pages.iter().map(|(k, p)| (k.as_str(), p))
    }

    pub fn len(&self) -> usize {
        self.pages.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pages.is_empty()
    }

    pub fn total_bytes(&self) -> u64 {
        self.pages.values().map(|p| p.body.len() as u64).sum()
    }

    /// Count of HTML pages.
    pub fn html_pages(&self) -> usize {
        self.pages.keys().filter(|k| k.ends_with(".html")).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spliced_bodies_read_as_one() {
        let shared: Arc<[u8]> = Arc::from(&b"<header>"[..]);
        let body = Body::spliced(b"<html></html>".to_vec(), 6, shared);
        assert_eq!(&*body.bytes(), b"<html><header></html>");
        assert_eq!(body.len(), 21);
        assert_eq!(body, Body::from(b"<html><header></html>".to_vec()));
    }

    #[test]
    fn policies_follow_the_key() {
        assert_eq!(
            CachePolicy::for_key("assets/site.0123abcd.css").header(),
            "public, max-age=31536000, immutable"
        );
        assert_eq!(CachePolicy::for_key("images/a.svg"), CachePolicy::Image);
        assert_eq!(
            CachePolicy::for_key("images/v/desk-0123456789abcdef-v1q80-640x427.webp"),
            CachePolicy::Immutable
        );
        assert_eq!(
            CachePolicy::for_key("products/a/index.html"),
            CachePolicy::Short
        );
        assert_eq!(CachePolicy::for_key("products.json"), CachePolicy::Short);
        assert_eq!(content_type_for("a/index.html"), "text/html; charset=utf-8");
        assert_eq!(content_type_for("images/a.SVG"), "image/svg+xml");
        assert_eq!(
            content_type_for("sitemap.xml"),
            "application/xml; charset=utf-8"
        );
        assert_eq!(content_type_for("noext"), "application/octet-stream");
    }
}
