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
//! | `/assets/<name>.<hash>.<ext>` | fingerprinted theme assets |

use catalog::Slug;

pub const SEARCH: &str = "/search/";
pub const NOT_FOUND: &str = "/404.html";
pub const PRODUCTS_JSON: &str = "/products.json";
pub const SITEMAP: &str = "/sitemap.xml";
pub const ROBOTS: &str = "/robots.txt";
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
        assert_eq!(absolute("https://s.example", "/a/"), "https://s.example/a/");
        assert_eq!(
            absolute("https://s.example", "https://cdn.example/a.png"),
            "https://cdn.example/a.png"
        );
    }
}
