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
    BuyUrl, CategoryName, CurrencyCode, Gtin, Image, ImageUrl, Invalid, Price, ProductId,
    ProductName, Slug, Status, StockQuantity,
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
    /// How it is sold and found: its status, a sale, search text,
    /// identifiers and where to buy it.
    pub merchandising: Merchandising,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A product's fields beyond what it is: whether it is on the storefront,
/// a sale, its search-result text, its trade identifiers and a payment link.
/// Every value is valid ([`draft::Draft::validate`] made it); the default is
/// an active product with none of the optional fields.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Merchandising {
    pub status: Status,
    /// The price before the sale, always above `price` when set.
    pub compare_at_price: Option<Price>,
    /// At most 70 characters; the name is used without it.
    pub seo_title: Option<String>,
    /// At most 160 characters; a summary of the description without it.
    pub seo_description: Option<String>,
    pub gtin: Option<Gtin>,
    /// A manufacturer part number.
    pub mpn: Option<String>,
    /// Where a shopper can pay for it (`https://` only).
    pub buy_url: Option<BuyUrl>,
}

impl Merchandising {
    /// The fields' names, as every format and column calls them.
    pub const FIELDS: [&'static str; 7] = [
        "status",
        "compare_at_price",
        "seo_title",
        "seo_description",
        "gtin",
        "mpn",
        "buy_url",
    ];
}

impl Product {
    pub fn in_stock(&self) -> bool {
        self.stock_quantity.get() > 0
    }

    /// Whether it shows a sale: a compare-at price is set (always above
    /// the price).
    pub fn on_sale(&self) -> bool {
        self.merchandising.compare_at_price.is_some()
    }

    /// Whether it is on the storefront.
    pub fn is_active(&self) -> bool {
        self.merchandising.status == Status::Active
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
    /// The brand products are sold under (Merchant Center's `brand`, the
    /// JSON-LD's `brand`); the title unless `site.toml` names one.
    pub brand: String,
    pub condition: Condition,
    pub call_to_action: CallToAction,
    pub shipping: Option<Shipping>,
    pub returns: Option<Returns>,
}

/// The condition every product is sold in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Condition {
    #[default]
    New,
    Refurbished,
    Used,
}

impl Condition {
    pub const EXPECTED: &'static str = "one of \"new\", \"refurbished\" or \"used\"";

    pub fn parse(text: &str) -> Result<Self, Invalid> {
        match text {
            "new" => Ok(Self::New),
            "refurbished" => Ok(Self::Refurbished),
            "used" => Ok(Self::Used),
            other => Err(Invalid {
                problem: format!("{other:?} is not a condition"),
                expected: Self::EXPECTED,
            }),
        }
    }

    /// Merchant Center's value: `new`, `refurbished` or `used`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::New => "new",
            Self::Refurbished => "refurbished",
            Self::Used => "used",
        }
    }

    /// schema.org's `OfferItemCondition`.
    pub fn schema_org(self) -> &'static str {
        match self {
            Self::New => "https://schema.org/NewCondition",
            Self::Refurbished => "https://schema.org/RefurbishedCondition",
            Self::Used => "https://schema.org/UsedCondition",
        }
    }
}

/// What a product page offers beside the price.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum CallToAction {
    #[default]
    None,
    /// A "Contact us about this item" link to this address, the product
    /// named in the subject.
    Email(String),
    /// The product's `buy_url` as a button, while it is in stock.
    BuyUrl,
}

/// Shop-wide shipping, for the structured data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shipping {
    /// Business days from order to dispatch: (min, max).
    pub handling_days: (u32, u32),
    /// Days in transit: (min, max).
    pub transit_days: (u32, u32),
    /// One rate per group of countries; a country is in one group only.
    pub rates: Vec<ShippingRate>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShippingRate {
    /// ISO 3166-1 alpha-2 codes, like `IE`.
    pub countries: Vec<String>,
    pub price: Price,
}

/// Shop-wide returns, for the structured data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Returns {
    /// ISO 3166-1 alpha-2 codes the policy applies in.
    pub countries: Vec<String>,
    /// Days to return an item; 0 means returns are not accepted.
    pub days: u32,
    pub method: ReturnMethod,
    pub fees: ReturnFees,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReturnMethod {
    Mail,
    Store,
    Kiosk,
}

impl ReturnMethod {
    pub const EXPECTED: &'static str = "one of \"mail\", \"store\" or \"kiosk\"";

    pub fn parse(text: &str) -> Result<Self, Invalid> {
        match text {
            "mail" => Ok(Self::Mail),
            "store" => Ok(Self::Store),
            "kiosk" => Ok(Self::Kiosk),
            other => Err(Invalid {
                problem: format!("{other:?} is not a return method"),
                expected: Self::EXPECTED,
            }),
        }
    }

    pub fn schema_org(self) -> &'static str {
        match self {
            Self::Mail => "https://schema.org/ReturnByMail",
            Self::Store => "https://schema.org/ReturnInStore",
            Self::Kiosk => "https://schema.org/ReturnAtKiosk",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReturnFees {
    Free,
    /// The shopper pays for the return.
    Customer,
}

impl ReturnFees {
    pub const EXPECTED: &'static str = "one of \"free\" or \"customer\"";

    pub fn parse(text: &str) -> Result<Self, Invalid> {
        match text {
            "free" => Ok(Self::Free),
            "customer" => Ok(Self::Customer),
            other => Err(Invalid {
                problem: format!("{other:?} is not a kind of return fees"),
                expected: Self::EXPECTED,
            }),
        }
    }

    pub fn schema_org(self) -> &'static str {
        match self {
            Self::Free => "https://schema.org/FreeReturn",
            Self::Customer => "https://schema.org/ReturnFeesCustomerResponsibility",
        }
    }
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
    /// The active products, sorted by name (case-insensitively), then id:
    /// the order of every listing. Only these reach the storefront.
    pub products: Vec<Product>,
    /// Drafts and archived products, in the same order: checked with the
    /// rest (their slugs and ids are taken) and imported, never rendered.
    pub unlisted: Vec<Product>,
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

        // Drafts and archived products are checked like the rest (a slug a
        // draft holds is taken), but only active ones reach the storefront.
        let (mut products, mut unlisted): (Vec<Product>, Vec<Product>) = sourced
            .into_iter()
            .map(|(p, _)| p)
            .partition(Product::is_active);
        products.sort_by_cached_key(|p| (p.name.as_str().to_lowercase(), p.id));
        unlisted.sort_by_cached_key(|p| (p.name.as_str().to_lowercase(), p.id));

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
            unlisted,
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
    // The rest of the settings as their debug text: exact (no float) and
    // stable for equal settings.
    field(
        format!(
            "{:?}",
            (
                &s.brand,
                s.condition,
                &s.call_to_action,
                &s.shipping,
                &s.returns
            )
        )
        .as_bytes(),
    );
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
        field(format!("{:?}", p.merchandising).as_bytes());
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
            brand: "Test Shop".into(),
            condition: Condition::New,
            call_to_action: CallToAction::None,
            shipping: None,
            returns: None,
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
            merchandising: Merchandising::default(),
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
    fn only_active_products_reach_the_catalog_but_all_are_checked() {
        let mut draft = product(2, "Lamp", "Lighting");
        draft.merchandising.status = Status::Draft;
        let mut archived = product(3, "Pan", "Kitchen");
        archived.merchandising.status = Status::Archived;
        let c = catalog(vec![product(1, "Mug", "Kitchen"), draft.clone(), archived]);
        let names: Vec<_> = c.products.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["Mug"]);
        assert_eq!(c.unlisted.len(), 2);
        assert_eq!(
            c.categories.len(),
            1,
            "a category of drafts only is not shown"
        );
        assert_eq!(
            c.version,
            catalog(vec![product(1, "Mug", "Kitchen")]).version
        );
        let mut taken = product(4, "Mug", "Kitchen");
        taken.merchandising.status = Status::Draft;
        let err = Catalog::assemble(
            settings(),
            vec![
                (
                    product(1, "Mug", "Kitchen"),
                    Origin::Row(ProductId::new(1).unwrap()),
                ),
                (taken, Origin::Row(ProductId::new(4).unwrap())),
            ],
        )
        .unwrap_err();
        assert!(err.to_string().contains("duplicate slug"), "{err}");
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
