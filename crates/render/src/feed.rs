//! `products.json`, the catalog feed for client-side search and filtering and
//! for anyone integrating with the shop.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Value, json};

use catalog::Catalog;

use crate::views::{self, ProductCard};
use crate::{RenderError, urls};

/// `products.json`: the catalog for client-side search and for integrations.
/// Its schema is documented in the README; bump `schema_version` on any
/// incompatible change.
pub(crate) fn products_json(
    catalog: &Catalog,
    cards: &[ProductCard],
    generated_at: DateTime<Utc>,
) -> Result<Vec<u8>, RenderError> {
    #[derive(Serialize)]
    struct Entry<'a> {
        id: i64,
        slug: &'a str,
        name: &'a str,
        url: &'a str,
        price: String,
        price_display: &'a str,
        /// Always `active`: only active products are on the storefront.
        status: &'static str,
        /// The price before the sale, while the product is on sale.
        compare_at_price: Option<String>,
        compare_at_price_display: Option<&'a str>,
        on_sale: bool,
        category: &'a str,
        category_slug: String,
        image_url: &'a str,
        /// Every image, the main one first, with its alt text.
        images: Vec<FeedImage<'a>>,
        stock_quantity: i32,
        in_stock: bool,
        summary: &'a str,
        created_at: String,
        updated_at: String,
    }
    #[derive(Serialize)]
    struct FeedImage<'a> {
        url: &'a str,
        alt: &'a str,
    }
    let s = &catalog.settings;
    let products: Vec<Entry<'_>> = catalog
        .products
        .iter()
        .zip(cards)
        .map(|(p, card)| Entry {
            id: p.id.get(),
            slug: p.slug.as_str(),
            name: p.name.as_str(),
            url: &card.url,
            price: p.price.to_string(),
            price_display: &card.price,
            status: p.merchandising.status.as_str(),
            compare_at_price: p.merchandising.compare_at_price.map(|was| was.to_string()),
            compare_at_price_display: card.compare_at_price.as_deref(),
            on_sale: p.on_sale(),
            category: p.category.as_str(),
            category_slug: p.category.slug().to_string(),
            image_url: &card.image,
            // The URLs the pages use; the alt text as the owner wrote it.
            images: std::iter::once(card.image.as_str())
                .chain(card.more_images.iter().map(|i| i.image.as_str()))
                .zip(&p.images)
                .map(|(url, image)| FeedImage {
                    url,
                    alt: &image.alt,
                })
                .collect(),
            stock_quantity: p.stock_quantity.get(),
            in_stock: p.in_stock(),
            summary: &card.summary,
            created_at: views::timestamp(&p.created_at),
            updated_at: views::timestamp(&p.updated_at),
        })
        .collect();
    #[derive(Serialize)]
    struct Doc<'a> {
        schema_version: u32,
        catalog_version: &'a str,
        generated_at: String,
        site: Value,
        categories: Vec<Value>,
        products: Vec<Entry<'a>>,
    }
    // Serialised straight from the entries: no JSON tree of the whole catalog.
    let doc = Doc {
        schema_version: 1,
        catalog_version: &catalog.version,
        generated_at: views::timestamp(&generated_at),
        site: json!({"title": s.title, "base_url": s.base_url, "currency": s.currency.as_str(), "locale": s.locale}),
        categories: catalog.categories.iter().map(|c| json!({
            "slug": c.slug.as_str(), "name": c.name.as_str(), "url": urls::category(&c.slug, 1), "product_count": c.products.len(),
        })).collect(),
        products,
    };
    // Sized up front: growing a buffer this large by doubling would briefly
    // hold it twice.
    let mut out = Vec::with_capacity(512 + catalog.products.len() * 640);
    serde_json::to_writer(&mut out, &doc).map_err(|source| RenderError::Json {
        what: "products.json",
        source,
    })?;
    out.shrink_to_fit();
    Ok(out)
}
