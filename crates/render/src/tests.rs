//! Whole renders of small catalogs: what the pages, the structured data and
//! the Merchant Center feed say about a product.

use chrono::{DateTime, Utc};
use indicatif::ProgressBar;
use serde_json::Value;

use catalog::{
    BuyUrl, CallToAction, Catalog, CategoryName, Condition, CurrencyCode, Gtin, Image,
    Merchandising, Origin, Price, Product, ProductId, ProductName, ReturnFees, ReturnMethod,
    Returns, Shipping, ShippingRate, SiteSettings, Slug, Status, StockQuantity,
};

use super::*;

fn settings() -> SiteSettings {
    SiteSettings {
        title: "Test Shop".into(),
        tagline: None,
        description: "A shop for tests.".into(),
        base_url: "https://shop.example.com".into(),
        currency: CurrencyCode::parse("EUR").unwrap(),
        locale: "en-IE".into(),
        theme: "default".into(),
        products_per_page: 12,
        brand: "Test Brand".into(),
        condition: Condition::New,
        call_to_action: CallToAction::None,
        shipping: None,
        returns: None,
    }
}

fn product(id: i64, name: &str) -> Product {
    let at = DateTime::parse_from_rfc3339("2026-01-05T10:00:00Z")
        .unwrap()
        .with_timezone(&Utc);
    Product {
        id: ProductId::new(id).unwrap(),
        slug: Slug::from_text(name).unwrap(),
        name: ProductName::parse(name).unwrap(),
        description: format!("About **{name}**.\n\n- sturdy\n- useful"),
        price: Price::parse("49.90").unwrap(),
        images: vec![Image::parse("/images/x.svg", "").unwrap()],
        category: CategoryName::parse("Kitchen").unwrap(),
        stock_quantity: StockQuantity::new(12).unwrap(),
        merchandising: Merchandising::default(),
        created_at: at,
        updated_at: at,
    }
}

fn on_sale(mut p: Product) -> Product {
    p.merchandising.compare_at_price = Some(Price::parse("59.90").unwrap());
    p
}

fn catalog_of(settings: SiteSettings, products: Vec<Product>) -> Catalog {
    let sourced = products
        .into_iter()
        .map(|p| {
            let origin = Origin::Row(p.id);
            (p, origin)
        })
        .collect();
    Catalog::assemble(settings, sourced).unwrap()
}

fn theme() -> Theme {
    Theme::load(&ThemeLocation {
        themes_dir: "/nonexistent".into(),
        name: "default".into(),
        overrides: None,
    })
    .unwrap()
}

fn site_of(catalog: &Catalog) -> Site {
    let options = RenderOptions {
        generated_at: catalog.last_changed(),
        progress: ProgressBar::hidden(),
    };
    render(
        catalog,
        &theme(),
        &StaticFiles::new(),
        &Photos::new(),
        &options,
    )
    .unwrap()
}

fn page(site: &Site, key: &str) -> String {
    let body = site
        .get(key)
        .unwrap_or_else(|| panic!("no {key}"))
        .body
        .read()
        .unwrap();
    String::from_utf8(body.into_owned()).unwrap()
}

fn product_page(site: &Site, p: &Product) -> String {
    page(site, &urls::key_for(&urls::product(&p.slug)))
}

/// The `Product` object of a page's JSON-LD.
fn product_ld(html: &str) -> Value {
    let start = html.find("<script type=\"application/ld+json\">").unwrap() + 35;
    let end = start + html[start..].find("</script>").unwrap();
    let all: Value = serde_json::from_str(&html[start..end]).unwrap();
    all.as_array()
        .unwrap()
        .iter()
        .find(|v| v["@type"] == "Product")
        .unwrap()
        .clone()
}

fn meta_content<'h>(html: &'h str, attr: &str) -> &'h str {
    let at = html.find(attr).unwrap_or_else(|| panic!("no {attr}"));
    let rest = &html[at..];
    let start = rest.find("content=\"").unwrap() + 9;
    let end = start + rest[start..].find('"').unwrap();
    &rest[start..end]
}

#[test]
fn a_sale_shows_the_old_price_struck_through_with_words_not_only_colour() {
    let sale = on_sale(product(1, "Walnut Tray"));
    let plain = product(2, "Oak Board");
    let catalog = catalog_of(settings(), vec![sale.clone(), plain.clone()]);
    let site = site_of(&catalog);

    let html = product_page(&site, &sale);
    assert!(
        html.contains("<span class=\"visually-hidden\">Sale price: </span><span class=\"price price-now\">€49.90</span> <s class=\"price-was\"><span class=\"visually-hidden\">was </span>€59.90</s>"),
        "{html}"
    );
    assert!(html.contains(">Sale</span>"), "the badge");
    let html = product_page(&site, &plain);
    assert!(!html.contains("price-was") && !html.contains(">Sale</span>"));
    assert!(html.contains(
        "<span class=\"visually-hidden\">Price: </span><span class=\"price\">€49.90</span>"
    ));

    // The listing's cards, from the same view.
    let home = page(&site, "index.html");
    assert_eq!(home.matches("<s class=\"price-was\">").count(), 1, "{home}");
    assert_eq!(home.matches(">Sale</span>").count(), 1);
}

#[test]
fn search_titles_and_descriptions_fall_back_to_the_name_and_a_summary() {
    let mut own = product(1, "Walnut Tray");
    own.merchandising.seo_title = Some("Walnut tray, oiled by hand".into());
    own.merchandising.seo_description = Some("A tray & more.".into());
    let mut long = product(2, "Oak Board");
    long.description = format!("{}\n\nSecond paragraph.", "wood ".repeat(60).trim());
    let catalog = catalog_of(settings(), vec![own.clone(), long.clone()]);
    let site = site_of(&catalog);

    let html = product_page(&site, &own);
    assert!(html.contains("<title>Walnut tray, oiled by hand</title>"));
    assert_eq!(
        meta_content(&html, "property=\"og:title\""),
        "Walnut tray, oiled by hand"
    );
    assert_eq!(
        meta_content(&html, "name=\"description\""),
        "A tray &amp; more."
    );
    assert_eq!(
        meta_content(&html, "property=\"og:description\""),
        "A tray &amp; more."
    );

    let html = product_page(&site, &long);
    assert!(html.contains("<title>Oak Board — Test Shop</title>"));
    let description = meta_content(&html, "name=\"description\"");
    assert!(description.chars().count() <= 160, "{description}");
    assert!(
        description.ends_with("wood…"),
        "cut at a word: {description}"
    );
    assert_eq!(
        meta_content(&html, "property=\"og:description\""),
        description
    );
}

#[test]
fn the_call_to_action_follows_the_settings() {
    let mut p = product(7, "Café & Tea Tin");
    p.merchandising.buy_url = Some(BuyUrl::parse("https://pay.example.com/b/tin?x=1&y=2").unwrap());
    let mut out = product(8, "Empty Jar");
    out.stock_quantity = StockQuantity::new(0).unwrap();
    out.merchandising.buy_url = Some(BuyUrl::parse("https://pay.example.com/b/jar").unwrap());
    let without = product(9, "Plain Cup");
    let products = vec![p.clone(), out.clone(), without.clone()];

    let site = site_of(&catalog_of(settings(), products.clone()));
    for q in &products {
        let html = product_page(&site, q);
        assert!(!html.contains("call-to-action"), "none by default");
    }

    let mut s = settings();
    s.call_to_action = CallToAction::Email("hello@shop.example.com".into());
    let site = site_of(&catalog_of(s, products.clone()));
    let html = product_page(&site, &p);
    assert!(
        html.contains("href=\"mailto:hello@shop.example.com?subject=About%3A%20Caf%C3%A9%20%26%20Tea%20Tin%20%28item%207%29\">Contact us about this item</a>"),
        "{html}"
    );
    assert!(
        product_page(&site, &out).contains("Contact us about this item"),
        "a question needs no stock"
    );

    let mut s = settings();
    s.call_to_action = CallToAction::BuyUrl;
    let site = site_of(&catalog_of(s, products));
    let html = product_page(&site, &p);
    assert!(
        html.contains("href=\"https://pay.example.com/b/tin?x=1&amp;y=2\" rel=\"nofollow noopener\">Buy now</a>"),
        "{html}"
    );
    assert!(
        !product_page(&site, &out).contains("Buy now"),
        "out of stock"
    );
    assert!(
        !product_page(&site, &without).contains("Buy now"),
        "no buy_url"
    );
}

#[test]
fn json_ld_is_a_merchant_listing_with_shipping_and_returns_when_set() {
    let mut sale = on_sale(product(1, "Walnut Tray"));
    sale.merchandising.gtin = Some(Gtin::parse("5391000005054").unwrap());
    sale.merchandising.mpn = Some("LL-0505".into());
    let plain = product(2, "Oak Board");

    let site = site_of(&catalog_of(settings(), vec![sale.clone(), plain.clone()]));
    let ld = product_ld(&product_page(&site, &plain));
    assert_eq!(
        ld["brand"],
        serde_json::json!({"@type": "Brand", "name": "Test Brand"})
    );
    assert_eq!(ld["sku"], "2");
    assert_eq!(ld["image"][0], "https://shop.example.com/images/x.svg");
    let offer = &ld["offers"];
    assert_eq!(offer["price"], "49.90");
    assert_eq!(offer["priceCurrency"], "EUR");
    assert_eq!(offer["itemCondition"], "https://schema.org/NewCondition");
    assert_eq!(offer["availability"], "https://schema.org/InStock");
    for absent in [
        "priceSpecification",
        "shippingDetails",
        "hasMerchantReturnPolicy",
    ] {
        assert!(offer.get(absent).is_none(), "{absent}: {offer}");
    }
    assert!(ld.get("mpn").is_none() && ld.get("gtin13").is_none());

    let ld = product_ld(&product_page(&site, &sale));
    assert_eq!(ld["gtin13"], "5391000005054");
    assert_eq!(ld["mpn"], "LL-0505");
    assert_eq!(
        ld["offers"]["priceSpecification"],
        serde_json::json!({
            "@type": "UnitPriceSpecification",
            "priceType": "https://schema.org/StrikethroughPrice",
            "price": "59.90",
            "priceCurrency": "EUR",
        })
    );

    let mut s = settings();
    s.shipping = Some(Shipping {
        handling_days: (0, 1),
        transit_days: (1, 3),
        rates: vec![
            ShippingRate {
                countries: vec!["IE".into()],
                price: Price::parse("4.95").unwrap(),
            },
            ShippingRate {
                countries: vec!["GB".into(), "FR".into()],
                price: Price::parse("9.95").unwrap(),
            },
        ],
    });
    s.returns = Some(Returns {
        countries: vec!["IE".into(), "GB".into()],
        days: 30,
        method: ReturnMethod::Mail,
        fees: ReturnFees::Free,
    });
    let site = site_of(&catalog_of(s.clone(), vec![plain.clone()]));
    let offer = product_ld(&product_page(&site, &plain))["offers"].clone();
    let details = offer["shippingDetails"].as_array().unwrap();
    assert_eq!(details.len(), 2);
    assert_eq!(
        details[1],
        serde_json::json!({
            "@type": "OfferShippingDetails",
            "shippingRate": {"@type": "MonetaryAmount", "value": "9.95", "currency": "EUR"},
            "shippingDestination": {"@type": "DefinedRegion", "addressCountry": ["GB", "FR"]},
            "deliveryTime": {
                "@type": "ShippingDeliveryTime",
                "handlingTime": {"@type": "QuantitativeValue", "minValue": 0, "maxValue": 1, "unitCode": "DAY"},
                "transitTime": {"@type": "QuantitativeValue", "minValue": 1, "maxValue": 3, "unitCode": "DAY"},
            },
        })
    );
    assert_eq!(
        offer["hasMerchantReturnPolicy"],
        serde_json::json!({
            "@type": "MerchantReturnPolicy",
            "applicableCountry": ["IE", "GB"],
            "returnPolicyCategory": "https://schema.org/MerchantReturnFiniteReturnWindow",
            "merchantReturnDays": 30,
            "returnMethod": "https://schema.org/ReturnByMail",
            "returnFees": "https://schema.org/FreeReturn",
        })
    );

    s.returns.as_mut().unwrap().days = 0;
    let site = site_of(&catalog_of(s, vec![plain.clone()]));
    let policy =
        product_ld(&product_page(&site, &plain))["offers"]["hasMerchantReturnPolicy"].clone();
    assert_eq!(
        policy["returnPolicyCategory"],
        "https://schema.org/MerchantReturnNotPermitted"
    );
    assert!(policy.get("merchantReturnDays").is_none(), "{policy}");
}

#[test]
fn the_merchant_feed_escapes_catalog_text_and_prices_a_sale() {
    let mut odd = on_sale(product(1, "Fish & Chips <b>\"Tray\"</b> it's"));
    odd.description = "A <script>alert(1)</script> tray & a **bold** claim.\n\n- one\n- two".into();
    odd.merchandising.gtin = Some(Gtin::parse("5391000005054").unwrap());
    let mut out = product(2, "Oak Board");
    out.stock_quantity = StockQuantity::new(0).unwrap();
    let catalog = catalog_of(settings(), vec![odd.clone(), out]);
    let site = site_of(&catalog);
    let page = site.get("feeds/google-merchant.xml").unwrap();
    assert_eq!(page.content_type, "application/xml; charset=utf-8");
    assert_eq!(page.cache, site::CachePolicy::for_key("products.json"));
    let xml = String::from_utf8(page.body.read().unwrap().into_owned()).unwrap();
    assert!(!xml.contains("<script") && !xml.contains("<b>"), "{xml}");

    let doc = roxmltree::Document::parse(&xml).unwrap();
    let g = "http://base.google.com/ns/1.0";
    let items: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("item"))
        .collect();
    assert_eq!(items.len(), 2);
    let field = |item: &roxmltree::Node<'_, '_>, name: &str| {
        item.children()
            .find(|n| n.has_tag_name((g, name)))
            .and_then(|n| n.text())
            .map(str::to_owned)
    };
    // In catalog order: by name.
    let (fish, oak) = (&items[0], &items[1]);
    assert_eq!(field(fish, "title").unwrap(), odd.name.as_str());
    assert_eq!(
        field(fish, "description").unwrap(),
        "A alert(1) tray & a bold claim. one two"
    );
    assert_eq!(field(fish, "price").unwrap(), "59.90 EUR");
    assert_eq!(field(fish, "sale_price").unwrap(), "49.90 EUR");
    assert_eq!(field(fish, "gtin").unwrap(), "5391000005054");
    assert_eq!(field(fish, "identifier_exists"), None);
    assert_eq!(field(fish, "availability").unwrap(), "in_stock");
    assert_eq!(
        field(fish, "link").unwrap(),
        format!("https://shop.example.com/products/{}/", odd.slug)
    );
    assert_eq!(
        field(fish, "image_link").unwrap(),
        "https://shop.example.com/images/x.svg"
    );
    assert_eq!(field(fish, "brand").unwrap(), "Test Brand");
    assert_eq!(field(fish, "condition").unwrap(), "new");
    assert_eq!(field(oak, "price").unwrap(), "49.90 EUR");
    assert_eq!(field(oak, "sale_price"), None);
    assert_eq!(field(oak, "availability").unwrap(), "out_of_stock");
    assert_eq!(field(oak, "identifier_exists").unwrap(), "no");
}

#[test]
fn products_json_says_what_is_on_sale() {
    let catalog = catalog_of(
        settings(),
        vec![on_sale(product(1, "Walnut Tray")), product(2, "Oak Board")],
    );
    let site = site_of(&catalog);
    let json: Value = serde_json::from_str(&page(&site, "products.json")).unwrap();
    let by_id = |id: i64| {
        json["products"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["id"] == id)
            .unwrap()
            .clone()
    };
    let sale = by_id(1);
    assert_eq!(
        (&sale["status"], &sale["compare_at_price"], &sale["on_sale"]),
        (
            &Value::from("active"),
            &Value::from("59.90"),
            &Value::from(true)
        )
    );
    assert_eq!(sale["compare_at_price_display"], "€59.90");
    let plain = by_id(2);
    assert_eq!(
        (&plain["compare_at_price"], &plain["on_sale"]),
        (&Value::Null, &Value::from(false))
    );
}

#[test]
fn a_draft_previews_with_the_product_template_unindexed_and_labelled() {
    let mut draft = on_sale(product(3, "Birch Stool"));
    draft.merchandising.status = Status::Draft;
    draft.images = vec![
        Image::parse("/images/stool.jpg", "The stool").unwrap(),
        Image::parse("/images/stool-side.jpg", "").unwrap(),
    ];
    let catalog = catalog_of(settings(), vec![draft.clone()]);
    assert!(catalog.products.is_empty(), "a draft is not listed");
    let urls = PreviewUrls {
        assets: "/admin/preview-assets/".into(),
        images: "/admin/images/".into(),
    };
    let html = preview_product(&catalog, &theme(), &draft, &urls).unwrap();
    assert!(html.contains("<meta name=\"robots\" content=\"noindex\">"));
    assert!(!html.contains("rel=\"canonical\""));
    assert!(html.contains("Preview — not published"));
    assert!(html.contains("<h1>Birch Stool</h1>"));
    assert!(
        html.contains("href=\"/admin/preview-assets/site.css\""),
        "{html}"
    );
    assert!(
        html.contains("src=\"/admin/images/stool.jpg\" alt=\"The stool\""),
        "{html}"
    );
    assert!(
        html.contains("href=\"/admin/images/stool-side.jpg\""),
        "{html}"
    );
    assert!(!html.contains("srcset"), "plain URLs, no variants");
    assert!(
        html.contains("<s class=\"price-was\">"),
        "the same page a shopper sees"
    );
    assert!(!html.contains(HEADER_MARKER));

    // The published site never shows a preview's notice.
    let site = site_of(&catalog_of(settings(), vec![product(4, "Oak Board")]));
    assert!(!page(&site, "products/oak-board/index.html").contains("Preview"));
}
