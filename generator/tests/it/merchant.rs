//! What Google reads from the shop in content/: the Merchant Center feed
//! (parsed as XML) and each product page's JSON-LD (parsed as JSON), checked
//! against the attributes Merchant Center and merchant listings require; and
//! a draft, which is in neither, nor anywhere else.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;

use pipeline::Built;
use render::site::CachePolicy;
use render::urls;

use crate::common::*;

const G: &str = "http://base.google.com/ns/1.0";

fn content_shop() -> Built {
    pipeline::build_from_content(&config_for(&repo_root().join("content"))).unwrap()
}

/// `^\d+\.\d{2} [A-Z]{3}$`, and the amount in cents.
fn price_cents(text: &str) -> Option<u64> {
    let (amount, currency) = text.split_once(' ')?;
    let (whole, cents) = amount.split_once('.')?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    (digits(whole)
        && cents.len() == 2
        && digits(cents)
        && currency.len() == 3
        && currency.bytes().all(|b| b.is_ascii_uppercase()))
    .then(|| {
        whole
            .parse::<u64>()
            .ok()
            .map(|w| w * 100 + cents.parse::<u64>().unwrap())
    })
    .flatten()
}

#[test]
fn price_pattern() {
    assert_eq!(price_cents("49.90 EUR"), Some(4990));
    for bad in [
        "49.9 EUR",
        "49.90 eur",
        "49.90",
        ".90 EUR",
        "49.90 EURO",
        "4a.90 EUR",
    ] {
        assert_eq!(price_cents(bad), None, "{bad}");
    }
}

#[test]
fn every_feed_item_has_what_merchant_center_requires() {
    let built = content_shop();
    let catalog = &built.catalog;
    let page = built
        .site
        .get("feeds/google-merchant.xml")
        .expect("the feed");
    assert_eq!(
        urls::key_for(urls::MERCHANT_FEED),
        "feeds/google-merchant.xml"
    );
    assert_eq!(page.cache, CachePolicy::Short, "as products.json");
    assert_eq!(page.cache, built.site.get("products.json").unwrap().cache);
    assert_eq!(page.content_type, "application/xml; charset=utf-8");

    let xml = text(&built.site, "feeds/google-merchant.xml");
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let rss = doc.root_element();
    assert!(rss.has_tag_name("rss") && rss.attribute("version") == Some("2.0"));
    assert_eq!(rss.lookup_namespace_uri(Some("g")), Some(G));
    let channel = rss.children().find(|n| n.has_tag_name("channel")).unwrap();
    for required in ["title", "link", "description"] {
        let text = channel
            .children()
            .find(|n| n.has_tag_name(required))
            .and_then(|n| n.text())
            .unwrap_or_default();
        assert!(!text.trim().is_empty(), "channel {required}");
    }

    let items: Vec<_> = channel
        .children()
        .filter(|n| n.has_tag_name("item"))
        .collect();
    assert_eq!(items.len(), catalog.products.len());
    let mut ids = BTreeSet::new();
    let mut sales = 0;
    for item in &items {
        let all = |name: &str| -> Vec<String> {
            item.children()
                .filter(|n| n.has_tag_name((G, name)))
                .map(|n| n.text().unwrap_or_default().to_owned())
                .collect()
        };
        let one = |name: &str| -> Option<String> {
            let mut values = all(name);
            assert!(values.len() <= 1, "{name} appears {} times", values.len());
            values.pop()
        };
        let need = |name: &str| -> String {
            let value = one(name).unwrap_or_else(|| panic!("an item without g:{name}"));
            assert!(!value.trim().is_empty(), "an empty g:{name}");
            value
        };
        let id = need("id");
        assert!(ids.insert(id.clone()), "id {id} twice");
        let product = catalog
            .products
            .iter()
            .find(|p| p.id.get().to_string() == id)
            .unwrap_or_else(|| panic!("g:id {id} is not an active product"));

        assert!(need("title").chars().count() <= 150);
        let description = need("description");
        assert!(description.chars().count() <= 5000);
        assert!(
            !description.contains('<') && !description.contains('>'),
            "{id}: tags in {description}"
        );
        assert!(
            !description.contains("**"),
            "{id}: Markdown in {description}"
        );

        let link = need("link");
        let path = link
            .strip_prefix("https://shop.example.com")
            .unwrap_or_else(|| panic!("{link} is not absolute https on the shop"));
        assert_eq!(path, urls::product(&product.slug));
        assert!(built.site.get(&urls::key_for(path)).is_some(), "{link}");

        for image in std::iter::once(need("image_link")).chain(all("additional_image_link")) {
            let path = image
                .strip_prefix("https://shop.example.com/")
                .unwrap_or_else(|| panic!("{image} is not absolute"));
            assert!(built.site.get(path).is_some(), "{image} is not in the site");
        }
        assert!(all("additional_image_link").len() <= 10);

        let availability = need("availability");
        assert!(
            ["in_stock", "out_of_stock"].contains(&availability.as_str()),
            "{availability}"
        );
        assert_eq!(availability == "in_stock", product.in_stock());

        let price = need("price");
        let regular = price_cents(&price).unwrap_or_else(|| panic!("{id}: g:price {price:?}"));
        assert!(price.ends_with(" EUR"));
        match one("sale_price") {
            Some(sale) => {
                sales += 1;
                assert!(product.on_sale(), "{id}: a sale price, not on sale");
                let sale_cents = price_cents(&sale).unwrap();
                assert!(sale_cents < regular, "{id}: {sale} is not below {price}");
                assert_eq!(sale, format!("{} EUR", product.price));
            }
            None => {
                assert!(!product.on_sale(), "{id}: on sale without g:sale_price");
                assert_eq!(price, format!("{} EUR", product.price));
            }
        }

        assert_eq!(need("brand"), catalog.settings.brand);
        assert!(["new", "refurbished", "used"].contains(&need("condition").as_str()));
        let (gtin, mpn) = (one("gtin"), one("mpn"));
        assert_eq!(
            gtin.as_deref(),
            product.merchandising.gtin.as_ref().map(|g| g.as_str())
        );
        assert_eq!(mpn.as_deref(), product.merchandising.mpn.as_deref());
        if gtin.is_none() && mpn.is_none() {
            assert_eq!(one("identifier_exists").as_deref(), Some("no"), "{id}");
        } else {
            assert_ne!(one("identifier_exists").as_deref(), Some("no"), "{id}");
        }
    }
    let on_sale = catalog.products.iter().filter(|p| p.on_sale()).count();
    assert_eq!(sales, on_sale);
    assert!(on_sale >= 5, "the shop shows off its sales");
    assert!(
        catalog
            .products
            .iter()
            .any(|p| p.merchandising.gtin.is_some()),
        "and its GTINs"
    );
}

/// Every `<script type="application/ld+json">` of a page, parsed.
fn json_ld_blocks(html: &str) -> Vec<Value> {
    const OPEN: &str = "<script type=\"application/ld+json\">";
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(at) = rest.find(OPEN) {
        rest = &rest[at + OPEN.len()..];
        let end = rest.find("</script>").expect("a closed script");
        out.push(serde_json::from_str(&rest[..end]).expect("JSON-LD parses"));
        rest = &rest[end..];
    }
    out
}

fn non_empty_str<'v>(v: &'v Value, what: &str) -> &'v str {
    let s = v
        .as_str()
        .unwrap_or_else(|| panic!("{what} is not a string: {v}"));
    assert!(!s.trim().is_empty(), "{what} is empty");
    s
}

#[test]
fn every_product_page_has_merchant_listing_structured_data() {
    let built = content_shop();
    let catalog = &built.catalog;
    let s = &catalog.settings;
    assert!(
        s.shipping.is_some() && s.returns.is_some(),
        "content/ sets both"
    );
    for product in &catalog.products {
        let key = urls::key_for(&urls::product(&product.slug));
        let blocks = json_ld_blocks(&text(&built.site, &key));
        let items: Vec<&Value> = blocks
            .iter()
            .flat_map(|b| b.as_array().map_or_else(|| vec![b], |a| a.iter().collect()))
            .collect();
        let ld = items
            .iter()
            .find(|v| v["@type"] == "Product")
            .unwrap_or_else(|| panic!("{key}: no Product"));
        assert!(items.iter().any(|v| v["@type"] == "BreadcrumbList"));
        assert_eq!(ld["@context"], "https://schema.org");
        assert_eq!(non_empty_str(&ld["name"], "name"), product.name.as_str());
        assert_eq!(ld["sku"], product.id.get().to_string());
        non_empty_str(&ld["description"], "description");
        let images = ld["image"].as_array().expect("image is a list");
        assert!(!images.is_empty());
        for image in images {
            assert!(non_empty_str(image, "image").starts_with("https://shop.example.com/"));
        }
        assert_eq!(ld["brand"]["@type"], "Brand");
        assert_eq!(non_empty_str(&ld["brand"]["name"], "brand.name"), s.brand);
        match &product.merchandising.gtin {
            Some(gtin) => {
                let key = format!("gtin{}", gtin.as_str().len());
                assert_eq!(ld[key.as_str()], gtin.as_str(), "{key}");
            }
            None => assert!(
                ["gtin", "gtin8", "gtin12", "gtin13", "gtin14"]
                    .iter()
                    .all(|k| ld.get(*k).is_none())
            ),
        }
        assert_eq!(
            ld.get("mpn").and_then(Value::as_str),
            product.merchandising.mpn.as_deref()
        );

        let offer = &ld["offers"];
        assert_eq!(offer["@type"], "Offer");
        let price = non_empty_str(&offer["price"], "offers.price");
        assert_eq!(price, product.price.to_string());
        assert_eq!(offer["priceCurrency"], "EUR");
        assert!(
            [
                "https://schema.org/InStock",
                "https://schema.org/LimitedAvailability",
                "https://schema.org/OutOfStock"
            ]
            .contains(&non_empty_str(&offer["availability"], "availability"))
        );
        assert_eq!(offer["itemCondition"], "https://schema.org/NewCondition");
        assert_eq!(
            offer["url"],
            format!("https://shop.example.com{}", urls::product(&product.slug))
        );
        assert_eq!(ld["url"], offer["url"]);

        match product.merchandising.compare_at_price {
            Some(was) => {
                let spec = &offer["priceSpecification"];
                assert_eq!(spec["@type"], "UnitPriceSpecification");
                assert_eq!(spec["priceType"], "https://schema.org/StrikethroughPrice");
                assert_eq!(spec["price"], was.to_string());
                assert_eq!(spec["priceCurrency"], "EUR");
                assert!(was > product.price);
            }
            None => assert!(offer.get("priceSpecification").is_none()),
        }

        let details = offer["shippingDetails"]
            .as_array()
            .expect("shippingDetails");
        assert!(!details.is_empty());
        for d in details {
            assert_eq!(d["@type"], "OfferShippingDetails");
            assert_eq!(d["shippingRate"]["@type"], "MonetaryAmount");
            let value = non_empty_str(&d["shippingRate"]["value"], "shippingRate.value");
            assert!(price_cents(&format!("{value} EUR")).is_some(), "{value}");
            assert_eq!(d["shippingRate"]["currency"], "EUR");
            assert_eq!(d["shippingDestination"]["@type"], "DefinedRegion");
            let countries = d["shippingDestination"]["addressCountry"]
                .as_array()
                .unwrap();
            assert!(!countries.is_empty());
            for c in countries {
                let c = non_empty_str(c, "addressCountry");
                assert!(c.len() == 2 && c.bytes().all(|b| b.is_ascii_uppercase()));
            }
            let time = &d["deliveryTime"];
            assert_eq!(time["@type"], "ShippingDeliveryTime");
            for part in ["handlingTime", "transitTime"] {
                let q = &time[part];
                assert_eq!(q["@type"], "QuantitativeValue");
                assert_eq!(q["unitCode"], "DAY");
                let (min, max) = (
                    q["minValue"].as_u64().unwrap(),
                    q["maxValue"].as_u64().unwrap(),
                );
                assert!(min <= max, "{part}");
            }
        }
        let policy = &offer["hasMerchantReturnPolicy"];
        assert_eq!(policy["@type"], "MerchantReturnPolicy");
        assert!(!policy["applicableCountry"].as_array().unwrap().is_empty());
        assert_eq!(
            policy["returnPolicyCategory"],
            "https://schema.org/MerchantReturnFiniteReturnWindow"
        );
        assert_eq!(policy["merchantReturnDays"], 30);
        assert_eq!(policy["returnMethod"], "https://schema.org/ReturnByMail");
        assert_eq!(policy["returnFees"], "https://schema.org/FreeReturn");
    }
}

fn copy_tree(from: &Path, to: &Path) {
    for entry in walkdir::WalkDir::new(from) {
        let entry = entry.unwrap();
        let target = to.join(entry.path().strip_prefix(from).unwrap());
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

#[test]
fn a_draft_is_in_no_output() {
    let dir = tempfile::tempdir().unwrap();
    let content = dir.path().join("content");
    copy_tree(&repo_root().join("content"), &content);
    // An on-sale product with a GTIN, so every place it could show is
    // tried; no other product's description links to it.
    let file = content.join("products/hand-coffee-grinder.md");
    let text_before = std::fs::read_to_string(&file).unwrap();
    let drafted = text_before.replacen("\nprice = ", "\nstatus = \"draft\"\nprice = ", 1);
    assert_ne!(drafted, text_before);
    std::fs::write(&file, drafted).unwrap();

    let full = content_shop();
    let built = pipeline::build_from_content(&config_for(&content)).unwrap();
    let draft = built
        .catalog
        .unlisted
        .iter()
        .find(|p| p.slug.as_str() == "hand-coffee-grinder")
        .expect("the draft is unlisted");
    assert_eq!(
        built.catalog.products.len() + 1,
        full.catalog.products.len()
    );

    let key = urls::key_for(&urls::product(&draft.slug));
    assert!(full.site.get(&key).is_some(), "published while active");
    assert!(built.site.get(&key).is_none(), "{key} is still built");

    let page_url = urls::product(&draft.slug);
    let id = draft.id.get().to_string();
    for (key, page) in built.site.iter() {
        if !(key.ends_with(".html") || key.ends_with(".xml") || key.ends_with(".json")) {
            continue;
        }
        let body = String::from_utf8(page.body.read().unwrap().into_owned()).unwrap();
        assert!(!body.contains(&page_url), "{key} links to the draft");
        assert!(!body.contains(draft.name.as_str()), "{key} names the draft");
    }
    let json: Value = serde_json::from_str(&text(&built.site, "products.json")).unwrap();
    let products = json["products"].as_array().unwrap();
    assert_eq!(products.len(), built.catalog.products.len());
    assert!(products.iter().all(|p| p["id"] != draft.id.get()));
    assert!(products.iter().all(|p| p["status"] == "active"));
    let feed = text(&built.site, "feeds/google-merchant.xml");
    assert!(!feed.contains(&format!("<g:id>{id}</g:id>")));
    let doc = roxmltree::Document::parse(&feed).unwrap();
    assert_eq!(
        doc.descendants().filter(|n| n.has_tag_name("item")).count(),
        built.catalog.products.len()
    );
    assert!(!text(&built.site, "sitemap.xml").contains(&page_url));
}
