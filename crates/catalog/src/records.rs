//! What stores hold and writers send, independent of where the products
//! live (PostgreSQL, or the content folder in the embedded default): a stored
//! product, the validated fields of a write, list filters, a checked import,
//! the audit log and the build history.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

use crate::Merchandising;
use crate::types::{CategoryName, Image, Price, ProductName, Slug, Status, StockQuantity};

/// A product row as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub product_id: i64,
    pub slug: String,
    pub name: String,
    pub description: String,
    pub price: Decimal,
    /// In order; the first is the main image (the `image_url` column).
    pub images: Vec<StoredImage>,
    pub category: Option<String>,
    pub stock_quantity: i32,
    pub status: Status,
    pub compare_at_price: Option<Decimal>,
    pub seo_title: Option<String>,
    pub seo_description: Option<String>,
    pub gtin: Option<String>,
    pub mpn: Option<String>,
    pub buy_url: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
}

impl Record {
    /// A merchandising field's value as text (one of
    /// [`crate::Merchandising::FIELDS`]), as a writer would send it:
    /// `None` when unset.
    pub fn merchandising_text(&self, field: &str) -> Option<String> {
        match field {
            "status" => Some(self.status.as_str().to_owned()),
            "compare_at_price" => self.compare_at_price.map(|c| format!("{c:.2}")),
            "seo_title" => self.seo_title.clone(),
            "seo_description" => self.seo_description.clone(),
            "gtin" => self.gtin.clone(),
            "mpn" => self.mpn.clone(),
            "buy_url" => self.buy_url.clone(),
            _ => None,
        }
    }

    /// The main image's url.
    pub fn image_url(&self) -> Option<&str> {
        self.images.first().map(|i| i.url.as_str())
    }
}

/// An image as a store holds it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StoredImage {
    pub url: String,
    #[serde(default)]
    pub alt: String,
}

impl From<&Image> for StoredImage {
    fn from(image: &Image) -> Self {
        Self {
            url: image.url.as_str().to_owned(),
            alt: image.alt.clone(),
        }
    }
}

/// The fields a write sets, every one already valid.
#[derive(Debug, Clone)]
pub struct Fields {
    pub slug: Slug,
    pub name: ProductName,
    pub description: String,
    pub price: Price,
    pub images: Vec<Image>,
    pub category: CategoryName,
    pub stock_quantity: StockQuantity,
    pub merchandising: Merchandising,
}

/// Which products to list.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub category: Option<String>,
    pub in_stock: Option<bool>,
    /// Only products with this status; every status when `None`.
    pub status: Option<Status>,
    /// Matched against the name and the slug, case-insensitively.
    pub text: Option<String>,
    pub sort: Sort,
    pub limit: i64,
    pub offset: i64,
}

/// A list's order; ties go by name, then id.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Sort {
    #[default]
    Name,
    PriceUp,
    PriceDown,
    /// The most recently changed first.
    Updated,
}

/// A write the catalog's rules refuse, whichever store holds the products.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WriteRefused {
    #[error("no product has the id {0}")]
    NotFound(i64),
    #[error(
        "product {id} is at version {current}, not {expected}; reload it and apply the change again"
    )]
    Stale {
        id: i64,
        expected: i64,
        current: i64,
    },
    #[error("another product already has the slug {0:?}")]
    DuplicateSlug(String),
}

/// A CSV import, checked: new products, and changes to existing ones at the
/// version the preview saw.
#[derive(Debug, Clone, Default)]
pub struct ImportPlan {
    pub creates: Vec<Fields>,
    pub updates: Vec<(i64, i64, Fields)>,
}

/// One row of the audit log.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRow {
    pub at: DateTime<Utc>,
    pub actor: String,
    pub product_id: i64,
    /// `insert`, `update` or `delete`.
    pub action: String,
    /// Field → `{"before": .., "after": ..}`.
    pub changes: serde_json::Value,
}

/// A row of `site_builds`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BuildRow {
    pub build_id: i64,
    pub started_at: chrono::DateTime<chrono::Utc>,
    pub finished_at: Option<chrono::DateTime<chrono::Utc>>,
    pub trigger: String,
    pub catalog_version: Option<i64>,
    pub source: Option<String>,
    pub pages_uploaded: Option<i32>,
    pub pages_deleted: Option<i32>,
    pub paths_invalidated: Option<i32>,
    pub duration_ms: Option<i64>,
    pub error: Option<String>,
}

/// How a build ended, for `site_builds`.
#[derive(Debug, Clone, Default)]
pub struct BuildRecord {
    pub catalog_version: Option<i64>,
    /// Where the catalog was read: `replica`, `primary` or `content`.
    pub source: Option<String>,
    pub pages_uploaded: Option<i32>,
    pub pages_deleted: Option<i32>,
    pub paths_invalidated: Option<i32>,
    pub error: Option<String>,
}
