//! Product photos. **The one place for image variants**: which widths and
//! formats a photo becomes, at what quality, and under which object keys.
//!
//! A source (JPEG, PNG or WebP) is decoded within limits (a decompression
//! bomb is refused before any pixel is allocated), turned upright by its EXIF
//! orientation, converted to sRGB by its ICC profile, and re-encoded, which
//! leaves every byte of metadata (EXIF, GPS, XMP) behind. It becomes:
//! - WebP at each of [`WIDTHS`] up to the source's own width (never
//!   upscaled; the source's width itself when it lies between two steps);
//! - the same widths as JPEG, or PNG when the source has transparency, for
//!   browsers without WebP;
//! - a 1200×630 crop for Open Graph ([`OG_SIZE`]);
//! - its average colour, the placeholder shown while it loads.
//!
//! Variant keys carry the source's SHA-256 and [`POLICY`], so equal inputs
//! give equal keys (publish never re-uploads them, CloudFront caches them
//! as immutable), and [`Cache`] keeps them on disk between builds.

use std::collections::BTreeMap;
use std::io::Cursor;
use std::path::{Path, PathBuf};

use fast_image_resize as fr;
use image::{DynamicImage, ImageDecoder, ImageReader};
use rayon::prelude::*;
use sha2::{Digest, Sha256};

mod cache;
mod index;
pub use cache::{Cache, Cached};

/// Widths of the responsive variants, in CSS pixels of a 1× screen (the
/// product page's main image is at most 640 wide, so 1280 and 1920 serve 2×
/// and 3× screens).
pub const WIDTHS: &[u32] = &[320, 640, 960, 1280, 1920];
/// The Open Graph image (Facebook's and LinkedIn's recommended size).
pub const OG_SIZE: (u32, u32) = (1200, 630);
/// WebP and JPEG quality (0–100).
pub const QUALITY: u8 = 80;
/// The most pixels a source may have: a 64 MP photo decodes to 192 MB.
pub const MAX_PIXELS: u64 = 64_000_000;
/// Names the encoding settings above in every key and cache entry; bump it
/// when any of them, or the encoders' use, changes.
pub const POLICY: &str = "v1q80";
/// Where variants live in the site.
pub const VARIANT_PREFIX: &str = "images/v/";

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Webp,
    Jpeg,
    Png,
}

impl Format {
    pub fn extension(self) -> &'static str {
        match self {
            Self::Webp => "webp",
            Self::Jpeg => "jpg",
            Self::Png => "png",
        }
    }

    pub fn mime(self) -> &'static str {
        match self {
            Self::Webp => "image/webp",
            Self::Jpeg => "image/jpeg",
            Self::Png => "image/png",
        }
    }
}

/// One encoded variant.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Variant {
    /// Object key, under [`VARIANT_PREFIX`].
    pub key: String,
    pub width: u32,
    pub height: u32,
    pub format: Format,
}

/// What a source became: its upright size, its placeholder colour, and its
/// variants (each format's in ascending width).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ImageSet {
    /// The source's object key, like `images/desk.jpg`.
    pub source: String,
    pub width: u32,
    pub height: u32,
    /// `#rrggbb`, the source's average colour.
    pub color: String,
    /// The modern format's variants (WebP).
    pub modern: Vec<Variant>,
    /// The fallback's variants (JPEG, or PNG for a source with transparency).
    pub fallback: Vec<Variant>,
    pub og: Variant,
}

impl ImageSet {
    /// `srcset` of one list: `url 320w, url 640w, …`.
    pub fn srcset(variants: &[Variant]) -> String {
        variants
            .iter()
            .map(|v| format!("/{} {}w", v.key, v.width))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The fallback variant closest to `width` from above (or the largest):
    /// the `src` of an `<img>` shown `width` CSS pixels wide.
    pub fn fallback_for(&self, width: u32) -> &Variant {
        self.fallback
            .iter()
            .find(|v| v.width >= width)
            .or(self.fallback.last())
            .expect("every set has a fallback")
    }

    /// Every key the set's variants use.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.modern
            .iter()
            .chain(&self.fallback)
            .chain(std::iter::once(&self.og))
            .map(|v| v.key.as_str())
    }
}

/// A processed source: its set, and the variants' bytes by key.
#[derive(Debug, Clone)]
pub struct Output {
    pub set: ImageSet,
    pub files: Vec<(String, Vec<u8>)>,
}

/// A variant's bytes: in memory (just encoded, or from an entry that does
/// not record its files), or a file of a cache entry, not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Data {
    Memory(Vec<u8>),
    /// A file in the cache, with the size and hex SHA-256 it was written with,
    /// and its inode number then (on Unix), so that a hard link to it is
    /// known by a directory listing alone. Files in the cache are never
    /// written into, so while a link to that inode exists it holds these bytes.
    File {
        path: PathBuf,
        len: u64,
        sha256: String,
        ino: Option<u64>,
    },
}

/// A photo to process.
#[derive(Debug, Clone)]
pub struct Source {
    /// Its object key, like `images/desk.jpg`.
    pub key: String,
    /// Its hex SHA-256, when the origin knows it (an upload's `sha256`):
    /// then it is never hashed here.
    pub digest: Option<String>,
    pub origin: Origin,
}

/// Where a source's bytes are.
#[derive(Debug, Clone)]
pub enum Origin {
    /// A file, read only when the digest index does not know it (by size
    /// and modification time) or the cache has no entry for it.
    Path(PathBuf),
    /// In memory.
    Bytes(Vec<u8>),
    /// Not fetched, because [`Cache::has`] its entry (`digest` must be set).
    /// Should the entry go before it is loaded, the source fails with
    /// [`ImageError::NotFetched`].
    NotFetched,
}

impl Source {
    /// Whether this source has to be fetched before [`process_all`]: its
    /// bytes are [`Origin::NotFetched`] and the cache lacks its digest.
    pub fn must_fetch(&self, cache: Option<&Cache>) -> bool {
        matches!(self.origin, Origin::NotFetched)
            && !self
                .digest
                .as_deref()
                .is_some_and(|d| cache.is_some_and(|c| c.has(d)))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("{key}: cannot read {} ({reason}); check that the file exists and is readable", path.display())]
    Read {
        key: String,
        path: PathBuf,
        reason: String,
    },
    #[error(
        "{key}: its variants left the image cache during the build and its bytes were not fetched; build again"
    )]
    NotFetched { key: String },
    #[error("{key}: not a readable image ({reason}); use a JPEG, PNG or WebP file")]
    Unreadable { key: String, reason: String },
    #[error(
        "{key}: {width}×{height} pixels is more than {max} megapixels; resize it before adding it",
        max = MAX_PIXELS / 1_000_000
    )]
    TooLarge {
        key: String,
        width: u32,
        height: u32,
    },
    #[error("{key}: the image is corrupt or cut short ({reason})")]
    Corrupt { key: String, reason: String },
    #[error("{key}: encoding a variant failed ({reason})")]
    Encode { key: String, reason: String },
}

/// Whether a key names a photo this crate makes variants of (SVG, GIF and
/// the rest are published as they are).
pub fn is_photo(key: &str) -> bool {
    let lower = key.to_ascii_lowercase();
    [".jpg", ".jpeg", ".png", ".webp"]
        .iter()
        .any(|ext| lower.ends_with(ext))
}

/// The hex SHA-256 of a source.
pub fn digest(bytes: &[u8]) -> String {
    catalog::hex(&Sha256::digest(bytes))
}

/// Decodes `bytes` (the source at `key`) and makes every variant.
pub fn process(key: &str, bytes: &[u8]) -> Result<Output, ImageError> {
    process_digested(key, bytes, &digest(bytes))
}

/// `process`, given the source's digest (so it is hashed once).
fn process_digested(key: &str, bytes: &[u8], digest: &str) -> Result<Output, ImageError> {
    let image = decode(key, bytes)?;
    let (width, height) = (image.width(), image.height());
    let alpha = image.color().has_alpha() && has_transparency(&image);
    let pixels = if alpha {
        Pixels::Rgba(image.into_rgba8().into_raw())
    } else {
        Pixels::Rgb(image.into_rgb8().into_raw())
    };
    let stem = stem(key);
    let name = |w: u32, h: u32, ext: &str| {
        format!(
            "{VARIANT_PREFIX}{stem}-{}-{POLICY}-{w}x{h}.{ext}",
            &digest[..16]
        )
    };
    let fallback_format = if alpha { Format::Png } else { Format::Jpeg };
    let mut files = Vec::new();
    let (mut modern, mut fallback) = (Vec::new(), Vec::new());
    // Largest first, each step resized from the one before: every step is a
    // reduction of at most 2×, which Lanczos handles well, and cheaper than
    // resizing the whole source each time.
    let mut previous: Option<(u32, u32, Pixels)> = None;
    for &w in variant_widths(width).iter().rev() {
        let h = scaled_height(width, height, w);
        let resized = match &previous {
            None => resize(key, &pixels, width, height, w, h, false)?,
            Some((pw, ph, p)) => resize(key, p, *pw, *ph, w, h, false)?,
        };
        for format in [Format::Webp, fallback_format] {
            let variant = Variant {
                key: name(w, h, format.extension()),
                width: w,
                height: h,
                format,
            };
            files.push((variant.key.clone(), encode(key, &resized, w, h, format)?));
            if format == Format::Webp {
                modern.push(variant);
            } else {
                fallback.push(variant);
            }
        }
        previous = Some((w, h, resized));
    }
    modern.reverse();
    fallback.reverse();
    let (ow, oh) = OG_SIZE;
    let og_pixels = resize(key, &pixels.without_alpha(), width, height, ow, oh, true)?;
    let og = Variant {
        key: name(ow, oh, "jpg"),
        width: ow,
        height: oh,
        format: Format::Jpeg,
    };
    files.push((
        og.key.clone(),
        encode(key, &og_pixels, ow, oh, Format::Jpeg)?,
    ));
    let color = average_color(key, &pixels, width, height)?;
    Ok(Output {
        set: ImageSet {
            source: key.to_owned(),
            width,
            height,
            color,
            modern,
            fallback,
            og,
        },
        files,
    })
}

/// Decodes a whole image within the limits, as a build would, and returns
/// its upright size: what an upload must pass before it is stored (a corrupt,
/// cut-short or decompression-bomb file is refused here, not at the build).
pub fn check(key: &str, bytes: &[u8]) -> Result<(u32, u32), ImageError> {
    let image = decode(key, bytes)?;
    Ok((image.width(), image.height()))
}

/// The widths a source of `width` pixels gets: every step below it, and its
/// own width when it is not a step (so the largest variant is the source's
/// full resolution, never more).
pub fn variant_widths(width: u32) -> Vec<u32> {
    let mut widths: Vec<u32> = WIDTHS.iter().copied().filter(|&w| w < width).collect();
    let largest = WIDTHS.last().copied().unwrap_or(width);
    widths.push(width.min(largest));
    widths.dedup();
    widths
}

fn scaled_height(width: u32, height: u32, to: u32) -> u32 {
    let h = (u64::from(height) * u64::from(to) + u64::from(width) / 2) / u64::from(width);
    u32::try_from(h.max(1)).unwrap_or(u32::MAX)
}

/// A variant's object key: the source's name (for people), its digest and
/// the policy (so equal inputs give equal keys), and the size.
fn variant_key(source: &str, digest: &str, width: u32, height: u32, ext: &str) -> String {
    format!(
        "{VARIANT_PREFIX}{}-{}-{POLICY}-{width}x{height}.{ext}",
        stem(source),
        &digest[..16]
    )
}

fn stem(key: &str) -> String {
    let file = key.rsplit('/').next().unwrap_or(key);
    let stem = file.rsplit_once('.').map_or(file, |(s, _)| s);
    let clean: String = stem
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let clean = clean.trim_matches('-');
    if clean.is_empty() {
        "image".into()
    } else {
        clean.chars().take(80).collect()
    }
}

/// Decodes within limits, upright, in sRGB.
fn decode(key: &str, bytes: &[u8]) -> Result<DynamicImage, ImageError> {
    let unreadable = |reason: String| ImageError::Unreadable {
        key: key.to_owned(),
        reason,
    };
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| unreadable(e.to_string()))?;
    let Some(format) = reader.format() else {
        return Err(unreadable("its format is not recognised".into()));
    };
    // The JPEG decoder fills a cut-short file with grey rather than fail:
    // a whole JPEG ends with the end-of-image marker.
    if format == image::ImageFormat::Jpeg {
        let end = bytes.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
        if !bytes[..end].ends_with(&[0xFF, 0xD9]) {
            return Err(ImageError::Corrupt {
                key: key.to_owned(),
                reason: "it has no end-of-image marker: the file was cut short".into(),
            });
        }
    }
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(MAX_PIXELS * 8);
    reader.limits(limits);
    let mut decoder = reader
        .into_decoder()
        .map_err(|e| unreadable(e.to_string()))?;
    let (width, height) = decoder.dimensions();
    if u64::from(width) * u64::from(height) > MAX_PIXELS {
        return Err(ImageError::TooLarge {
            key: key.to_owned(),
            width,
            height,
        });
    }
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let icc = decoder.icc_profile().ok().flatten();
    let mut image = DynamicImage::from_decoder(decoder).map_err(|e| match e {
        image::ImageError::Limits(_) => ImageError::TooLarge {
            key: key.to_owned(),
            width,
            height,
        },
        other => ImageError::Corrupt {
            key: key.to_owned(),
            reason: other.to_string(),
        },
    })?;
    image.apply_orientation(orientation);
    if let Some(icc) = icc {
        image = to_srgb(image, &icc);
    }
    Ok(image)
}

/// Converts by the source's ICC profile (Display P3 from a phone, Adobe
/// RGB from a camera); an sRGB profile, or one qcms cannot read, leaves the
/// pixels as they are.
fn to_srgb(image: DynamicImage, icc: &[u8]) -> DynamicImage {
    let Some(profile) = qcms::Profile::new_from_slice(icc, false) else {
        return image;
    };
    let srgb = qcms::Profile::new_sRGB();
    let alpha = image.color().has_alpha();
    let ty = if alpha {
        qcms::DataType::RGBA8
    } else {
        qcms::DataType::RGB8
    };
    let Some(transform) = qcms::Transform::new(&profile, &srgb, ty, qcms::Intent::Perceptual)
    else {
        return image;
    };
    if alpha {
        let mut rgba = image.into_rgba8();
        transform.apply(&mut rgba);
        DynamicImage::ImageRgba8(rgba)
    } else {
        let mut rgb = image.into_rgb8();
        transform.apply(&mut rgb);
        DynamicImage::ImageRgb8(rgb)
    }
}

fn has_transparency(image: &DynamicImage) -> bool {
    match image {
        DynamicImage::ImageRgba8(p) => p.pixels().any(|p| p.0[3] < 255),
        DynamicImage::ImageLumaA8(p) => p.pixels().any(|p| p.0[1] < 255),
        DynamicImage::ImageRgba16(p) => p.pixels().any(|p| p.0[3] < u16::MAX),
        DynamicImage::ImageLumaA16(p) => p.pixels().any(|p| p.0[1] < u16::MAX),
        other => other.color().has_alpha(),
    }
}

enum Pixels {
    Rgb(Vec<u8>),
    Rgba(Vec<u8>),
}

impl Pixels {
    fn bytes(&self) -> &[u8] {
        match self {
            Self::Rgb(b) | Self::Rgba(b) => b,
        }
    }

    fn pixel_type(&self) -> fr::PixelType {
        match self {
            Self::Rgb(_) => fr::PixelType::U8x3,
            Self::Rgba(_) => fr::PixelType::U8x4,
        }
    }

    /// The Open Graph image is a JPEG: transparency over white.
    fn without_alpha(&self) -> Pixels {
        match self {
            Self::Rgb(b) => Self::Rgb(b.clone()),
            Self::Rgba(b) => Self::Rgb(
                b.chunks_exact(4)
                    .flat_map(|p| {
                        let a = u16::from(p[3]);
                        let over = |c: u8| ((u16::from(c) * a + 255 * (255 - a)) / 255) as u8;
                        [over(p[0]), over(p[1]), over(p[2])]
                    })
                    .collect(),
            ),
        }
    }

    fn with(&self, bytes: Vec<u8>) -> Pixels {
        match self {
            Self::Rgb(_) => Self::Rgb(bytes),
            Self::Rgba(_) => Self::Rgba(bytes),
        }
    }
}

/// Lanczos3 resize; `crop` fills the box (centre crop) instead of keeping
/// the aspect ratio.
fn resize(
    key: &str,
    src: &Pixels,
    width: u32,
    height: u32,
    to_width: u32,
    to_height: u32,
    crop: bool,
) -> Result<Pixels, ImageError> {
    let failed = |e: &dyn std::fmt::Display| ImageError::Encode {
        key: key.to_owned(),
        reason: format!("resizing to {to_width}×{to_height}: {e}"),
    };
    let source = fr::images::ImageRef::new(width, height, src.bytes(), src.pixel_type())
        .map_err(|e| failed(&e))?;
    let mut target = fr::images::Image::new(to_width, to_height, src.pixel_type());
    let mut options =
        fr::ResizeOptions::new().resize_alg(fr::ResizeAlg::Convolution(fr::FilterType::Lanczos3));
    if crop {
        options = options.fit_into_destination(None);
    }
    fr::Resizer::new()
        .resize(&source, &mut target, &options)
        .map_err(|e| failed(&e))?;
    Ok(src.with(target.into_vec()))
}

fn encode(
    key: &str,
    pixels: &Pixels,
    width: u32,
    height: u32,
    format: Format,
) -> Result<Vec<u8>, ImageError> {
    let failed = |e: &dyn std::fmt::Display| ImageError::Encode {
        key: key.to_owned(),
        reason: format!("{} {width}×{height}: {e}", format.extension()),
    };
    match format {
        Format::Webp => {
            let encoder = match pixels {
                Pixels::Rgb(b) => webp::Encoder::from_rgb(b, width, height),
                Pixels::Rgba(b) => webp::Encoder::from_rgba(b, width, height),
            };
            Ok(encoder.encode(f32::from(QUALITY)).to_vec())
        }
        Format::Jpeg => {
            let mut out = Vec::new();
            let rgb = match pixels {
                Pixels::Rgb(b) => std::borrow::Cow::Borrowed(b),
                other => std::borrow::Cow::Owned(other.without_alpha().bytes().to_vec()),
            };
            image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, QUALITY)
                .encode(&rgb, width, height, image::ExtendedColorType::Rgb8)
                .map_err(|e| failed(&e))?;
            Ok(out)
        }
        Format::Png => {
            let mut out = Vec::new();
            let (bytes, color) = match pixels {
                Pixels::Rgb(b) => (b, image::ExtendedColorType::Rgb8),
                Pixels::Rgba(b) => (b, image::ExtendedColorType::Rgba8),
            };
            image::ImageEncoder::write_image(
                image::codecs::png::PngEncoder::new_with_quality(
                    &mut out,
                    image::codecs::png::CompressionType::Fast,
                    image::codecs::png::FilterType::Adaptive,
                ),
                bytes,
                width,
                height,
                color,
            )
            .map_err(|e| failed(&e))?;
            Ok(out)
        }
    }
}

/// The average colour, from a 1×1 box-filtered reduction.
fn average_color(
    key: &str,
    pixels: &Pixels,
    width: u32,
    height: u32,
) -> Result<String, ImageError> {
    let one = resize(key, &pixels.without_alpha(), width, height, 1, 1, false)?;
    let p = one.bytes();
    Ok(format!("#{:02x}{:02x}{:02x}", p[0], p[1], p[2]))
}

/// Every photo of a site, processed.
#[derive(Debug, Default)]
pub struct Processed {
    /// By source key.
    pub sets: BTreeMap<String, ImageSet>,
    /// The variants' data, by key.
    pub files: BTreeMap<String, Data>,
    /// How many sources were encoded, and how many came from the cache.
    pub encoded: usize,
    pub cached: usize,
}

/// What became of one source.
struct Done {
    set: ImageSet,
    files: Vec<(String, Data)>,
    cached: bool,
    /// A source file's new entry for the digest index.
    stamp: Option<(PathBuf, index::Stamp)>,
}

/// Processes every source (each a photo, see [`is_photo`]), in parallel,
/// through `cache` when given. A source file whose size and modification
/// time the cache's digest index knows is not read unless its entry is
/// missing; a source whose digest is given is never hashed. All problems are
/// reported at once.
pub fn process_all(
    sources: Vec<Source>,
    cache: Option<&Cache>,
) -> Result<Processed, Vec<ImageError>> {
    process_all_reporting(sources, cache, &|| {})
}

/// [`process_all`], calling `done` as each source is finished (for a
/// progress bar).
pub fn process_all_reporting(
    sources: Vec<Source>,
    cache: Option<&Cache>,
    done: &(dyn Fn() + Sync),
) -> Result<Processed, Vec<ImageError>> {
    let index = cache.map(|c| index::Index::load(c.dir()));
    let results: Vec<Result<Done, ImageError>> = sources
        .into_par_iter()
        .map(|source| {
            let result = process_one(source, cache, index.as_ref());
            done();
            result
        })
        .collect();
    let mut processed = Processed::default();
    let mut errors = Vec::new();
    let mut stamps = Vec::new();
    for result in results {
        match result {
            Ok(done) => {
                if done.cached {
                    processed.cached += 1;
                } else {
                    processed.encoded += 1;
                }
                stamps.extend(done.stamp);
                processed.files.extend(done.files);
                processed.sets.insert(done.set.source.clone(), done.set);
            }
            Err(e) => errors.push(e),
        }
    }
    if let (Some(cache), Some(mut index)) = (cache, index)
        && !stamps.is_empty()
    {
        for (path, stamp) in stamps {
            index.insert(path, stamp);
        }
        if let Err(e) = index.save(cache.dir()) {
            tracing::warn!(
                "could not write the image cache's index in {}: {e}; the next build hashes the photos again",
                cache.dir().display()
            );
        }
    }
    if errors.is_empty() {
        Ok(processed)
    } else {
        Err(errors)
    }
}

fn process_one(
    source: Source,
    cache: Option<&Cache>,
    index: Option<&index::Index>,
) -> Result<Done, ImageError> {
    let Source {
        key,
        digest,
        origin,
    } = source;
    let read_error = |path: &Path, e: std::io::Error| ImageError::Read {
        key: key.clone(),
        path: path.to_owned(),
        reason: e.to_string(),
    };
    // The digest without reading, when it is given or the index knows it.
    let (known, file) = match &origin {
        Origin::Path(path) => {
            let path = std::path::absolute(path).map_err(|e| read_error(path, e))?;
            let meta = std::fs::metadata(&path).map_err(|e| read_error(&path, e))?;
            let indexed = index
                .and_then(|i| i.get(&path))
                .filter(|stamp| stamp.matches(&meta))
                .map(|stamp| stamp.sha256.clone());
            (digest.or(indexed), Some((path, meta)))
        }
        Origin::Bytes(bytes) => (digest.or_else(|| Some(self::digest(bytes))), None),
        Origin::NotFetched => (digest, None),
    };
    if let (Some(digest), Some(cache)) = (&known, cache)
        && let Some(found) = cache.load(&key, digest)
    {
        return Ok(Done {
            set: found.set,
            files: found.files,
            cached: true,
            stamp: None,
        });
    }
    // A miss: the bytes are needed. A file read now is hashed again (cheap
    // beside encoding it), so a stale index entry cannot name its variants.
    let (bytes, digest, stamp) = match (origin, file) {
        (Origin::Path(_), Some((path, meta))) => {
            let bytes = std::fs::read(&path).map_err(|e| read_error(&path, e))?;
            let digest = self::digest(&bytes);
            let stamp = index::Stamp::of(&meta, digest.clone()).map(|s| (path, s));
            (bytes, digest, stamp)
        }
        (Origin::Bytes(bytes), _) => match &known {
            Some(digest) => (bytes, digest.clone(), None),
            None => {
                let digest = self::digest(&bytes);
                (bytes, digest, None)
            }
        },
        _ => return Err(ImageError::NotFetched { key }),
    };
    // Hashed just now: the cache may have it after all.
    if known.as_deref() != Some(&digest)
        && let Some(found) = cache.and_then(|c| c.load(&key, &digest))
    {
        return Ok(Done {
            set: found.set,
            files: found.files,
            cached: true,
            stamp,
        });
    }
    let output = process_digested(&key, &bytes, &digest)?;
    drop(bytes);
    let files = match cache {
        Some(cache) => match cache.store(&digest, &output) {
            // The variants as files of the entry, like a later build's.
            Ok(()) => cache.load(&key, &digest).map(|c| c.files),
            Err(e) => {
                tracing::warn!("could not keep {key}'s variants in the image cache: {e}");
                None
            }
        },
        None => None,
    };
    let files = files.unwrap_or_else(|| {
        output
            .files
            .into_iter()
            .map(|(k, b)| (k, Data::Memory(b)))
            .collect()
    });
    Ok(Done {
        set: output.set,
        files,
        cached: false,
        stamp,
    })
}

/// The default cache folder: `.shopfront/image-cache` beside the content
/// folder, or `SHOPFRONT_IMAGE_CACHE`.
pub fn default_cache_dir(content_dir: &Path) -> PathBuf {
    match std::env::var_os("SHOPFRONT_IMAGE_CACHE") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => content_dir
            .parent()
            .unwrap_or_else(|| Path::new("."))
            .join(".shopfront/image-cache"),
    }
}

#[cfg(test)]
mod tests;
