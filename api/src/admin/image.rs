//! Uploaded product images, for the admin's form and the JSON API's
//! `POST /api/images`: the body spooled to a file (never held whole while it
//! arrives), the type from the bytes (never the file name), the size limit, a
//! whole decode within the photo limits before anything is stored, and the
//! content address.

use std::io::{Seek, SeekFrom};
use std::path::Path;
use std::sync::LazyLock;

use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::sync::Semaphore;

/// The largest image accepted: a phone photo with room to spare.
pub const MAX_IMAGE: usize = 25 * 1024 * 1024;

/// What is accepted, for messages and the file picker.
pub const ACCEPTED: &str = "a JPEG, PNG or WebP image";

/// Decoding a photo takes about 4 bytes a pixel; one at a time keeps the
/// api's memory bounded whatever arrives at once.
static DECODING: LazyLock<Semaphore> = LazyLock::new(|| Semaphore::new(1));

/// A checked upload: stored as `<sha256>.<extension>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upload {
    pub sha256: String,
    pub extension: &'static str,
    /// Upright, in pixels.
    pub width: u32,
    pub height: u32,
    pub bytes: u64,
}

impl Upload {
    pub fn file_name(&self) -> String {
        format!("{}.{}", self.sha256, self.extension)
    }

    /// The url a product's image list names it by.
    pub fn url(&self) -> String {
        format!("/images/{}", self.file_name())
    }
}

/// Why an upload was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("{0} is larger than {max} MiB; export it smaller and try again", max = MAX_IMAGE / (1024 * 1024))]
    TooLarge(String),
    /// Not an image this shop can read, corrupt, or too many pixels.
    #[error("{0}")]
    Unusable(String),
    /// The spool file could not be written or read: the server's problem.
    #[error("the upload could not be kept for checking: {0}")]
    Spool(String),
}

/// An upload's bytes on disk while they are checked; the file goes when
/// this is dropped.
pub struct Spooled {
    file: std::fs::File,
    shown: String,
    sha256: String,
    len: u64,
}

impl Spooled {
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The bytes, read back (to store them).
    pub async fn bytes(&self) -> Result<Vec<u8>, Refused> {
        let mut file = self
            .file
            .try_clone()
            .map_err(|e| Refused::Spool(e.to_string()))?;
        tokio::task::spawn_blocking(move || {
            use std::io::Read as _;
            file.seek(SeekFrom::Start(0))?;
            let mut bytes = Vec::new();
            file.read_to_end(&mut bytes)?;
            Ok(bytes)
        })
        .await
        .map_err(|e| Refused::Spool(e.to_string()))?
        .map_err(|e: std::io::Error| Refused::Spool(e.to_string()))
    }
}

/// How an upload is named in messages.
fn shown(file_name: &str) -> String {
    if file_name.is_empty() {
        "The file".to_owned()
    } else {
        format!("{file_name:?}")
    }
}

/// Copies an upload to an unnamed file in `dir`, hashing as it goes, and
/// stops as soon as it passes [`MAX_IMAGE`].
pub async fn spool(
    mut body: impl AsyncRead + Unpin,
    file_name: &str,
    dir: &Path,
) -> Result<Spooled, Refused> {
    let shown = shown(file_name);
    let spool_error = |e: std::io::Error| Refused::Spool(format!("{}: {e}", dir.display()));
    tokio::fs::create_dir_all(dir).await.map_err(spool_error)?;
    let std_file = tempfile::tempfile_in(dir).map_err(spool_error)?;
    let mut file = tokio::fs::File::from_std(std_file.try_clone().map_err(spool_error)?);
    let mut hasher = Sha256::new();
    let mut len: u64 = 0;
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let n = body.read(&mut buffer).await.map_err(|e| match e.kind() {
            std::io::ErrorKind::FileTooLarge => Refused::TooLarge(shown.clone()),
            _ => Refused::Unusable(format!("{shown} could not be read: {e}")),
        })?;
        if n == 0 {
            break;
        }
        len += n as u64;
        if len > MAX_IMAGE as u64 {
            return Err(Refused::TooLarge(shown));
        }
        hasher.update(&buffer[..n]);
        file.write_all(&buffer[..n]).await.map_err(spool_error)?;
    }
    file.flush().await.map_err(spool_error)?;
    Ok(Spooled {
        file: std_file,
        shown,
        sha256: catalog::hex(&hasher.finalize()),
        len,
    })
}

/// What the bytes are, by their signature.
pub fn sniff(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Some("jpg");
    }
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Some("png");
    }
    if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        return Some("webp");
    }
    None
}

/// An ISO-BMFF image this shop cannot decode yet (AVIF, HEIC), by its brand.
fn unsupported_brand(bytes: &[u8]) -> Option<&'static str> {
    if bytes.len() < 16 || &bytes[4..8] != b"ftyp" {
        return None;
    }
    let size = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as usize;
    let end = size.clamp(16, 4096).min(bytes.len());
    let brands: Vec<&[u8]> = std::iter::once(&bytes[8..12])
        .chain(bytes[16..end].chunks_exact(4))
        .collect();
    if brands.iter().any(|b| matches!(*b, b"avif" | b"avis")) {
        return Some("an AVIF image");
    }
    if brands.iter().any(|b| {
        matches!(
            *b,
            b"heic" | b"heix" | b"hevc" | b"heim" | b"heis" | b"mif1"
        )
    }) {
        return Some("a HEIC image (an iPhone's default)");
    }
    None
}

/// Checks a spooled upload: its type from the bytes, then a whole decode
/// within the photo limits (one at a time). The message says what is wrong
/// and what is accepted.
pub async fn check(spooled: &Spooled) -> Result<Upload, Refused> {
    let shown = spooled.shown.clone();
    if spooled.is_empty() {
        return Err(Refused::Unusable(format!("{shown} is empty")));
    }
    let _turn = DECODING
        .acquire()
        .await
        .map_err(|e| Refused::Spool(e.to_string()))?;
    let bytes = spooled.bytes().await?;
    let head = &bytes[..bytes.len().min(4096)];
    let Some(extension) = sniff(head) else {
        return Err(Refused::Unusable(match unsupported_brand(head) {
            Some(kind) => format!(
                "{shown} is {kind}, which this shop cannot read yet; export it as JPEG \
                 (on an iPhone: Settings › Camera › Formats › Most Compatible) and upload that"
            ),
            None => format!("{shown} is not {ACCEPTED}"),
        }));
    };
    let sha256 = spooled.sha256.clone();
    let len = spooled.len;
    tokio::task::spawn_blocking(move || {
        images::check(&shown, &bytes)
            .map(|(width, height)| Upload {
                sha256,
                extension,
                width,
                height,
                bytes: len,
            })
            .map_err(|e| Refused::Unusable(e.to_string()))
    })
    .await
    .map_err(|e| Refused::Spool(e.to_string()))?
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jpeg(width: u16, height: u16) -> Vec<u8> {
        let mut out = Vec::new();
        let pixels = vec![128u8; width as usize * height as usize * 3];
        image::codecs::jpeg::JpegEncoder::new(&mut out)
            .encode(
                &pixels,
                width.into(),
                height.into(),
                image::ExtendedColorType::Rgb8,
            )
            .unwrap();
        out
    }

    async fn checked(name: &str, bytes: &[u8]) -> Result<Upload, Refused> {
        let dir = tempfile::tempdir().unwrap();
        let spooled = spool(bytes, name, dir.path()).await?;
        check(&spooled).await
    }

    #[test]
    fn types_come_from_the_bytes() {
        assert_eq!(sniff(b"\xFF\xD8\xFF\xE0rest"), Some("jpg"));
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n...."), Some("png"));
        assert_eq!(sniff(b"RIFF\0\0\0\0WEBPVP8 "), Some("webp"));
        assert_eq!(sniff(b"<svg xmlns=...>"), None);
        assert_eq!(sniff(b"GIF89a"), None);
        assert_eq!(
            unsupported_brand(b"\0\0\0\x1cftypavif\0\0\0\0avifmif1miaf"),
            Some("an AVIF image")
        );
        assert!(
            unsupported_brand(b"\0\0\0\x18ftypheic\0\0\0\0mif1heic")
                .unwrap()
                .starts_with("a HEIC")
        );
        assert_eq!(
            unsupported_brand(b"\0\0\0\x18ftypisom\0\0\0\0isomiso2"),
            None,
            "an MP4"
        );
    }

    #[tokio::test]
    async fn uploads_are_decoded_and_addressed_by_content() {
        let good = jpeg(64, 48);
        let upload = checked("x.jpg", &good).await.unwrap();
        assert_eq!(
            (upload.extension, upload.width, upload.height),
            ("jpg", 64, 48)
        );
        assert_eq!(upload.sha256, catalog::hex(&Sha256::digest(&good)));
        assert_eq!(upload.url(), format!("/images/{}.jpg", upload.sha256));

        let err = checked("notes.png", b"hello").await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "\"notes.png\" is not a JPEG, PNG or WebP image"
        );
        let cut = checked("cut.jpg", &good[..good.len() / 2])
            .await
            .unwrap_err();
        assert!(err_has(&cut, "cut short"), "{cut}");
        let heic = checked("IMG_0001.HEIC", b"\0\0\0\x18ftypheic\0\0\0\0mif1heic....")
            .await
            .unwrap_err();
        assert!(err_has(&heic, "Most Compatible"), "{heic}");
    }

    fn err_has(e: &Refused, text: &str) -> bool {
        e.to_string().contains(text)
    }

    #[tokio::test]
    async fn a_file_over_the_limit_is_refused_without_keeping_it() {
        let dir = tempfile::tempdir().unwrap();
        let big = vec![0xFFu8; MAX_IMAGE + 1];
        let err = spool(&big[..], "big.jpg", dir.path()).await.err().unwrap();
        assert_eq!(
            err.to_string(),
            "\"big.jpg\" is larger than 25 MiB; export it smaller and try again"
        );
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
