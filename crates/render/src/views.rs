//! What templates see. Views are plain data built from the catalog, with every
//! value already formatted, so templates never touch domain types or money.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use serde_json::{Value, json};

use crate::urls;
use crate::{markdown, money};
use catalog::{CallToAction, Catalog, Category, Product, SiteSettings};

/// At or below this many units, a product shows "Only N left".
pub const LOW_STOCK: i32 = 5;
/// Longest plain-text summary, in characters.
pub const SUMMARY_CHARS: usize = 160;

#[derive(Debug, Clone, Serialize)]
pub struct StockView {
    pub in_stock: bool,
    /// `in`, `low` or `out`, for styling.
    pub level: &'static str,
    pub label: String,
    /// The schema.org availability URL.
    pub availability: &'static str,
}

impl StockView {
    pub fn of(product: &Product) -> Self {
        match product.stock_quantity.get() {
            0 => Self {
                in_stock: false,
                level: "out",
                label: "Out of stock".into(),
                availability: "https://schema.org/OutOfStock",
            },
            n if n <= LOW_STOCK => Self {
                in_stock: true,
                level: "low",
                label: format!("Only {n} left"),
                availability: "https://schema.org/LimitedAvailability",
            },
            _ => Self {
                in_stock: true,
                level: "in",
                label: "In stock".into(),
                availability: "https://schema.org/InStock",
            },
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Link {
    pub name: String,
    pub url: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct CategoryLink {
    pub name: String,
    pub slug: String,
    pub url: String,
    pub count: usize,
}

/// A product as shown in a grid.
#[derive(Debug, Clone, Serialize)]
pub struct ProductCard {
    pub id: i64,
    pub name: String,
    pub url: String,
    /// The current price, formatted.
    pub price: String,
    /// The price before the sale, formatted, while the product is on sale.
    pub compare_at_price: Option<String>,
    pub on_sale: bool,
    /// The image's URL: for a photo, its fallback variant at the product
    /// page's width; else the catalog's URL or the theme's placeholder.
    pub image: String,
    /// A photo's variants, for `<picture>`; `None` for an SVG, a remote URL
    /// or the placeholder.
    pub picture: Option<Picture>,
    /// The main image's alt text for the product page: the owner's, else the
    /// product's name. (A card's link says the name, so its image has none.)
    pub alt: String,
    /// The product's other images, in order, for the product page.
    pub more_images: Vec<Shown>,
    pub category: Link,
    pub stock: StockView,
    pub summary: String,
}

/// Photos' variants, by the source's object key (`images/desk.jpg`).
pub type Photos = std::collections::BTreeMap<String, images::ImageSet>;

/// What a template needs for a photo's `<picture>`.
#[derive(Debug, Clone, Serialize)]
pub struct Picture {
    /// `srcset` of the WebP variants.
    pub modern_srcset: String,
    /// `srcset` of the JPEG (or PNG) variants, and their type.
    pub fallback_srcset: String,
    pub fallback_type: &'static str,
    /// The upright size, for `width` and `height`.
    pub width: u32,
    pub height: u32,
    /// The average colour, shown while it loads.
    pub color: String,
    /// The largest fallback and the Open Graph crop, site-relative.
    pub largest: String,
    pub og: String,
}

/// The width the product page shows its main image at, at most (CSS px):
/// its `src` for browsers without `srcset`.
const PRODUCT_IMAGE_WIDTH: u32 = 640;

/// One image as a page shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Shown {
    /// Its URL: a photo's fallback variant at the product page's width, or
    /// the image's own URL.
    pub image: String,
    pub picture: Option<Picture>,
    /// The owner's alt text, else the product's name and the image's place.
    pub alt: String,
    /// What search engines get: a photo's largest variant, or the URL itself.
    pub largest: String,
}

impl Shown {
    /// The product's `index`th image (from 0).
    pub fn of(product: &Product, index: usize, photos: &Photos) -> Self {
        let image = &product.images[index];
        let (url, picture) = picture_of(image.url.as_str(), photos);
        Self {
            largest: picture.as_ref().map_or(url.clone(), |p| p.largest.clone()),
            image: url,
            picture,
            alt: alt_text(product, index),
        }
    }
}

/// An image's alt text: the owner's, else the product's name (and, after
/// the first, the image's place).
fn alt_text(product: &Product, index: usize) -> String {
    match product.images.get(index) {
        Some(image) if !image.alt.is_empty() => image.alt.clone(),
        _ if index == 0 => product.name.as_str().to_owned(),
        _ => format!("{}, image {}", product.name.as_str(), index + 1),
    }
}

/// The image a product shows: its photo's variants, its own URL (an SVG, a
/// remote image), or the theme's placeholder.
pub fn image_of(
    product: &Product,
    placeholder: &str,
    photos: &Photos,
) -> (String, Option<Picture>) {
    match product.image_url() {
        Some(url) => picture_of(url.as_str(), photos),
        None => (placeholder.to_owned(), None),
    }
}

/// A URL's photo variants, if it names a photo of the site's.
fn picture_of(url: &str, photos: &Photos) -> (String, Option<Picture>) {
    let Some(set) = url.strip_prefix('/').and_then(|key| photos.get(key)) else {
        return (url.to_owned(), None);
    };
    let picture = Picture {
        modern_srcset: images::ImageSet::srcset(&set.modern),
        fallback_srcset: images::ImageSet::srcset(&set.fallback),
        fallback_type: set.fallback[0].format.mime(),
        width: set.width,
        height: set.height,
        color: set.color.clone(),
        largest: format!("/{}", set.fallback_for(u32::MAX).key),
        og: format!("/{}", set.og.key),
    };
    (
        format!("/{}", set.fallback_for(PRODUCT_IMAGE_WIDTH).key),
        Some(picture),
    )
}

impl ProductCard {
    pub fn of(catalog: &Catalog, product: &Product, placeholder: &str, photos: &Photos) -> Self {
        let s = &catalog.settings;
        let category_slug = product.category.slug();
        let (image, picture) = image_of(product, placeholder, photos);
        Self {
            id: product.id.get(),
            name: product.name.as_str().to_owned(),
            url: urls::product(&product.slug),
            price: money::format_price(product.price, &s.currency, &s.locale),
            compare_at_price: product
                .merchandising
                .compare_at_price
                .map(|was| money::format_price(was, &s.currency, &s.locale)),
            on_sale: product.on_sale(),
            image,
            picture,
            alt: alt_text(product, 0),
            more_images: (1..product.images.len())
                .map(|i| Shown::of(product, i, photos))
                .collect(),
            category: Link {
                name: product.category.as_str().to_owned(),
                url: urls::category(&category_slug, 1),
            },
            stock: StockView::of(product),
            summary: markdown::summary(&product.description, SUMMARY_CHARS),
        }
    }
}

/// What a product page offers beside the price (`settings.call_to_action`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CallToActionView {
    /// `email` or `buy`, for styling.
    pub kind: &'static str,
    pub label: &'static str,
    pub url: String,
}

impl CallToActionView {
    /// Nothing, a "Contact us" `mailto:` link, or the product's buy link
    /// while it is in stock (and only if it has one).
    pub fn of(settings: &SiteSettings, product: &Product) -> Option<Self> {
        match &settings.call_to_action {
            CallToAction::None => None,
            CallToAction::Email(address) => Some(Self {
                kind: "email",
                label: "Contact us about this item",
                url: urls::mailto(address, product),
            }),
            CallToAction::BuyUrl if product.in_stock() => urls::buy(product).map(|url| Self {
                kind: "buy",
                label: "Buy now",
                url,
            }),
            CallToAction::BuyUrl => None,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct PageLink {
    pub number: usize,
    pub url: String,
    pub current: bool,
    /// Some page numbers were skipped before this one.
    pub gap_before: bool,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Pagination {
    pub current: usize,
    pub total: usize,
    pub prev: Option<String>,
    pub next: Option<String>,
}

/// Splits `count` items into pages of `per_page`: always at least one page,
/// so an empty shop still has a home page.
pub fn page_count(count: usize, per_page: usize) -> usize {
    count.div_ceil(per_page.max(1)).max(1)
}

impl Pagination {
    pub fn new(current: usize, total: usize, url: impl Fn(usize) -> String) -> Self {
        Self {
            current,
            total,
            prev: (current > 1).then(|| url(current - 1)),
            next: (current < total).then(|| url(current + 1)),
        }
    }
}

/// The page links to show: first, last, and two either side of the current page.
pub fn page_links(p: &Pagination, url: impl Fn(usize) -> String) -> Vec<PageLink> {
    let mut previous = 0;
    (1..=p.total)
        .filter(|&n| n == 1 || n == p.total || n.abs_diff(p.current) <= 2)
        .map(|n| {
            let link = PageLink {
                number: n,
                url: url(n),
                current: n == p.current,
                gap_before: n > previous + 1 && previous > 0,
            };
            previous = n;
            link
        })
        .collect()
}

/// Escapes JSON so it can sit inside `<script type="application/ld+json">`:
/// no `</script>`, no `<!--`, no HTML entity can break out of it.
pub fn json_for_script(value: &impl Serialize) -> String {
    let text = serde_json::to_string(value).expect("JSON-LD serialises");
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len() + 16);
    let mut copied = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let (escape, width) = match b {
            b'<' => ("\\u003c", 1),
            b'>' => ("\\u003e", 1),
            b'&' => ("\\u0026", 1),
            // U+2028 and U+2029 (E2 80 A8/A9) end a line in old JavaScript parsers.
            0xE2 if bytes.get(i + 1) == Some(&0x80) && bytes.get(i + 2) == Some(&0xA8) => {
                ("\\u2028", 3)
            }
            0xE2 if bytes.get(i + 1) == Some(&0x80) && bytes.get(i + 2) == Some(&0xA9) => {
                ("\\u2029", 3)
            }
            _ => continue,
        };
        out.push_str(&text[copied..i]);
        out.push_str(escape);
        copied = i + width;
    }
    out.push_str(&text[copied..]);
    out
}

/// What follows a product's name in its page's `<title>` when the owner
/// gave no search title: `Name — Shop`.
pub fn title_suffix(shop_title: &str) -> String {
    format!(" — {shop_title}")
}

pub fn timestamp(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// schema.org `Product` with an `Offer`, serialised straight to JSON-LD:
/// what Google's merchant listings read.
#[derive(Debug, Serialize)]
pub struct ProductLd<'a> {
    #[serde(rename = "@context")]
    context: &'static str,
    #[serde(rename = "@type")]
    kind: &'static str,
    name: &'a str,
    sku: String,
    description: &'a str,
    /// Every image, the main one first.
    image: Vec<String>,
    category: &'a str,
    brand: BrandLd<'a>,
    /// The GTIN under its length's own property (`gtin8`, `gtin12`,
    /// `gtin13` or `gtin14`).
    #[serde(flatten)]
    gtin: Option<GtinLd<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mpn: Option<&'a str>,
    url: String,
    offers: OfferLd<'a>,
}

#[derive(Debug, Serialize)]
struct BrandLd<'a> {
    #[serde(rename = "@type")]
    kind: &'static str,
    name: &'a str,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "lowercase")]
enum GtinLd<'a> {
    Gtin8(&'a str),
    Gtin12(&'a str),
    Gtin13(&'a str),
    Gtin14(&'a str),
}

impl<'a> GtinLd<'a> {
    fn of(gtin: &'a catalog::Gtin) -> Self {
        let digits = gtin.as_str();
        match digits.len() {
            8 => Self::Gtin8(digits),
            12 => Self::Gtin12(digits),
            13 => Self::Gtin13(digits),
            _ => Self::Gtin14(digits),
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct OfferLd<'a> {
    #[serde(rename = "@type")]
    kind: &'static str,
    /// The current price, as exact decimal text.
    price: String,
    price_currency: &'a str,
    /// The price before the sale, as Google documents it: a
    /// `UnitPriceSpecification` of type `StrikethroughPrice`.
    #[serde(skip_serializing_if = "Option::is_none")]
    price_specification: Option<Value>,
    availability: &'static str,
    item_condition: &'static str,
    url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    shipping_details: Option<Vec<Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    has_merchant_return_policy: Option<Value>,
}

/// The product page's structured data: a schema.org `Product` with an
/// `Offer`, its brand and identifiers, and the shop's shipping and returns
/// when `site.toml` sets them.
pub fn product_json_ld<'a>(
    catalog: &'a Catalog,
    product: &'a Product,
    images: &[&str],
    summary: &'a str,
) -> ProductLd<'a> {
    let s = &catalog.settings;
    let m = &product.merchandising;
    let url = urls::absolute(&s.base_url, &urls::product(&product.slug));
    let currency = s.currency.as_str();
    ProductLd {
        context: "https://schema.org",
        kind: "Product",
        name: product.name.as_str(),
        sku: product.id.get().to_string(),
        description: summary,
        image: images
            .iter()
            .map(|i| urls::absolute(&s.base_url, i))
            .collect(),
        category: product.category.as_str(),
        brand: BrandLd {
            kind: "Brand",
            name: &s.brand,
        },
        gtin: m.gtin.as_ref().map(GtinLd::of),
        mpn: m.mpn.as_deref(),
        offers: OfferLd {
            kind: "Offer",
            price: product.price.to_string(),
            price_currency: currency,
            price_specification: m.compare_at_price.map(|was| {
                json!({
                    "@type": "UnitPriceSpecification",
                    "priceType": "https://schema.org/StrikethroughPrice",
                    "price": was.to_string(),
                    "priceCurrency": currency,
                })
            }),
            availability: StockView::of(product).availability,
            item_condition: s.condition.schema_org(),
            url: url.clone(),
            shipping_details: s.shipping.as_ref().map(|sh| shipping_ld(sh, currency)),
            has_merchant_return_policy: s.returns.as_ref().map(returns_ld),
        },
        url,
    }
}

/// One `OfferShippingDetails` per rate.
fn shipping_ld(shipping: &catalog::Shipping, currency: &str) -> Vec<Value> {
    let days = |(min, max): (u32, u32)| json!({"@type": "QuantitativeValue", "minValue": min, "maxValue": max, "unitCode": "DAY"});
    shipping
        .rates
        .iter()
        .map(|rate| {
            json!({
                "@type": "OfferShippingDetails",
                "shippingRate": {
                    "@type": "MonetaryAmount",
                    "value": rate.price.to_string(),
                    "currency": currency,
                },
                "shippingDestination": {
                    "@type": "DefinedRegion",
                    "addressCountry": rate.countries,
                },
                "deliveryTime": {
                    "@type": "ShippingDeliveryTime",
                    "handlingTime": days(shipping.handling_days),
                    "transitTime": days(shipping.transit_days),
                },
            })
        })
        .collect()
}

/// The `MerchantReturnPolicy`: a finite window, or no returns at all.
fn returns_ld(returns: &catalog::Returns) -> Value {
    if returns.days == 0 {
        return json!({
            "@type": "MerchantReturnPolicy",
            "applicableCountry": returns.countries,
            "returnPolicyCategory": "https://schema.org/MerchantReturnNotPermitted",
        });
    }
    json!({
        "@type": "MerchantReturnPolicy",
        "applicableCountry": returns.countries,
        "returnPolicyCategory": "https://schema.org/MerchantReturnFiniteReturnWindow",
        "merchantReturnDays": returns.days,
        "returnMethod": returns.method.schema_org(),
        "returnFees": returns.fees.schema_org(),
    })
}

/// schema.org `BreadcrumbList`.
#[derive(Debug, Serialize)]
pub struct BreadcrumbsLd<'a> {
    #[serde(rename = "@context")]
    context: &'static str,
    #[serde(rename = "@type")]
    kind: &'static str,
    #[serde(rename = "itemListElement")]
    items: Vec<CrumbLd<'a>>,
}

#[derive(Debug, Serialize)]
struct CrumbLd<'a> {
    #[serde(rename = "@type")]
    kind: &'static str,
    position: usize,
    name: &'a str,
    item: String,
}

pub fn breadcrumbs_json_ld<'a>(base_url: &str, crumbs: &'a [Link]) -> BreadcrumbsLd<'a> {
    let items = crumbs
        .iter()
        .enumerate()
        .map(|(i, c)| CrumbLd {
            kind: "ListItem",
            position: i + 1,
            name: &c.name,
            item: urls::absolute(base_url, &c.url),
        })
        .collect();
    BreadcrumbsLd {
        context: "https://schema.org",
        kind: "BreadcrumbList",
        items,
    }
}

pub fn category_links(catalog: &Catalog) -> Vec<CategoryLink> {
    catalog
        .categories
        .iter()
        .map(|c: &Category| CategoryLink {
            name: c.name.as_str().to_owned(),
            slug: c.slug.to_string(),
            url: urls::category(&c.slug, 1),
            count: c.products.len(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pagination_edges() {
        assert_eq!(page_count(0, 12), 1);
        assert_eq!(page_count(1, 12), 1);
        assert_eq!(page_count(12, 12), 1);
        assert_eq!(page_count(13, 12), 2);
        let only = Pagination::new(1, 1, urls::home);
        assert_eq!((only.prev.as_deref(), only.next.as_deref()), (None, None));
        let first = Pagination::new(1, 2, urls::home);
        assert_eq!(first.next.as_deref(), Some("/page/2/"));
        let last = Pagination::new(2, 2, urls::home);
        assert_eq!(last.prev.as_deref(), Some("/"));
        assert_eq!(last.next, None);
    }

    #[test]
    fn page_links_elide_the_middle() {
        let p = Pagination::new(5, 20, urls::home);
        let numbers: Vec<_> = page_links(&p, urls::home)
            .iter()
            .map(|l| l.number)
            .collect();
        assert_eq!(numbers, [1, 3, 4, 5, 6, 7, 20]);
        let gaps: Vec<_> = page_links(&p, urls::home)
            .iter()
            .map(|l| l.gap_before)
            .collect();
        assert_eq!(gaps, [false, true, false, false, false, false, true]);
    }

    #[test]
    fn json_ld_cannot_close_the_script() {
        let v = json!({"name": "</script><script>alert(1)</script> & <!--"});
        let out = json_for_script(&v);
        assert!(
            !out.contains('<') && !out.contains('>') && !out.contains('&'),
            "{out}"
        );
        let back: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(back, v);
    }
}
