//! The URL layout, in one place. Every link on every page and every object key
//! comes from these functions.
//!
//! | URL | object key |
//! |---|---|
//! | `/`, `/page/N/` | `index.html`, `page/N/index.html` |
//! | `/categories/<slug>/`, `/categories/<slug>/page/N/` | `…/index.html` |
//! | `/products/<slug>/` | `products/<slug>/index.html` |
//! | `/search/` | `search/index.html` |
//! | `/404.html`, `/products.json`, `/sitemap.xml`, `/robots.txt` | the same, without `/` |
//! | `/feeds/google-merchant.xml` | the same, without `/` |
//! | `/assets/<name>.<hash>.<ext>` | fingerprinted theme assets |

use catalog::{Product, Slug};

pub const SEARCH: &str = "/search/";
pub const NOT_FOUND: &str = "/404.html";
pub const PRODUCTS_JSON: &str = "/products.json";
pub const SITEMAP: &str = "/sitemap.xml";
pub const ROBOTS: &str = "/robots.txt";
/// The Google Merchant Center product feed (RSS 2.0 with the `g:` namespace).
pub const MERCHANT_FEED: &str = "/feeds/google-merchant.xml";
/// The most URLs one sitemap file may hold (sitemaps.org).
pub const SITEMAP_MAX_URLS: usize = 50_000;

/// Page `n` (from 1) of the catalog listing.
pub fn home(page: usize) -> String {
    if page <= 1 {
        "/".to_owned()
    } else {
        format!("/page/{page}/")
    }
}

/// Page `n` (from 1) of a category listing.
pub fn category(slug: &Slug, page: usize) -> String {
    if page <= 1 {
        format!("/categories/{slug}/")
    } else {
        format!("/categories/{slug}/page/{page}/")
    }
}

pub fn product(slug: &Slug) -> String {
    format!("/products/{slug}/")
}

/// Part `n` (from 1) of a sitemap split because it has too many URLs.
pub fn sitemap_part(n: usize) -> String {
    format!("/sitemaps/sitemap-{n}.xml")
}

/// `/assets/site.3f2a9c1b.css` for `site.css` with that hash prefix.
pub fn asset(name: &str, hash: &str) -> String {
    match name.rsplit_once('.') {
        Some((stem, ext)) => format!("/assets/{stem}.{hash}.{ext}"),
        None => format!("/assets/{name}.{hash}"),
    }
}

/// The object key (a relative file path) that serves `url`: directory URLs map
/// to their `index.html`.
pub fn key_for(url: &str) -> String {
    let path = url.trim_start_matches('/');
    if path.is_empty() || path.ends_with('/') {
        format!("{path}index.html")
    } else {
        path.to_owned()
    }
}

/// The URLs a key is reachable at: `products/x/index.html` is served both as
/// `/products/x/` and `/products/x/index.html`.
pub fn urls_for_key(key: &str) -> Vec<String> {
    match key.strip_suffix("index.html") {
        Some(dir) if dir.is_empty() || dir.ends_with('/') => {
            vec![format!("/{dir}"), format!("/{key}")]
        }
        _ => vec![format!("/{key}")],
    }
}

/// Joins the site's origin and a site-relative URL.
pub fn absolute(base_url: &str, url: &str) -> String {
    if url.starts_with("https://") || url.starts_with("http://") {
        url.to_owned()
    } else {
        format!("{base_url}{url}")
    }
}

/// A `mailto:` link to `address` whose subject names the product, every
/// byte outside RFC 3986's unreserved set percent-encoded.
pub fn mailto(address: &str, product: &Product) -> String {
    let subject = format!(
        "About: {} (item {})",
        product.name.as_str(),
        product.id.get()
    );
    format!(
        "mailto:{}?subject={}",
        percent_encode(address, b"@+"),
        percent_encode(&subject, b"")
    )
}

/// Where the product is bought: its `buy_url` (checked to be `https://`
/// with nothing that needs quoting), if it has one.
pub fn buy(product: &Product) -> Option<String> {
    product
        .merchandising
        .buy_url
        .as_ref()
        .map(|u| u.as_str().to_owned())
}

/// `%XX` for every byte but RFC 3986's unreserved characters and `keep`.
fn percent_encode(text: &str, keep: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(text.len() * 3 / 2);
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) || keep.contains(&b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout() {
        let slug = Slug::parse("kitchen").unwrap();
        assert_eq!(home(1), "/");
        assert_eq!(home(2), "/page/2/");
        assert_eq!(category(&slug, 1), "/categories/kitchen/");
        assert_eq!(category(&slug, 3), "/categories/kitchen/page/3/");
        assert_eq!(product(&slug), "/products/kitchen/");
        assert_eq!(asset("site.css", "0123abcd"), "/assets/site.0123abcd.css");
    }

    #[test]
    fn keys_and_urls_round_trip() {
        assert_eq!(key_for("/"), "index.html");
        assert_eq!(key_for("/products/x/"), "products/x/index.html");
        assert_eq!(key_for("/products.json"), "products.json");
        assert_eq!(urls_for_key("index.html"), ["/", "/index.html"]);
        assert_eq!(
            urls_for_key("products/x/index.html"),
            ["/products/x/", "/products/x/index.html"]
        );
        assert_eq!(urls_for_key("404.html"), ["/404.html"]);
        assert_eq!(urls_for_key("assets/a.1.css"), ["/assets/a.1.css"]);
        assert_eq!(key_for(MERCHANT_FEED), "feeds/google-merchant.xml");
        assert_eq!(absolute("https://s.example", "/a/"), "https://s.example/a/");
        assert_eq!(
            absolute("https://s.example", "https://cdn.example/a.png"),
            "https://cdn.example/a.png"
        );
    }

    #[test]
    fn mailto_encodes_the_subject() {
        let at = chrono::DateTime::UNIX_EPOCH;
        let product = Product {
            id: catalog::ProductId::new(42).unwrap(),
            slug: Slug::parse("tea-tin").unwrap(),
            name: catalog::ProductName::parse("Café & Tea Tin? 50% #1").unwrap(),
            description: String::new(),
            price: catalog::Price::parse("1").unwrap(),
            images: Vec::new(),
            category: catalog::CategoryName::parse("Tea").unwrap(),
            stock_quantity: catalog::StockQuantity::new(1).unwrap(),
            merchandising: catalog::Merchandising::default(),
            created_at: at,
            updated_at: at,
        };
        assert_eq!(
            mailto("hello+shop@a.example", &product),
            "mailto:hello+shop@a.example?subject=About%3A%20Caf%C3%A9%20%26%20Tea%20Tin%3F%2050%25%20%231%20%28item%2042%29"
        );
        assert_eq!(buy(&product), None);
    }
}
