//! The rendered site, in memory: a map from object key to bytes, content type
//! and cache policy. Nothing is written anywhere until a whole `Site` exists.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use sha2::{Digest, Sha256};

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
/// A photo's variant from the image cache stays a file there: its size and
/// SHA-256 were recorded when it was written, so it is read only when it is
/// copied, uploaded or served.
#[derive(Debug, Clone)]
pub struct Body(Repr);

#[derive(Debug, Clone)]
enum Repr {
    Memory {
        own: Vec<u8>,
        /// `shared` goes at byte `at` of `own`.
        splice: Option<(usize, Arc<[u8]>)>,
    },
    File(File),
}

/// A body that is a file (of the image cache).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct File {
    pub path: PathBuf,
    pub len: u64,
    /// The hex SHA-256 of its bytes.
    pub sha256: String,
    /// Its inode number, when known (see `images::Data::File`).
    pub ino: Option<u64>,
}

impl Body {
    /// `own[..at] + shared + own[at..]`.
    pub fn spliced(own: Vec<u8>, at: usize, shared: Arc<[u8]>) -> Self {
        assert!(at <= own.len(), "splice point past the end");
        Self(Repr::Memory {
            own,
            splice: Some((at, shared)),
        })
    }

    /// The file at `path`, whose size and hex SHA-256 are known.
    pub fn file(path: PathBuf, len: u64, sha256: String) -> Self {
        Self(Repr::File(File {
            path,
            len,
            sha256,
            ino: None,
        }))
    }

    /// A file of the image cache, with the inode number it was written with.
    pub fn cached_file(path: PathBuf, len: u64, sha256: String, ino: Option<u64>) -> Self {
        Self(Repr::File(File {
            path,
            len,
            sha256,
            ino,
        }))
    }

    /// The three parts in order, to write or hash without copying; `None`
    /// for a file body (see [`Body::as_file`]).
    pub fn parts(&self) -> Option<[&[u8]; 3]> {
        match &self.0 {
            Repr::Memory { own, splice } => Some(parts(own, splice.as_ref())),
            Repr::File(_) => None,
        }
    }

    /// The file, for a file body.
    pub fn as_file(&self) -> Option<&File> {
        match &self.0 {
            Repr::File(f) => Some(f),
            Repr::Memory { .. } => None,
        }
    }

    /// The whole body: borrowed, copied if it is spliced, or read if it is
    /// a file (which fails if the file is gone or cannot be read).
    pub fn read(&self) -> std::io::Result<Cow<'_, [u8]>> {
        match &self.0 {
            Repr::Memory { own, splice: None } => Ok(Cow::Borrowed(own)),
            Repr::Memory { own, splice } => Ok(Cow::Owned(parts(own, splice.as_ref()).concat())),
            Repr::File(f) => std::fs::read(&f.path)
                .map(Cow::Owned)
                .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", f.path.display()))),
        }
    }

    /// The hex SHA-256 of the bytes (a file body's as recorded).
    pub fn sha256(&self) -> String {
        match &self.0 {
            Repr::File(f) => f.sha256.clone(),
            Repr::Memory { own, splice } => {
                let mut h = Sha256::new();
                for part in parts(own, splice.as_ref()) {
                    h.update(part);
                }
                catalog::hex(&h.finalize())
            }
        }
    }

    pub fn len(&self) -> usize {
        match &self.0 {
            Repr::Memory { own, splice } => own.len() + splice.as_ref().map_or(0, |(_, s)| s.len()),
            Repr::File(f) => usize::try_from(f.len).unwrap_or(usize::MAX),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn parts<'a>(own: &'a [u8], splice: Option<&'a (usize, Arc<[u8]>)>) -> [&'a [u8]; 3] {
    match splice {
        Some((at, shared)) => [&own[..*at], shared, &own[*at..]],
        None => [own, &[], &[]],
    }
}

impl From<Vec<u8>> for Body {
    fn from(own: Vec<u8>) -> Self {
        Self(Repr::Memory { own, splice: None })
    }
}

impl From<images::Data> for Body {
    fn from(data: images::Data) -> Self {
        match data {
            images::Data::Memory(bytes) => bytes.into(),
            images::Data::File {
                path,
                len,
                sha256,
                ino,
            } => Self::cached_file(path, len, sha256, ino),
        }
    }
}

/// Equal bytes (a file body's as recorded, by size and digest).
impl PartialEq for Body {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len()
            && match (self.parts(), other.parts()) {
                (Some(a), Some(b)) => a.concat() == b.concat(),
                _ => self.sha256() == other.sha256(),
            }
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
        assert_eq!(&*body.read().unwrap(), b"<html><header></html>");
        assert_eq!(body.len(), 21);
        assert_eq!(body, Body::from(b"<html><header></html>".to_vec()));
        assert_eq!(
            body.sha256(),
            Body::from(b"<html><header></html>".to_vec()).sha256()
        );
    }

    #[test]
    fn a_file_body_is_read_only_when_asked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.webp");
        std::fs::write(&path, b"RIFF").unwrap();
        let memory = Body::from(b"RIFF".to_vec());
        let file = Body::file(path.clone(), 4, memory.sha256());
        assert_eq!(file.len(), 4);
        assert!(file.parts().is_none());
        assert_eq!(file.as_file().map(|f| &f.path), Some(&path));
        assert_eq!(file, memory, "equal by size and digest");
        assert_eq!(&*file.read().unwrap(), b"RIFF");
        std::fs::remove_file(&path).unwrap();
        let gone = file.read().unwrap_err().to_string();
        assert!(gone.contains("a.webp"), "{gone}");
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
