//! Uploaded product images: the type from the bytes (never the file name),
//! the size limit, and the content address.

use sha2::{Digest, Sha256};

/// The largest image accepted.
pub const MAX_IMAGE: usize = 2 * 1024 * 1024;

/// A checked upload: stored as `<sha256>.<extension>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upload {
    pub sha256: String,
    pub extension: &'static str,
}

impl Upload {
    pub fn file_name(&self) -> String {
        format!("{}.{}", self.sha256, self.extension)
    }

    /// The product's `image_url`.
    pub fn url(&self) -> String {
        format!("/images/{}", self.file_name())
    }
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
    // ISO-BMFF: a `ftyp` box whose major or a compatible brand is AVIF.
    if bytes.len() >= 16 && &bytes[4..8] == b"ftyp" {
        let size = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as usize;
        let end = size.clamp(16, 4096).min(bytes.len());
        let brands = std::iter::once(&bytes[8..12]).chain(bytes[16..end].chunks_exact(4));
        if brands.into_iter().any(|b| b == b"avif" || b == b"avis") {
            return Some("avif");
        }
    }
    None
}

/// Checks an upload; the message says what is wrong and what is accepted.
pub fn check(file_name: &str, bytes: &[u8]) -> Result<Upload, String> {
    let shown = if file_name.is_empty() {
        "The file".to_owned()
    } else {
        format!("{file_name:?}")
    };
    if bytes.len() > MAX_IMAGE {
        return Err(format!(
            "{shown} is {} bytes; the limit is 2 MiB ({MAX_IMAGE} bytes)",
            bytes.len()
        ));
    }
    let extension =
        sniff(bytes).ok_or_else(|| format!("{shown} is not a JPEG, PNG, WebP or AVIF image"))?;
    Ok(Upload {
        sha256: catalog::hex(&Sha256::digest(bytes)),
        extension,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_come_from_the_bytes() {
        assert_eq!(sniff(b"\xFF\xD8\xFF\xE0rest"), Some("jpg"));
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n...."), Some("png"));
        assert_eq!(sniff(b"RIFF\0\0\0\0WEBPVP8 "), Some("webp"));
        assert_eq!(
            sniff(b"\0\0\0\x1cftypavif\0\0\0\0avifmif1miaf"),
            Some("avif")
        );
        assert_eq!(sniff(b"\0\0\0\x18ftypmif1\0\0\0\0avifmif1"), Some("avif"));
        assert_eq!(sniff(b"\0\0\0\x18ftypisom\0\0\0\0isomiso2"), None, "an MP4");
        assert_eq!(sniff(b"<svg xmlns=...>"), None);
        assert_eq!(sniff(b"GIF89a"), None);
    }

    #[test]
    fn uploads_are_checked_and_addressed_by_content() {
        let png = b"\x89PNG\r\n\x1a\nbody";
        let upload = check("x.png", png).unwrap();
        assert_eq!(upload.extension, "png");
        assert_eq!(upload.sha256.len(), 64);
        assert_eq!(upload.url(), format!("/images/{}.png", upload.sha256));
        assert_eq!(
            check("notes.png", b"hello").unwrap_err(),
            "\"notes.png\" is not a JPEG, PNG, WebP or AVIF image"
        );
        let mut big = png.to_vec();
        big.resize(MAX_IMAGE + 1, 0);
        assert_eq!(
            check("big.png", &big).unwrap_err(),
            "\"big.png\" is 2097153 bytes; the limit is 2 MiB (2097152 bytes)"
        );
    }
}
