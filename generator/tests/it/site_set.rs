//! The site has exactly the pages the catalog calls for.

use std::collections::BTreeSet;

use render::site::CachePolicy;
use render::urls;

use crate::common::*;

fn expected_pages(catalog: &catalog::Catalog) -> BTreeSet<String> {
    let per_page = catalog.settings.products_per_page;
    let pages = |n: usize| n.div_ceil(per_page).max(1);
    let mut keys = BTreeSet::new();
    for n in 1..=pages(catalog.products.len()) {
        keys.insert(urls::key_for(&urls::home(n)));
    }
    for c in &catalog.categories {
        for n in 1..=pages(c.products.len()) {
            keys.insert(urls::key_for(&urls::category(&c.slug, n)));
        }
    }
    for p in &catalog.products {
        keys.insert(urls::key_for(&urls::product(&p.slug)));
    }
    for fixed in [
        urls::SEARCH,
        urls::NOT_FOUND,
        urls::PRODUCTS_JSON,
        urls::SITEMAP,
        urls::ROBOTS,
        urls::MERCHANT_FEED,
    ] {
        keys.insert(urls::key_for(fixed));
    }
    keys
}

#[test]
fn the_shop_in_content_has_every_page_its_catalog_calls_for() {
    let built = pipeline::build_from_content(&config_for(&repo_root().join("content"))).unwrap();
    let expected = expected_pages(&built.catalog);
    let generated: BTreeSet<String> = built
        .site
        .iter()
        .map(|(k, _)| k.to_owned())
        .filter(|k| !k.starts_with("assets/") && !k.starts_with("images/"))
        .collect();
    assert_eq!(generated, expected);
    assert!(
        built.catalog.products.len() >= 90,
        "the shop has about 100 products"
    );
    assert!(
        built.catalog.categories.len() >= 6,
        "the shop has about 8 categories"
    );

    // Every image a product names is in the site.
    for p in &built.catalog.products {
        let url = p.image_url().expect("every shop product has an image");
        assert!(
            built
                .site
                .get(url.as_str().trim_start_matches('/'))
                .is_some(),
            "{} is missing",
            url.as_str()
        );
    }
    // Images stay small.
    let image_bytes: u64 = built
        .site
        .iter()
        .filter(|(k, _)| k.starts_with("images/"))
        .map(|(_, p)| p.body.len() as u64)
        .sum();
    assert!(
        image_bytes < 5 * 1024 * 1024,
        "{image_bytes} bytes of images"
    );

    // products.json lists every product.
    let json: serde_json::Value =
        serde_json::from_str(&text(&built.site, "products.json")).unwrap();
    assert_eq!(
        json["products"].as_array().unwrap().len(),
        built.catalog.products.len()
    );
    assert_eq!(json["catalog_version"], built.catalog.version.as_str());
    assert_eq!(json["generated_at"], "2026-11-01T12:00:00Z");

    // The sitemap lists every product page with its lastmod.
    let sitemap = text(&built.site, "sitemap.xml");
    for p in &built.catalog.products {
        let loc = format!(
            "<loc>https://shop.example.com/products/{}/</loc><lastmod>",
            p.slug
        );
        assert!(sitemap.contains(&loc), "sitemap lacks {loc}");
    }
    assert!(
        text(&built.site, "robots.txt").contains("Sitemap: https://shop.example.com/sitemap.xml")
    );
}

#[test]
fn assets_are_fingerprinted_and_immutable() {
    let built = pipeline::build_from_content(&config_for(&repo_root().join("content"))).unwrap();
    let home = text(&built.site, "index.html");
    let assets: Vec<_> = built
        .site
        .iter()
        .filter(|(k, _)| k.starts_with("assets/"))
        .collect();
    assert!(
        assets
            .iter()
            .any(|(k, _)| k.starts_with("assets/site.") && k.ends_with(".css"))
    );
    for (key, page) in assets {
        let parts: Vec<_> = key.trim_start_matches("assets/").split('.').collect();
        assert_eq!(parts.len(), 3, "{key} is name.hash.ext");
        assert_eq!(
            parts[1],
            render::fingerprint(&page.body.read().unwrap()),
            "{key}"
        );
        assert_eq!(page.cache, CachePolicy::Immutable);
        if key.ends_with(".css") {
            assert!(
                home.contains(&format!("href=\"/{key}\"")),
                "home links {key}"
            );
        }
    }
}

#[test]
fn pagination_edges() {
    // (products, per page) → listing pages expected
    for (count, per_page, pages) in [(0, 3, 1), (1, 3, 1), (3, 3, 1), (4, 3, 2)] {
        let products: Vec<P> = (1..=count)
            .map(|i| p(i, &format!("Item {i}"), "Kitchen"))
            .collect();
        let shop = Shop::new(&products, per_page);
        let built = shop.build().unwrap();
        let listing: Vec<_> = built
            .site
            .iter()
            .map(|(k, _)| k)
            .filter(|k| *k == "index.html" || k.starts_with("page/"))
            .collect();
        assert_eq!(
            listing.len(),
            pages,
            "{count} products, {per_page} per page: {listing:?}"
        );
        let home = text(&built.site, "index.html");
        if count == 0 {
            assert!(home.contains("No products yet"));
            assert!(built.catalog.categories.is_empty());
        }
        if pages == 2 {
            assert!(
                home.contains("href=\"/page/2/\" rel=\"next\""),
                "page 1 links page 2"
            );
            let second = text(&built.site, "page/2/index.html");
            assert!(
                second.contains("href=\"/\" rel=\"prev\""),
                "page 2 links page 1"
            );
            assert_eq!(
                second.matches("class=\"card\"").count(),
                1,
                "one product on the last page"
            );
            let category = text(&built.site, "categories/kitchen/page/2/index.html");
            assert!(category.contains("Kitchen — page 2 of 2"));
        } else {
            assert!(!home.contains("rel=\"next\""));
        }
        assert_eq!(
            home.matches("class=\"card\"").count(),
            count.min(per_page as i64) as usize
        );
    }
}

#[test]
fn stock_levels_and_prices_show_on_product_pages() {
    let mut out = p(1, "Empty Jar", "Kitchen");
    out.stock = 0;
    let mut low = p(2, "Rare Jar", "Kitchen");
    low.stock = 3;
    low.price = "1234.5".into();
    let shop = Shop::new(&[out, low, p(3, "Full Jar", "Kitchen")], 10);
    let built = shop.build().unwrap();
    let empty = text(&built.site, "products/empty-jar/index.html");
    assert!(empty.contains(">Out of stock<"));
    assert!(empty.contains("\"availability\":\"https://schema.org/OutOfStock\""));
    let rare = text(&built.site, "products/rare-jar/index.html");
    assert!(rare.contains(">Only 3 left<"));
    assert!(rare.contains("€1,234.50"));
    assert!(rare.contains("\"price\":\"1234.50\",\"priceCurrency\":\"EUR\""));
    assert!(text(&built.site, "products/full-jar/index.html").contains(">In stock<"));
}

#[test]
fn the_embedded_theme_is_used_when_no_theme_folder_exists() {
    let shop = Shop::new(&[p(1, "Mug", "Kitchen")], 10);
    let mut config = shop.config();
    config.themes_dir = shop.dir.path().join("no-themes-here");
    let built = pipeline::build_from_content(&config).unwrap();
    let from_disk = shop.build().unwrap();
    assert_eq!(
        built.site, from_disk.site,
        "the embedded theme is the theme on disk"
    );
}

#[test]
fn a_site_template_overrides_the_theme() {
    let shop = Shop::new(&[p(1, "Mug", "Kitchen")], 10);
    shop.write(
        "templates/404.html",
        "{% extends \"base.html\" %}{% block main %}<h1>Lost at sea</h1>{% endblock main %}",
    );
    let built = shop.build().unwrap();
    assert!(text(&built.site, "404.html").contains("<h1>Lost at sea</h1>"));
    assert!(text(&built.site, "404.html").contains("<title>Page not found — Test Shop</title>"));
}
