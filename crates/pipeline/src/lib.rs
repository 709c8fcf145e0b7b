//! The build as plain steps: load the catalog → load the theme → render the
//! site. Each step is timed. Writing the site somewhere is the caller's job.
//!
//! ```text
//! source (content/ or PostgreSQL) → Catalog → photos' variants (images, cached)
//!        → render (Tera, in parallel) → Site → publish
//! ```
//!
//! ```no_run
//! use pipeline::{BuildConfig, build_from_content};
//! let config = BuildConfig {
//!     content_dir: "content".into(),
//!     themes_dir: "themes".into(),
//!     generated_at: None,
//!     progress: false,
//!     image_cache: Some(".shopfront/image-cache".into()),
//! };
//! let built = build_from_content(&config)?;
//! publish::dir::write_site(&built.site, "public".as_ref())?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod rebuild;
pub mod settings;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use indicatif::ProgressBar;

use catalog::Catalog;
use content::{self, ContentError, ContentErrors};
use render::site::{Body, Site};
use render::{self, RenderError, RenderOptions, Theme, ThemeError, ThemeLocation};

/// Where a build reads its products from when not from the content folder:
/// PostgreSQL by the rebuild protocol.
#[cfg(feature = "postgres")]
pub use store::source::PgSource as Database;

/// Built without PostgreSQL support, no database can be given: the build
/// reads the content folder.
#[cfg(not(feature = "postgres"))]
#[derive(Debug, Clone)]
pub enum Database {}

/// What a build from a content folder needs.
#[derive(Debug, Clone)]
pub struct BuildConfig {
    /// The content folder: `site.toml`, `products/`, `images/`, `templates/`.
    pub content_dir: PathBuf,
    /// The folder holding theme folders; the default theme is embedded if it is absent.
    pub themes_dir: PathBuf,
    /// The `generated_at` of `products.json`; when the catalog last changed
    /// if unset.
    pub generated_at: Option<DateTime<Utc>>,
    /// Show progress bars (photos, and the render of a large catalog).
    pub progress: bool,
    /// Where photos' variants are kept between builds; `None` encodes every
    /// photo on every build.
    pub image_cache: Option<PathBuf>,
}

/// Every photo that could not be processed, one per line.
#[derive(Debug, thiserror::Error)]
#[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
pub struct PhotoErrors(pub Vec<images::ImageError>);

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Content(#[from] ContentErrors),
    #[error(transparent)]
    Images(#[from] ContentError),
    #[error(transparent)]
    Photos(#[from] PhotoErrors),
    #[error(transparent)]
    Theme(#[from] ThemeError),
    #[error(transparent)]
    Render(#[from] RenderError),
    #[cfg(feature = "postgres")]
    #[error(transparent)]
    Postgres(#[from] store::source::PgSourceError),
}

/// A rendered site and what it took.
#[derive(Debug)]
pub struct Built {
    pub site: Site,
    pub catalog: Catalog,
    pub load_time: Duration,
    pub render_time: Duration,
}

impl BuildConfig {
    pub fn theme_location(&self, catalog: &Catalog) -> ThemeLocation {
        let overrides = self.content_dir.join("templates");
        ThemeLocation {
            themes_dir: self.themes_dir.clone(),
            name: catalog.settings.theme.clone(),
            overrides: overrides.is_dir().then_some(overrides),
        }
    }
}

/// Builds the site from a content folder, in memory.
pub fn build_from_content(config: &BuildConfig) -> Result<Built, BuildError> {
    let started = Instant::now();
    let catalog = content::load(&config.content_dir)?;
    let (files, photos) = content_images(config, &catalog)?;
    render_loaded(
        config,
        catalog,
        files,
        photos.into_values().collect(),
        started,
    )
}

/// The images products show, as object keys like `images/desk.jpg` (their
/// URLs without the leading `/`). Only these photos are processed and
/// published.
pub fn referenced_images(catalog: &Catalog) -> BTreeSet<String> {
    catalog
        .products
        .iter()
        .flat_map(|p| &p.images)
        .filter_map(|i| i.url.as_str().strip_prefix('/'))
        .map(str::to_owned)
        .collect()
}

/// The keys of the images only drafts and archived products show: not
/// published, so a product's photos stay private until it launches.
pub fn unlisted_images(catalog: &Catalog) -> BTreeSet<String> {
    let shown = referenced_images(catalog);
    catalog
        .unlisted
        .iter()
        .flat_map(|p| &p.images)
        .filter_map(|i| i.url.as_str().strip_prefix('/'))
        .filter(|key| !shown.contains(*key))
        .map(str::to_owned)
        .collect()
}

/// The content folder's `images/`: the files published as they are (read),
/// and the photos products show (by key, not read: [`images::process_all`]
/// opens a file only when its digest or variants are not in the cache).
/// Neither holds an image that only unlisted products show.
fn content_images(
    config: &BuildConfig,
    catalog: &Catalog,
) -> Result<(render::StaticFiles, BTreeMap<String, images::Source>), BuildError> {
    let found = content::load_images(&config.content_dir, images::is_photo)?;
    let referenced = referenced_images(catalog);
    let unlisted = unlisted_images(catalog);
    let files = found
        .files
        .into_iter()
        .filter(|(key, _)| !unlisted.contains(key))
        .map(|(key, bytes)| (key, Body::from(bytes)))
        .collect();
    let photos = found
        .listed
        .into_iter()
        .filter(|(key, _)| referenced.contains(key))
        .map(|(key, path)| {
            let source = images::Source {
                key: key.clone(),
                digest: None,
                origin: images::Origin::Path(path),
            };
            (key, source)
        })
        .collect();
    Ok((files, photos))
}

fn image_cache(config: &BuildConfig) -> Option<images::Cache> {
    config.image_cache.as_ref().map(images::Cache::new)
}

/// The steps after loading, whatever the source: the photos' variants, the
/// theme, the render.
fn render_loaded(
    config: &BuildConfig,
    catalog: Catalog,
    mut files: render::StaticFiles,
    photos: Vec<images::Source>,
    started: Instant,
) -> Result<Built, BuildError> {
    let load_time = started.elapsed();
    tracing::debug!(
        products = catalog.products.len(),
        ?load_time,
        "catalog loaded"
    );
    // Photos become their variants; the sources themselves (with their
    // EXIF and GPS) are never published.
    let cache = image_cache(config);
    let photos_started = Instant::now();
    // Encoding a shop's photos takes a while: a bar on a terminal.
    let bar = if config.progress && !photos.is_empty() {
        ProgressBar::new(photos.len() as u64)
            .with_message("photos")
            .with_style(
                indicatif::ProgressStyle::with_template("{msg} {bar:40} {pos}/{len} ({eta} left)")
                    .expect("valid template"),
            )
    } else {
        ProgressBar::hidden()
    };
    let photos = images::process_all_reporting(photos, cache.as_ref(), &|| bar.inc(1));
    bar.finish_and_clear();
    let photos = photos.map_err(PhotoErrors)?;
    if photos.encoded + photos.cached > 0 {
        let photo_time = photos_started.elapsed();
        tracing::info!(
            encoded = photos.encoded,
            from_cache = photos.cached,
            ?photo_time,
            "photos: {} encoded, {} from the cache",
            photos.encoded,
            photos.cached
        );
    }
    files.extend(
        photos
            .files
            .into_iter()
            .map(|(key, data)| (key, Body::from(data))),
    );
    let theme = Theme::load(&config.theme_location(&catalog))?;
    let site = render_catalog(&catalog, &theme, &files, &photos.sets, config)?;
    let render_time = started.elapsed() - load_time;
    tracing::debug!(objects = site.len(), ?render_time, "site rendered");
    Ok(Built {
        site,
        catalog,
        load_time,
        render_time,
    })
}

#[cfg(feature = "postgres")]
/// Builds the site from PostgreSQL by the rebuild protocol: products from the
/// replica (or the primary, when the replica is behind or down); `site.toml`,
/// images and template overrides from the content folder. Uploaded photos
/// are read from the database only when the image cache lacks their
/// variants (their digest is the row's key, so they are never hashed). The
/// render runs on the calling thread (and rayon's).
pub async fn build_from_postgres(
    config: &BuildConfig,
    source: &store::source::PgSource,
) -> Result<(Built, store::source::ReadFrom, i64), BuildError> {
    let started = Instant::now();
    let settings =
        content::load_settings(&config.content_dir.join("site.toml")).map_err(ContentErrors)?;
    let loaded = store::source::load(source, settings).await?;
    let (mut files, mut photos) = content_images(config, &loaded.catalog)?;
    let referenced = referenced_images(&loaded.catalog);
    let cache = image_cache(config);
    // Uploads other than photos (AVIF) are published as they are.
    let mut as_is = Vec::new();
    for upload in loaded.uploads {
        let key = format!("images/{}", upload.file());
        if !referenced.contains(&key) {
            continue;
        }
        files.remove(&key);
        photos.remove(&key);
        if images::is_photo(&key) {
            let source = images::Source {
                key: key.clone(),
                digest: Some(upload.sha256),
                origin: images::Origin::NotFetched,
            };
            photos.insert(key, source);
        } else {
            as_is.push((key, upload.sha256));
        }
    }
    let wanted: Vec<String> = photos
        .values()
        .filter(|p| p.must_fetch(cache.as_ref()))
        .filter_map(|p| p.digest.clone())
        .chain(as_is.iter().map(|(_, sha256)| sha256.clone()))
        .collect();
    if !wanted.is_empty() {
        tracing::debug!(uploads = wanted.len(), "reading uploaded images' bytes");
    }
    let mut bytes = store::source::fetch_images(source, &loaded.from, &wanted).await?;
    for photo in photos.values_mut() {
        if let Some(b) = photo.digest.as_ref().and_then(|d| bytes.remove(d)) {
            photo.origin = images::Origin::Bytes(b);
        }
    }
    for (key, sha256) in as_is {
        if let Some(b) = bytes.remove(&sha256) {
            files.insert(key, Body::from(b));
        }
    }
    let built = render_loaded(
        config,
        loaded.catalog,
        files,
        photos.into_values().collect(),
        started,
    )?;
    Ok((built, loaded.from, loaded.version))
}

/// Renders a loaded catalog (the step every source shares).
pub fn render_catalog(
    catalog: &Catalog,
    theme: &Theme,
    files: &render::StaticFiles,
    photos: &render::Photos,
    config: &BuildConfig,
) -> Result<Site, RenderError> {
    let progress = if config.progress && catalog.products.len() >= 1000 {
        ProgressBar::new(0).with_message("rendering").with_style(
            indicatif::ProgressStyle::with_template("{msg} {bar:40} {pos}/{len} pages")
                .expect("valid template"),
        )
    } else {
        ProgressBar::hidden()
    };
    let options = RenderOptions {
        generated_at: config
            .generated_at
            .unwrap_or_else(|| catalog.last_changed()),
        progress,
    };
    render::render(catalog, theme, files, photos, &options)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_only_unlisted_products_show_are_withheld() {
        let mut catalog = content::load(std::path::Path::new("../../content")).unwrap();
        assert!(unlisted_images(&catalog).is_empty());
        let mut draft = catalog.products.remove(0);
        draft.merchandising.status = catalog::Status::Draft;
        let own = draft.images[0].url.as_str()[1..].to_owned();
        let mut shared = draft.clone();
        catalog.unlisted.push(draft);
        assert_eq!(
            unlisted_images(&catalog).into_iter().collect::<Vec<_>>(),
            [own]
        );
        // An image an active product shows too is published.
        shared.merchandising.status = catalog::Status::Active;
        catalog.products.push(shared);
        assert!(unlisted_images(&catalog).is_empty());
    }

    #[test]
    fn referenced_images_are_the_keys_of_the_urls_products_show() {
        // Cargo runs unit tests in the crate's folder.
        let catalog = content::load(std::path::Path::new("../../content")).unwrap();
        let keys = referenced_images(&catalog);
        let urls: BTreeSet<&str> = catalog
            .products
            .iter()
            .flat_map(|p| &p.images)
            .map(|i| i.url.as_str())
            .filter(|u| u.starts_with('/'))
            .collect();
        assert!(!urls.is_empty());
        assert_eq!(keys.len(), urls.len());
        for url in urls {
            assert!(keys.contains(&url[1..]), "{url}");
        }
        assert!(keys.iter().all(|k| k.starts_with("images/")), "{keys:?}");
    }
}
