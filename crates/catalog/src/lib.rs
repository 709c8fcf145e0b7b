//! The catalog model: one `Product` type and one `Catalog` type, whatever the
//! source (the `content/` folder or PostgreSQL). Everything downstream (render,
//! site, publish) sees only these types.

pub mod draft;
pub mod records;
pub mod types;

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;

use chrono::{DateTime, SecondsFormat, Utc};
use sha2::{Digest, Sha256};

pub use types::{
    CategoryName, CurrencyCode, Image, ImageUrl, Invalid, Price, ProductId, ProductName, Slug,
    StockQuantity,
};

/// Longest Markdown description accepted, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 20_000;

/// Checks a Markdown description's length.
pub fn check_description(text: &str) -> Result<(), Invalid> {
    if text.contains('\0') {
        return Err(Invalid {
            problem: "contains a NUL character".into(),
            expected: "Markdown text without NUL characters",
        });
    }
    let len = text.chars().count();
    if len > MAX_DESCRIPTION_CHARS {
        return Err(Invalid {
            problem: format!("is {len} characters long"),
            expected: "a Markdown description of at most 20000 characters",
        });
    }
    Ok(())
}

/// One product, as validated. The fields are the database columns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Product {
    pub id: ProductId,
    pub slug: Slug,
    pub name: ProductName,
    /// Markdown, rendered and sanitized at build time.
    pub description: String,
    pub price: Price,
    /// In the owner's order; the first is the product's main image (the
    /// database's `image_url`).
    pub images: Vec<Image>,
    pub category: CategoryName,
    pub stock_quantity: StockQuantity,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Product {
    pub fn in_stock(&self) -> bool {
        self.stock_quantity.get() > 0
    }

    /// The main image's url: the first image's.
    pub fn image_url(&self) -> Option<&ImageUrl> {
        self.images.first().map(|i| &i.url)
    }
}

/// The shop-wide settings from `site.toml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteSettings {
    pub title: String,
    pub tagline: Option<String>,
    pub description: String,
    /// Absolute `http(s)://` origin, without a trailing slash.
    pub base_url: String,
    pub currency: CurrencyCode,
    /// A BCP 47 tag such as `en-IE`; it picks the number format and `<html lang>`.
    pub locale: String,
    pub theme: String,
    pub products_per_page: usize,
}

/// Where a product came from, so that errors can point at it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    File(PathBuf),
    Row(ProductId),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::File(path) => write!(f, "{}", path.display()),
            Origin::Row(id) => write!(f, "product_id {id}"),
        }
    }
}

/// A category, derived from the products that name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Category {
    pub name: CategoryName,
    pub slug: Slug,
    /// Indexes into [`Catalog::products`], in catalog order.
    pub products: Vec<usize>,
}

/// Rules that only hold across products.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CatalogError {
    #[error(
        "duplicate slug {slug:?}: {first} and {second} both use it; give one of them another slug"
    )]
    DuplicateSlug {
        slug: String,
        first: Origin,
        second: Origin,
    },
    #[error("duplicate id {id}: {first} and {second} both use it; give one of them another id")]
    DuplicateId {
        id: ProductId,
        first: Origin,
        second: Origin,
    },
    #[error(
        "categories {first_name:?} ({first}) and {second_name:?} ({second}) both map to the URL /categories/{slug}/; spell them the same way or rename one"
    )]
    CategoryCollision {
        slug: String,
        first_name: String,
        first: Origin,
        second_name: String,
        second: Origin,
    },
}

/// Every error found, not just the first, so a user can fix them in one pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogErrors(pub Vec<CatalogError>);

impl fmt::Display for CatalogErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for CatalogErrors {}

/// The whole shop at one moment: settings, products in display order and categories.
#[derive(Debug, Clone)]
pub struct Catalog {
    pub settings: SiteSettings,
    /// Sorted by name (case-insensitively), then id: the order of every listing.
    pub products: Vec<Product>,
    /// Sorted by name.
    pub categories: Vec<Category>,
    /// Digest of everything that is rendered: equal catalogs have equal versions,
    /// whichever source they came from.
    pub version: String,
}

impl Catalog {
    /// When the catalog last changed: its latest `updated_at` (the epoch for
    /// an empty catalog). The default `generated_at` of products.json, so an
    /// unchanged catalog renders to the same bytes.
    pub fn last_changed(&self) -> DateTime<Utc> {
        self.products
            .iter()
            .map(|p| p.updated_at)
            .max()
            .unwrap_or(DateTime::UNIX_EPOCH)
    }

    /// Checks the rules that span products and orders everything for rendering.
    pub fn assemble(
        settings: SiteSettings,
        sourced: Vec<(Product, Origin)>,
    ) -> Result<Self, CatalogErrors> {
        let mut errors = Vec::new();
        let mut slugs: HashMap<&Slug, &Origin> = HashMap::with_capacity(sourced.len());
        let mut ids: HashMap<ProductId, &Origin> = HashMap::with_capacity(sourced.len());
        let mut category_names: HashMap<Slug, (&CategoryName, &Origin)> = HashMap::new();
        for (product, origin) in &sourced {
            if let Some(first) = slugs.insert(&product.slug, origin) {
                errors.push(CatalogError::DuplicateSlug {
                    slug: product.slug.to_string(),
                    first: first.clone(),
                    second: origin.clone(),
                });
            }
            if let Some(first) = ids.insert(product.id, origin) {
                errors.push(CatalogError::DuplicateId {
                    id: product.id,
                    first: first.clone(),
                    second: origin.clone(),
                });
            }
            let slug = product.category.slug();
            match category_names.get(&slug) {
                Some((name, first)) if *name != &product.category => {
                    errors.push(CatalogError::CategoryCollision {
                        slug: slug.to_string(),
                        first_name: name.as_str().to_owned(),
                        first: (*first).clone(),
                        second_name: product.category.as_str().to_owned(),
                        second: origin.clone(),
                    });
                }
                Some(_) => {}
                None => {
                    category_names.insert(slug, (&product.category, origin));
                }
            }
        }
        if !errors.is_empty() {
            // Report in a stable order whatever the order files were read in.
            errors.sort_by_key(|e| e.to_string());
            return Err(CatalogErrors(errors));
        }
        drop((slugs, ids, category_names));

        let mut products: Vec<Product> = sourced.into_iter().map(|(p, _)| p).collect();
        products.sort_by_cached_key(|p| (p.name.as_str().to_lowercase(), p.id));

        let mut by_slug: HashMap<Slug, Category> = HashMap::new();
        for (index, product) in products.iter().enumerate() {
            by_slug
                .entry(product.category.slug())
                .or_insert_with(|| Category {
                    name: product.category.clone(),
                    slug: product.category.slug(),
                    products: Vec::new(),
                })
                .products
                .push(index);
        }
        let mut categories: Vec<Category> = by_slug.into_values().collect();
        categories.sort_by_cached_key(|c| (c.name.as_str().to_lowercase(), c.slug.clone()));

        let version = digest(&settings, &products);
        Ok(Self {
            settings,
            products,
            categories,
            version,
        })
    }
}

/// A short SHA-256 over every rendered field, fed field by field (no float, no
/// serialisation format in between).
fn digest(settings: &SiteSettings, products: &[Product]) -> String {
    let mut h = Sha256::new();
    let mut field = |bytes: &[u8]| {
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    };
    let s = settings;
    for text in [
        &s.title,
        s.tagline.as_deref().unwrap_or(""),
        &s.description,
        &s.base_url,
    ] {
        field(text.as_bytes());
    }
    for text in [s.currency.as_str(), &s.locale, &s.theme] {
        field(text.as_bytes());
    }
    field(&(s.products_per_page as u64).to_le_bytes());
    for p in products {
        field(&p.id.get().to_le_bytes());
        field(p.slug.as_str().as_bytes());
        field(p.name.as_str().as_bytes());
        field(p.description.as_bytes());
        field(p.price.to_string().as_bytes());
        field(&(p.images.len() as u64).to_le_bytes());
        for image in &p.images {
            field(image.url.as_str().as_bytes());
            field(image.alt.as_bytes());
        }
        field(p.category.as_str().as_bytes());
        field(&p.stock_quantity.get().to_le_bytes());
        field(
            p.created_at
                .to_rfc3339_opts(SecondsFormat::AutoSi, true)
                .as_bytes(),
        );
        field(
            p.updated_at
                .to_rfc3339_opts(SecondsFormat::AutoSi, true)
                .as_bytes(),
        );
    }
    hex(&h.finalize()[..8])
}

/// Lowercase hex, two digits a byte: how digests appear in versions, asset
/// fingerprints, image names and manifests.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

#[cfg(test)]
pub(crate) mod fixtures {
    use super::*;

    pub fn settings() -> SiteSettings {
        SiteSettings {
            title: "Test Shop".into(),
            tagline: None,
            description: "A shop for tests.".into(),
            base_url: "https://shop.example.com".into(),
            currency: CurrencyCode::parse("EUR").unwrap(),
            locale: "en-IE".into(),
            theme: "default".into(),
            products_per_page: 2,
        }
    }

    pub fn product(id: i64, name: &str, category: &str) -> Product {
        let at = DateTime::parse_from_rfc3339("2026-01-05T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        Product {
            id: ProductId::new(id).unwrap(),
            slug: Slug::from_text(name).unwrap(),
            name: ProductName::parse(name).unwrap(),
            description: format!("About **{name}**."),
            price: Price::parse("49.90").unwrap(),
            images: vec![Image::parse("/images/x.svg", "").unwrap()],
            category: CategoryName::parse(category).unwrap(),
            stock_quantity: StockQuantity::new(3).unwrap(),
            created_at: at,
            updated_at: at,
        }
    }

    pub fn catalog(products: Vec<Product>) -> Catalog {
        let sourced = products
            .into_iter()
            .map(|p| (p.clone(), Origin::Row(p.id)))
            .collect();
        Catalog::assemble(settings(), sourced).unwrap()
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::*;
    use super::*;

    #[test]
    fn orders_products_by_name_and_groups_categories() {
        let c = catalog(vec![
            product(1, "b mug", "Kitchen"),
            product(2, "A lamp", "Lighting"),
            product(3, "C pan", "Kitchen"),
        ]);
        let names: Vec<_> = c.products.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["A lamp", "b mug", "C pan"]);
        assert_eq!(c.categories.len(), 2);
        assert_eq!(c.categories[0].slug.as_str(), "kitchen");
        assert_eq!(c.categories[0].products, [1, 2]);
    }

    #[test]
    fn version_is_independent_of_input_order_and_changes_with_content() {
        let a = catalog(vec![
            product(1, "Mug", "Kitchen"),
            product(2, "Lamp", "Lighting"),
        ]);
        let b = catalog(vec![
            product(2, "Lamp", "Lighting"),
            product(1, "Mug", "Kitchen"),
        ]);
        assert_eq!(a.version, b.version);
        let mut changed = product(1, "Mug", "Kitchen");
        changed.price = Price::parse("1.00").unwrap();
        let c = catalog(vec![changed, product(2, "Lamp", "Lighting")]);
        assert_ne!(a.version, c.version);
        assert_eq!(a.version.len(), 16);
    }

    #[test]
    fn duplicates_name_both_origins() {
        let p = product(1, "Mug", "Kitchen");
        let mut q = product(2, "Mug", "Kitchen");
        q.id = p.id;
        let err = Catalog::assemble(
            settings(),
            vec![
                (p, Origin::File("a.md".into())),
                (q, Origin::File("b.md".into())),
            ],
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("duplicate slug \"mug\": a.md and b.md both use it"),
            "{text}"
        );
        assert!(
            text.contains("duplicate id 1: a.md and b.md both use it"),
            "{text}"
        );
    }

    #[test]
    fn categories_that_collide_after_normalisation_are_rejected() {
        let err = Catalog::assemble(
            settings(),
            vec![
                (
                    product(1, "Mug", "Coffee & Tea"),
                    Origin::Row(ProductId::new(1).unwrap()),
                ),
                (
                    product(2, "Cup", "Coffee Tea"),
                    Origin::Row(ProductId::new(2).unwrap()),
                ),
            ],
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "categories \"Coffee & Tea\" (product_id 1) and \"Coffee Tea\" (product_id 2) both map to the URL /categories/coffee-tea/; spell them the same way or rename one"
        );
    }
}
