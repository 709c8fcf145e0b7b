//! The Google Merchant Center product feed: RSS 2.0 with Google's `g:`
//! namespace, one `<item>` per product on the storefront. Every value is
//! plain text, XML-escaped here.
//!
//! Google accepts JPEG, PNG, WebP, GIF, BMP and TIFF images, not SVG. A
//! photo's link is its largest JPEG or PNG variant; a product whose images
//! are SVG files still gets their links, and Merchant Center reports them.

use std::fmt::Write as _;

use catalog::{Catalog, Price, Product};

use crate::escape::xml_escape;
use crate::views::{ProductCard, StockView};
use crate::{markdown, urls};

/// The longest `g:title` Merchant Center accepts, in characters.
pub const MAX_TITLE: usize = 150;
/// The longest `g:description`, in characters.
pub const MAX_DESCRIPTION: usize = 5000;
/// The most `g:additional_image_link`s an item may have.
pub const MAX_ADDITIONAL_IMAGES: usize = 10;

/// The feed, for the products and their cards (in catalog order).
pub(crate) fn google_merchant_feed(catalog: &Catalog, cards: &[ProductCard]) -> Vec<u8> {
    let s = &catalog.settings;
    let mut xml = String::with_capacity(1024 + catalog.products.len() * 1536);
    xml.push_str(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\" xmlns:g=\"http://base.google.com/ns/1.0\">\n<channel>\n",
    );
    element(&mut xml, "title", &s.title);
    element(
        &mut xml,
        "link",
        &urls::absolute(&s.base_url, &urls::home(1)),
    );
    element(&mut xml, "description", &s.description);
    for (product, card) in catalog.products.iter().zip(cards) {
        item(&mut xml, catalog, product, card);
    }
    xml.push_str("</channel>\n</rss>\n");
    xml.into_bytes()
}

fn item(xml: &mut String, catalog: &Catalog, product: &Product, card: &ProductCard) {
    let s = &catalog.settings;
    let m = &product.merchandising;
    let currency = s.currency.as_str();
    let amount = |price: Price| format!("{price} {currency}");
    xml.push_str("<item>\n");
    element(xml, "g:id", &product.id.get().to_string());
    element(
        xml,
        "g:title",
        &markdown::shorten(product.name.as_str(), MAX_TITLE),
    );
    let description = markdown::plain_text(&product.description, MAX_DESCRIPTION);
    element(
        xml,
        "g:description",
        if description.is_empty() {
            product.name.as_str()
        } else {
            &description
        },
    );
    element(
        xml,
        "g:link",
        &urls::absolute(&s.base_url, &urls::product(&product.slug)),
    );
    let main = card.picture.as_ref().map_or(&card.image, |p| &p.largest);
    element(xml, "g:image_link", &urls::absolute(&s.base_url, main));
    for more in card.more_images.iter().take(MAX_ADDITIONAL_IMAGES) {
        element(
            xml,
            "g:additional_image_link",
            &urls::absolute(&s.base_url, &more.largest),
        );
    }
    let availability = if StockView::of(product).in_stock {
        "in_stock"
    } else {
        "out_of_stock"
    };
    element(xml, "g:availability", availability);
    // On sale, `g:price` is the price before the sale and `g:sale_price`
    // what the shopper pays.
    match m.compare_at_price {
        Some(was) => {
            element(xml, "g:price", &amount(was));
            element(xml, "g:sale_price", &amount(product.price));
        }
        None => element(xml, "g:price", &amount(product.price)),
    }
    element(xml, "g:brand", &s.brand);
    element(xml, "g:condition", s.condition.as_str());
    if let Some(gtin) = &m.gtin {
        element(xml, "g:gtin", gtin.as_str());
    }
    if let Some(mpn) = &m.mpn {
        element(xml, "g:mpn", mpn);
    }
    if m.gtin.is_none() && m.mpn.is_none() {
        element(xml, "g:identifier_exists", "no");
    }
    element(xml, "g:product_type", product.category.as_str());
    if let Some(shipping) = &s.shipping {
        let (transit_min, transit_max) = shipping.transit_days;
        for rate in &shipping.rates {
            for country in &rate.countries {
                xml.push_str("<g:shipping>");
                element_inline(xml, "g:country", country);
                element_inline(xml, "g:price", &amount(rate.price));
                element_inline(xml, "g:min_transit_time", &transit_min.to_string());
                element_inline(xml, "g:max_transit_time", &transit_max.to_string());
                xml.push_str("</g:shipping>\n");
            }
        }
        let (handling_min, handling_max) = shipping.handling_days;
        element(xml, "g:min_handling_time", &handling_min.to_string());
        element(xml, "g:max_handling_time", &handling_max.to_string());
    }
    xml.push_str("</item>\n");
}

/// `<name>text</name>` and a newline.
fn element(xml: &mut String, name: &str, text: &str) {
    element_inline(xml, name, text);
    xml.push('\n');
}

fn element_inline(xml: &mut String, name: &str, text: &str) {
    let _ = write!(xml, "<{name}>{}</{name}>", xml_escape(text));
}
