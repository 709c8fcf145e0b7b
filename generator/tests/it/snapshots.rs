//! Snapshots of rendered pages (insta). Fingerprints are masked so that a CSS
//! change alone does not churn them.

use crate::common::*;

fn mask_fingerprints(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(at) = rest.find("/assets/") {
        out.push_str(&rest[..at + 8]);
        rest = &rest[at + 8..];
        let end = rest.find(['"', '\'', ' ', ')', '<']).unwrap_or(rest.len());
        let name = &rest[..end];
        let parts: Vec<_> = name.split('.').collect();
        if parts.len() == 3
            && parts[1].len() == 10
            && parts[1].bytes().all(|b| b.is_ascii_hexdigit())
        {
            out.push_str(&format!("{}.[hash].{}", parts[0], parts[2]));
        } else {
            out.push_str(name);
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

fn shop() -> Shop {
    let mut kettle = p(5, "Café Pour-Over Kettle", "Coffee & Tea");
    kettle.slug = "cafe-pour-over-kettle".into();
    kettle.price = "72.00".into();
    kettle.stock = 2;
    kettle.description = "A gooseneck kettle for *slow*, precise pours.\n\n- 1 litre\n- brushed steel\n\nSee the [care guide](https://example.com/care).".into();
    let mut mug = p(7, "Stoneware Mug", "Coffee & Tea");
    mug.stock = 0;
    mug.image_url = None;
    let tin = p(9, "Tea Tin", "Coffee & Tea");
    let shop = Shop::new(&[kettle.clone(), mug, tin.clone()], 2);
    // On sale: the kettle (its page) and the tin (page 2 of the listing);
    // the shop asks for questions by email and ships to two regions.
    for (product, was) in [(&kettle, "89.00"), (&tin, "59.90")] {
        let file = product.file().replacen(
            "\ncategory = ",
            &format!("\ncompare_at_price = \"{was}\"\ncategory = "),
            1,
        );
        shop.write(&format!("products/{}.md", product.slug), &file);
    }
    let site = std::fs::read_to_string(shop.content().join("site.toml")).unwrap();
    shop.write(
        "site.toml",
        &format!(
            "{site}brand = \"Test Brand\"\ncall_to_action = \"email\"\ncontact_email = \"hello@shop.example.com\"\n[shipping]\nhandling_days = [0, 1]\ntransit_days = [1, 3]\nrates = [{{ countries = [\"IE\"], price = \"4.95\" }}, {{ countries = [\"GB\", \"FR\"], price = \"9.95\" }}]\n[returns]\ndays = 30\nmethod = \"mail\"\nfees = \"free\"\n"
        ),
    );
    shop
}

#[test]
fn product_page() {
    let built = shop().build().unwrap();
    insta::assert_snapshot!(mask_fingerprints(&text(
        &built.site,
        "products/cafe-pour-over-kettle/index.html"
    )));
}

#[test]
fn listing_page() {
    let built = shop().build().unwrap();
    insta::assert_snapshot!(mask_fingerprints(&text(
        &built.site,
        "categories/coffee-tea/page/2/index.html"
    )));
}

#[test]
fn products_json() {
    let built = shop().build().unwrap();
    let json: serde_json::Value =
        serde_json::from_str(&text(&built.site, "products.json")).unwrap();
    insta::assert_snapshot!(mask_fingerprints(
        &serde_json::to_string_pretty(&json).unwrap()
    ));
}

#[test]
fn merchant_feed() {
    let built = shop().build().unwrap();
    insta::assert_snapshot!(mask_fingerprints(&text(
        &built.site,
        "feeds/google-merchant.xml"
    )));
}
