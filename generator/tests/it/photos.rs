//! Photos in a shop: the storefront serves their variants through
//! `<picture>`, never the source, and a rebuild takes them from the cache.

use image::{Rgb, RgbImage};

use pipeline::{BuildConfig, build_from_content};

use crate::common::*;

/// A 1000×750 "photo" as JPEG.
fn photo(seed: u8) -> Vec<u8> {
    let img = RgbImage::from_fn(1000, 750, |x, y| {
        Rgb([(x / 4) as u8 ^ seed, (y / 3) as u8, ((x + y) / 7) as u8])
    });
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 85)
        .encode(img.as_raw(), 1000, 750, image::ExtendedColorType::Rgb8)
        .unwrap();
    out
}

#[test]
fn photos_are_served_as_responsive_variants_and_rebuilt_from_the_cache() {
    let mut kettle = p(1, "Pour-Over Kettle", "Kitchen");
    kettle.image_url = Some("/images/kettle.jpg".into());
    let shop = Shop::new(&[kettle, p(2, "Teapot", "Kitchen")], 12);
    std::fs::write(shop.content().join("images/kettle.jpg"), photo(0)).unwrap();
    std::fs::write(shop.content().join("images/unused.jpg"), photo(7)).unwrap();
    let cache = tempfile::tempdir().unwrap();
    let config = BuildConfig {
        image_cache: Some(cache.path().to_owned()),
        ..shop.config()
    };
    let built = build_from_content(&config).unwrap();
    let site = &built.site;

    assert!(
        site.get("images/kettle.jpg").is_none(),
        "the source (and its EXIF) is never published"
    );
    assert!(
        site.get("images/item.svg").is_some(),
        "an SVG is published as it is"
    );
    assert!(
        !site.iter().any(|(k, _)| k.contains("unused")),
        "a photo no product shows is neither processed nor published"
    );
    let variants: Vec<&str> = site
        .iter()
        .map(|(k, _)| k)
        .filter(|k| k.starts_with("images/v/kettle-"))
        .collect();
    // 320, 640, 960 and the source's own 1000, in WebP and JPEG, and the OG crop.
    assert_eq!(variants.len(), 9, "{variants:?}");
    for key in &variants {
        assert_eq!(
            site.get(key).unwrap().cache,
            render::site::CachePolicy::Immutable,
            "{key}"
        );
    }

    let page = text(site, "products/pour-over-kettle/index.html");
    assert!(
        page.contains(r#"<source type="image/webp" srcset="/images/v/kettle-"#),
        "{page}"
    );
    assert!(page.contains(r#"width="1000" height="750""#));
    assert!(page.contains(r#"fetchpriority="high" loading="eager""#));
    for w in page
        .split(' ')
        .filter_map(|word| word.strip_suffix("w,").or(word.strip_suffix("w\"")))
        .filter_map(|n| n.parse::<u32>().ok())
    {
        assert!(w <= 1000, "a srcset width {w} is wider than the source");
    }
    assert!(page.contains(r#"<meta property="og:image" content="https://"#));
    assert!(page.contains("-1200x630.jpg\">"), "the Open Graph crop");
    let listing = text(site, "index.html");
    assert!(
        listing.contains(r#"sizes="(min-width: 72rem) 13.2rem"#),
        "cards use small variants"
    );
    let feed = text(site, "products.json");
    assert!(
        feed.contains("/images/v/kettle-"),
        "products.json names a variant"
    );

    // A rebuild takes the variants from the cache: a marked cache entry
    // shows up in the site, so nothing was encoded again.
    let webp = variants
        .iter()
        .find(|k| k.ends_with("-320x240.webp"))
        .unwrap();
    let name = "320x240.webp";
    let entry = std::fs::read_dir(cache.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.join(name).is_file())
        .expect("the variant is in the cache");
    std::fs::write(entry.join(name), b"from the cache").unwrap();
    let again = build_from_content(&config).unwrap();
    assert_eq!(
        again.site.get(webp).unwrap().body.read().unwrap().as_ref(),
        b"from the cache"
    );

    // Published to a folder, a cached variant is a link to the cache's
    // file, and a rebuild leaves it as it is.
    let out = tempfile::tempdir().unwrap();
    let public = out.path().join("public");
    publish::dir::write_site(&again.site, &public).unwrap();
    publish::dir::write_site(&again.site, &public).unwrap();
    let written = publish::dir::write_site(&again.site, &public).unwrap();
    assert!(
        !written.written.iter().any(|k| k.starts_with("images/v/")),
        "{:?}",
        written.written
    );
    assert_eq!(std::fs::read(public.join(webp)).unwrap(), b"from the cache");
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let published = std::fs::metadata(public.join(webp)).unwrap();
        let cached = std::fs::metadata(entry.join(name)).unwrap();
        assert_eq!(published.ino(), cached.ino(), "a hard link");
    }
    // The cache deleted: the published site keeps its files.
    std::fs::remove_dir_all(cache.path()).unwrap();
    assert_eq!(std::fs::read(public.join(webp)).unwrap(), b"from the cache");

    // A changed photo: new keys.
    std::fs::write(shop.content().join("images/kettle.jpg"), photo(99)).unwrap();
    let changed = build_from_content(&config).unwrap();
    assert!(changed.site.get(webp).is_none(), "the old variant is gone");
}

#[test]
fn a_gallery_shows_the_main_photo_first_and_the_others_small_and_lazy() {
    let mut kettle = p(1, "Pour-Over Kettle", "Kitchen");
    kettle.images = vec![
        ("/images/side.jpg".into(), "The kettle from the side".into()),
        ("/images/top.jpg".into(), String::new()),
        ("/images/item.svg".into(), "A drawing of it".into()),
    ];
    let shop = Shop::new(&[kettle], 12);
    std::fs::write(shop.content().join("images/side.jpg"), photo(1)).unwrap();
    std::fs::write(shop.content().join("images/top.jpg"), photo(2)).unwrap();
    let built = shop.build().unwrap();
    let page = text(&built.site, "products/pour-over-kettle/index.html");
    let main = &page[page.find(r#"class="product-image""#).unwrap()..];
    let (main, gallery) = main.split_at(main.find(r#"<ul class="gallery""#).expect("a gallery"));
    assert!(main.contains(r#"srcset="/images/v/side-"#), "{main}");
    assert!(main.contains(r#"alt="The kettle from the side""#), "{main}");
    assert!(gallery.contains(r#"srcset="/images/v/top-"#), "{gallery}");
    assert!(
        gallery.contains(r#"alt="Pour-Over Kettle, image 2""#),
        "no alt text: the name and the place: {gallery}"
    );
    assert!(gallery.contains(r#"src="/images/item.svg" alt="A drawing of it""#));
    assert!(!gallery.contains("fetchpriority"), "{gallery}");
    assert_eq!(gallery.matches(r#"loading="lazy""#).count(), 2);
    // Structured data lists every image, the main one first, at full size.
    let ld = &page[page.find(r#""image":["#).unwrap()..];
    let ld = &ld[..ld.find(']').unwrap()];
    assert_eq!(ld.matches("https://").count(), 3, "{ld}");
    assert!(
        ld.starts_with(r#""image":["https://shop.example.com/images/v/side-"#),
        "{ld}"
    );
    // The card shows the main photo.
    let listing = text(&built.site, "index.html");
    assert!(listing.contains(r#"srcset="/images/v/side-"#));
    let feed: serde_json::Value =
        serde_json::from_str(&text(&built.site, "products.json")).unwrap();
    let images = &feed["products"][0]["images"];
    assert_eq!(images.as_array().unwrap().len(), 3, "{images}");
    assert_eq!(images[0]["alt"], "The kettle from the side");
    assert_eq!(images[1]["alt"], "", "the owner's alt text, as written");
}

#[test]
fn a_broken_photo_fails_the_build_naming_the_file() {
    let mut kettle = p(1, "Pour-Over Kettle", "Kitchen");
    kettle.image_url = Some("/images/kettle.jpg".into());
    let mut pot = p(2, "Teapot", "Kitchen");
    pot.image_url = Some("/images/bad.png".into());
    let shop = Shop::new(&[kettle, pot], 12);
    let mut cut = photo(0);
    cut.truncate(cut.len() / 3);
    std::fs::write(shop.content().join("images/kettle.jpg"), cut).unwrap();
    std::fs::write(shop.content().join("images/bad.png"), b"not a png").unwrap();
    let err = shop.build().unwrap_err().to_string();
    assert!(err.contains("images/kettle.jpg: "), "{err}");
    assert!(
        err.contains("images/bad.png: "),
        "every problem at once: {err}"
    );
}

/// An uploaded photo: its digest is the row's key, so a build with its
/// variants in the cache neither hashes it nor reads its bytes from the
/// database (a build that tried would fail: the column is renamed away).
#[cfg(feature = "postgres")]
#[tokio::test]
async fn an_uploaded_photo_in_the_cache_is_not_read_from_the_database() {
    use store::{Role, Target};
    let db = testkit::FreshDb::new().await;
    let primary = Target::parse(&db.url, Role::Primary).unwrap();
    store::migrate(&primary, None).await.unwrap();
    let client = primary.connect().await.unwrap();
    let bytes = photo(3);
    let sha = images::digest(&bytes);
    store::products::put_image(&client, &primary, &sha, "jpg", &bytes)
        .await
        .unwrap();
    client
        .execute(
            "INSERT INTO products (slug, name, price, image_url, category) VALUES ('pot', 'Pot', 1, $1, 'Kitchen')",
            &[&format!("/images/{sha}.jpg")],
        )
        .await
        .unwrap();
    let source = store::source::PgSource {
        primary: Some(primary.clone()),
        replica: None,
        replica_wait: std::time::Duration::ZERO,
    };
    let shop = Shop::new(&[], 12);
    let cache = tempfile::tempdir().unwrap();
    let config = BuildConfig {
        image_cache: Some(cache.path().to_owned()),
        ..shop.config()
    };
    let prefix = format!("images/v/{sha}-{}", &sha[..16]);
    let keys = |built: &pipeline::Built| -> Vec<String> {
        built
            .site
            .iter()
            .map(|(k, _)| k.to_owned())
            .filter(|k| k.starts_with(&prefix))
            .collect()
    };
    let (first, ..) = pipeline::build_from_postgres(&config, &source)
        .await
        .unwrap();
    assert_eq!(keys(&first).len(), 9, "{:?}", keys(&first));
    assert!(first.site.get(&format!("images/{sha}.jpg")).is_none());

    client
        .batch_execute("ALTER TABLE product_images RENAME COLUMN bytes TO gone")
        .await
        .unwrap();
    let (again, ..) = pipeline::build_from_postgres(&config, &source)
        .await
        .unwrap();
    assert_eq!(keys(&again), keys(&first));
    // Without the cache, the bytes are needed, and asked for.
    std::fs::remove_dir_all(cache.path()).unwrap();
    let err = pipeline::build_from_postgres(&config, &source)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("reading uploaded images' bytes"), "{err}");
}
