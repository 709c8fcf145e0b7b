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

use std::path::PathBuf;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use indicatif::ProgressBar;

use catalog::Catalog;
use content::{self, ContentError, ContentErrors};
use render::site::Site;
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
    /// Show a progress bar for the render step.
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
    render_loaded(config, catalog, Vec::new(), started)
}

/// The steps after loading, whatever the source: the content folder's
/// images, the theme, the render.
fn render_loaded(
    config: &BuildConfig,
    catalog: Catalog,
    uploaded: Vec<(String, Vec<u8>)>,
    started: Instant,
) -> Result<Built, BuildError> {
    let mut images = content::load_images(&config.content_dir)?;
    images.extend(
        uploaded
            .into_iter()
            .map(|(name, bytes)| (format!("images/{name}"), bytes)),
    );
    let load_time = started.elapsed();
    tracing::debug!(
        products = catalog.products.len(),
        ?load_time,
        "catalog loaded"
    );
    // Photos become their variants; the sources themselves (with their
    // EXIF and GPS) are never published.
    let cache = config.image_cache.as_ref().map(images::Cache::new);
    let photos = images::process_all(&images, cache.as_ref()).map_err(PhotoErrors)?;
    if photos.encoded + photos.cached > 0 {
        tracing::info!(
            encoded = photos.encoded,
            from_cache = photos.cached,
            "photos: {} encoded, {} from the cache",
            photos.encoded,
            photos.cached
        );
    }
    images.retain(|key, _| !images::is_photo(key));
    images.extend(photos.files);
    let theme = Theme::load(&config.theme_location(&catalog))?;
    let site = render_catalog(&catalog, &theme, &images, &photos.sets, config)?;
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
/// images and template overrides from the content folder. The render runs on
/// the calling thread (and rayon's).
pub async fn build_from_postgres(
    config: &BuildConfig,
    source: &store::source::PgSource,
) -> Result<(Built, store::source::ReadFrom, i64), BuildError> {
    let started = Instant::now();
    let settings =
        content::load_settings(&config.content_dir.join("site.toml")).map_err(ContentErrors)?;
    let loaded = store::source::load(source, settings).await?;
    let built = render_loaded(config, loaded.catalog, loaded.images, started)?;
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
