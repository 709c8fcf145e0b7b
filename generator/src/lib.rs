//! # generator
//!
//! Renders the Shopfront storefront from a catalog and publishes it. The data
//! flows one way:
//!
//! ```text
//! source (content/ or PostgreSQL) → Catalog → render (Tera, in parallel) → Site → publish
//! ```
//!
//! ```no_run
//! use generator::pipeline::{BuildConfig, build_from_content};
//! let config = BuildConfig {
//!     content_dir: "content".into(),
//!     themes_dir: "themes".into(),
//!     generated_at: None,
//!     progress: false,
//! };
//! let built = build_from_content(&config)?;
//! generator::publish::dir::write_site(&built.site, "public".as_ref())?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod catalog;
pub mod cli;
pub mod db;
pub mod pipeline;
pub mod publish;
pub mod rebuild;
pub mod render;
pub mod serve;
pub mod site;
pub mod source;
pub mod urls;
