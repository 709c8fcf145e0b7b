//! The schema and migrations, against the real local PostgreSQL pair.

use store::{Role, Target};

use crate::common::*;

#[tokio::test]
async fn migrations_apply_to_an_empty_database_and_a_second_run_is_a_no_op() {
    let db = FreshDb::new().await;
    let primary = Target::parse(&db.url, Role::Primary).unwrap();
    let first = store::migrate(&primary, None).await.unwrap();
    assert_eq!(
        first.applied,
        [
            "V1__catalog",
            "V2__admin",
            "V3__login_failures",
            "V4__images_and_audit",
            "V5__product_images_list",
            "V6__sessions_and_login_attempts",
            "V7__merchandising"
        ]
    );
    let second = store::migrate(&primary, None).await.unwrap();
    assert!(second.applied.is_empty(), "{second:?}");

    let client = primary.connect().await.unwrap();
    assert_eq!(
        store::catalog_state(&client, &primary).await.unwrap(),
        (0, 0)
    );
    for table in ["products", "catalog_state", "site_builds"] {
        let n: i64 = client
            .query_one(
                "SELECT count(*) FROM information_schema.tables WHERE table_name = $1",
                &[&table],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(n, 1, "{table} exists");
    }
}

#[tokio::test]
async fn the_schema_enforces_the_catalog_rules() {
    let db = FreshDb::migrated().await;
    let client = db.client().await;
    let insert = "INSERT INTO products (slug, name, price, stock_quantity) VALUES ($1, $2, $3::text::numeric, $4)";
    client
        .execute(insert, &[&"ok", &"Fine", &"1.50", &1i32])
        .await
        .unwrap();
    for (slug, name, price, stock, why) in [
        ("neg", "Negative", "-0.01", 0, "price >= 0"),
        ("stock", "Stock", "1.00", -1, "stock >= 0"),
        ("Bad Slug", "Slug", "1.00", 0, "slug format"),
        ("ok", "Duplicate", "1.00", 0, "unique slug"),
        ("big", "Big", "100000000.00", 0, "numeric(10,2)"),
    ] {
        let result = client
            .execute(insert, &[&slug, &name, &price, &stock])
            .await;
        assert!(result.is_err(), "{why} is enforced");
    }
    let name = "n".repeat(256);
    assert!(
        client
            .execute(insert, &[&"long", &name.as_str(), &"1.00", &0i32])
            .await
            .is_err(),
        "name ≤ 255"
    );
}

#[tokio::test]
async fn writes_bump_wanted_version_once_per_transaction_and_no_op_updates_do_not() {
    let db = FreshDb::migrated().await;
    let mut client = db.client().await;
    let target = Target::parse(&db.url, Role::Primary).unwrap();
    let tx = client.transaction().await.unwrap();
    tx.execute(
        "INSERT INTO products (slug, name, price) VALUES ('a', 'A', 1), ('b', 'B', 2)",
        &[],
    )
    .await
    .unwrap();
    tx.execute("UPDATE products SET price = 3 WHERE slug = 'a'", &[])
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(store::catalog_state(&client, &target).await.unwrap().0, 1);

    client
        .execute("UPDATE products SET price = 3 WHERE slug = 'a'", &[])
        .await
        .unwrap();
    assert_eq!(
        store::catalog_state(&client, &target).await.unwrap().0,
        1,
        "a no-op update changes nothing"
    );
    let version_of_a = || async {
        let row = client
            .query_one(
                "SELECT version, updated_at FROM products WHERE slug = 'a'",
                &[],
            )
            .await
            .unwrap();
        (
            row.get::<_, i64>(0),
            row.get::<_, chrono::DateTime<chrono::Utc>>(1),
        )
    };
    let (version, updated) = version_of_a().await;
    assert_eq!(
        version, 2,
        "the update inside the first transaction bumped the row once"
    );

    client
        .execute(
            "UPDATE products SET stock_quantity = 9 WHERE slug = 'a'",
            &[],
        )
        .await
        .unwrap();
    let (version, touched) = version_of_a().await;
    assert_eq!(version, 3);
    assert!(touched >= updated);
    client
        .execute("DELETE FROM products WHERE slug = 'b'", &[])
        .await
        .unwrap();
    assert_eq!(store::catalog_state(&client, &target).await.unwrap().0, 3);
}

#[tokio::test]
async fn errors_name_the_operation_and_server_but_never_the_password() {
    let target = Target::parse(
        "postgres://postgres:hunter2-secret@127.0.0.1:1/postgres",
        Role::Primary,
    )
    .unwrap();
    let err = target.connect().await.unwrap_err().to_string();
    assert!(
        err.starts_with("cannot connect to the primary (DATABASE_URL) at 127.0.0.1:1: "),
        "{err}"
    );
    assert!(!err.contains("hunter2"), "{err}");

    let db = FreshDb::migrated().await;
    let url = db.url.replace("shopfront-local", "wrong-password");
    let err = Target::parse(&url, Role::Replica)
        .unwrap()
        .connect()
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("the replica (DATABASE_REPLICA_URL) at 127.0.0.1:"),
        "{err}"
    );
    assert!(!err.contains("wrong-password"), "{err}");
}

#[test]
fn migrate_command_reports_what_it_did() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let db = rt.block_on(FreshDb::new());
    let run = || {
        generator_cmd()
            .arg("migrate")
            .env("DATABASE_URL", &db.url)
            .output()
            .unwrap()
    };
    let first = run();
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert!(
        String::from_utf8_lossy(&first.stdout).starts_with("applied 7 migration(s) on 127.0.0.1:")
    );
    let second = run();
    assert!(String::from_utf8_lossy(&second.stdout).contains("is up to date"));
    let bad = generator_cmd()
        .arg("migrate")
        .env("DATABASE_URL", "postgres://u:topsecret@127.0.0.1:1/x")
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(
        stderr.contains("cannot connect to the primary (DATABASE_URL) at 127.0.0.1:1"),
        "{stderr}"
    );
    assert!(!stderr.contains("topsecret"), "{stderr}");
    rt.block_on(db.drop_now());
}

fn import(db: &FreshDb, content: &std::path::Path) -> std::process::Output {
    generator_cmd()
        .args(["import", "--content", content.to_str().unwrap()])
        .env("DATABASE_URL", &db.url)
        .output()
        .unwrap()
}

#[tokio::test]
async fn importing_the_shop_twice_changes_nothing_the_second_time() {
    let db = FreshDb::migrated().await;
    let content = repo_root().join("content");
    let first = import(&db, &content);
    let stdout = String::from_utf8_lossy(&first.stdout);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let catalog = content::load(&content).unwrap();
    let n = catalog.products.len();
    assert!(
        stdout.contains(&format!("{n} inserted, 0 updated, 0 unchanged")),
        "{stdout}"
    );

    let client = db.client().await;
    let snapshot = "SELECT string_agg(concat_ws('|', product_id, slug, name, price::text, category, stock_quantity, version, updated_at), ',' ORDER BY slug) FROM products";
    let before: String = client.query_one(snapshot, &[]).await.unwrap().get(0);
    let target = Target::parse(&db.url, Role::Primary).unwrap();
    let state = store::catalog_state(&client, &target).await.unwrap();
    assert_eq!(state.0, 1, "one import, one wanted version");

    let second = import(&db, &content);
    let stdout = String::from_utf8_lossy(&second.stdout);
    assert!(
        stdout.contains(&format!("0 inserted, 0 updated, {n} unchanged")),
        "{stdout}"
    );
    let after: String = client.query_one(snapshot, &[]).await.unwrap().get(0);
    assert_eq!(before, after, "no row changed, no version bumped");
    assert_eq!(
        store::catalog_state(&client, &target).await.unwrap(),
        state,
        "no rebuild wanted"
    );

    // Prices arrive exact: the database's sum equals the exact decimal sum.
    let expected: rust_decimal::Decimal = catalog.products.iter().map(|p| p.price.amount()).sum();
    let sum: String = client
        .query_one("SELECT sum(price)::text FROM products", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(sum, expected.to_string());
}

#[tokio::test]
async fn invalid_content_aborts_the_import_with_nothing_written() {
    let db = FreshDb::migrated().await;
    let shop = Shop::new(
        &[
            p(1, "Walnut Tray", "Home Office"),
            p(2, "Oak Lamp", "Lighting"),
        ],
        10,
    );
    assert!(import(&db, &shop.content()).status.success());
    let mut edited = p(1, "Walnut Tray", "Home Office");
    edited.price = "99.00".into();
    shop.write_product(&edited);
    let mut bad = p(3, "Bad", "Kitchen");
    bad.price = "1.234".into();
    shop.write_product(&bad);

    let out = import(&db, &shop.content());
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("bad.md:5: field `price`: \"1.234\" has 3 decimal places"),
        "{stderr}"
    );
    let client = db.client().await;
    let row = client
        .query_one("SELECT count(*), max(price)::text FROM products", &[])
        .await
        .unwrap();
    assert_eq!(row.get::<_, i64>(0), 2, "nothing inserted");
    assert_eq!(row.get::<_, String>(1), "49.90", "nothing updated");
    let target = Target::parse(&db.url, Role::Primary).unwrap();
    assert_eq!(store::catalog_state(&client, &target).await.unwrap().0, 1);
}

#[tokio::test]
async fn rows_the_schema_allows_but_the_storefront_rejects_fail_the_build_by_product_id() {
    use store::source::{self as postgres, PgSource};
    let db = FreshDb::migrated().await;
    let client = db.client().await;
    client
        .batch_execute(
            "INSERT INTO products (product_id, slug, name, price, category) VALUES
                (7, 'no-category', 'No Category', 1, NULL),
                (8, 'mug', 'Mug', 1, 'Coffee & Tea'),
                (9, 'cup', 'Cup', 1, 'Coffee Tea')",
        )
        .await
        .unwrap();
    let source = PgSource {
        primary: Some(Target::parse(&db.url, Role::Primary).unwrap()),
        replica: None,
        replica_wait: std::time::Duration::ZERO,
    };
    let settings = content::parse_settings(
        std::path::Path::new("site.toml"),
        "title = \"Shop\"\nbase_url = \"https://s.example\"\ncurrency = \"EUR\"\n",
    )
    .unwrap();
    let err = postgres::load(&source, settings.clone())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("product_id 7: field `category`: is missing"),
        "{err}"
    );

    client
        .batch_execute("UPDATE products SET category = 'Kitchen' WHERE product_id = 7")
        .await
        .unwrap();
    let err = postgres::load(&source, settings)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("categories \"Coffee & Tea\" (product_id 8) and \"Coffee Tea\" (product_id 9) both map to the URL /categories/coffee-tea/"),
        "{err}"
    );
}

#[tokio::test]
async fn every_change_is_audited_with_its_actor_and_images_join_the_snapshot() {
    use catalog::records::Fields;
    use catalog::types::{CategoryName, Price, ProductName, Slug, StockQuantity};
    use store::products;
    let db = FreshDb::new().await;
    let primary = Target::parse(&db.url, Role::Primary).unwrap();
    store::migrate(&primary, None).await.unwrap();
    let client = primary.connect().await.unwrap();
    let fields = |price: &str| Fields {
        slug: Slug::parse("oak-tray").unwrap(),
        name: ProductName::parse("Oak Tray").unwrap(),
        description: String::new(),
        price: Price::parse(price).unwrap(),
        images: Vec::new(),
        category: CategoryName::parse("Home").unwrap(),
        stock_quantity: StockQuantity::new(2).unwrap(),
        merchandising: Default::default(),
    };
    let made = products::create(&client, &primary, "a@shop.example", &fields("10.00"))
        .await
        .unwrap();
    let id = made.product_id;
    let changed = products::update(
        &client,
        &primary,
        "b@shop.example",
        id,
        made.version,
        &fields("12.50"),
    )
    .await
    .unwrap();
    // A no-op update is not a change.
    products::update(
        &client,
        &primary,
        "b@shop.example",
        id,
        changed.version,
        &fields("12.50"),
    )
    .await
    .unwrap();
    client
        .execute(
            "UPDATE products SET stock_quantity = 9 WHERE product_id = $1",
            &[&id],
        )
        .await
        .unwrap();
    products::delete(&client, &primary, "c@shop.example", id, None)
        .await
        .unwrap();
    let history = products::history(&client, &primary, id, 10).await.unwrap();
    let summary: Vec<(&str, &str)> = history
        .iter()
        .map(|h| (h.actor.as_str(), h.action.as_str()))
        .collect();
    assert_eq!(
        summary,
        [
            ("c@shop.example", "delete"),
            ("postgres", "update"),
            ("b@shop.example", "update"),
            ("a@shop.example", "insert"),
        ]
    );
    assert_eq!(
        history[2].changes,
        serde_json::json!({"price": {"before": 10.00, "after": 12.50}})
    );
    assert_eq!(history[1].changes["stock_quantity"]["after"], 9);

    products::put_image(&client, &primary, &"ab".repeat(32), "png", b"\x89PNG")
        .await
        .unwrap();
    products::put_image(&client, &primary, &"ab".repeat(32), "png", b"\x89PNG")
        .await
        .unwrap();
    let file = format!("{}.png", "ab".repeat(32));
    assert_eq!(
        products::image(&client, &primary, &file)
            .await
            .unwrap()
            .as_deref(),
        Some(&b"\x89PNG"[..])
    );
    // Only images a product shows are published.
    let mut client = primary.connect().await.unwrap();
    let snapshot = store::read_snapshot(&mut client, &primary).await.unwrap();
    assert!(snapshot.images.is_empty(), "no product shows it yet");
    client
        .execute(
            "INSERT INTO products (slug, name, price, image_url) VALUES ('pot', 'Pot', 1, $1)",
            &[&format!("/images/{file}")],
        )
        .await
        .unwrap();
    let snapshot = store::read_snapshot(&mut client, &primary).await.unwrap();
    let upload = store::Upload {
        sha256: "ab".repeat(32),
        extension: "png".into(),
    };
    assert_eq!(
        snapshot.images,
        std::slice::from_ref(&upload),
        "without its bytes"
    );
    assert_eq!(upload.file(), file);
    // The bytes, on request.
    let bytes = store::image_bytes(&client, &primary, &["ab".repeat(32), "cd".repeat(32)])
        .await
        .unwrap();
    assert_eq!(
        bytes,
        std::collections::BTreeMap::from([("ab".repeat(32), b"\x89PNG".to_vec())])
    );
    let source = store::source::PgSource {
        primary: Some(primary.clone()),
        replica: None,
        replica_wait: std::time::Duration::ZERO,
    };
    let from = store::source::ReadFrom::PrimaryOnly;
    let err = store::source::fetch_images(&source, &from, &["cd".repeat(32)])
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains(&"cd".repeat(32)), "{err}");
}

#[tokio::test]
async fn a_product_keeps_its_images_in_order_with_their_alt_text() {
    use catalog::Image;
    use catalog::records::Fields;
    use catalog::types::{CategoryName, Price, ProductName, Slug, StockQuantity};
    use store::products;
    let db = FreshDb::new().await;
    let primary = Target::parse(&db.url, Role::Primary).unwrap();
    store::migrate(&primary, None).await.unwrap();
    let mut client = primary.connect().await.unwrap();
    let fields = |images: &[(&str, &str)]| Fields {
        slug: Slug::parse("oak-tray").unwrap(),
        name: ProductName::parse("Oak Tray").unwrap(),
        description: String::new(),
        price: Price::parse("10.00").unwrap(),
        images: images
            .iter()
            .map(|(url, alt)| Image::parse(url, alt).unwrap())
            .collect(),
        category: CategoryName::parse("Home").unwrap(),
        stock_quantity: StockQuantity::new(2).unwrap(),
        merchandising: Default::default(),
    };
    let two = [("/images/a.jpg", "From above"), ("/images/b.jpg", "")];
    let made = products::create(&client, &primary, "a@shop.example", &fields(&two))
        .await
        .unwrap();
    assert_eq!(made.image_url(), Some("/images/a.jpg"));
    assert_eq!(made.images[0].alt, "From above");
    // A new order is a change; so is alt text alone.
    let swapped = [("/images/b.jpg", ""), ("/images/a.jpg", "From above")];
    let reordered = products::update(
        &client,
        &primary,
        "a@shop.example",
        made.product_id,
        made.version,
        &fields(&swapped),
    )
    .await
    .unwrap();
    assert_eq!(reordered.version, made.version + 1);
    assert_eq!(reordered.image_url(), Some("/images/b.jpg"));
    let described = [
        ("/images/b.jpg", "Side view"),
        ("/images/a.jpg", "From above"),
    ];
    let described = products::update(
        &client,
        &primary,
        "a@shop.example",
        made.product_id,
        reordered.version,
        &fields(&described),
    )
    .await
    .unwrap();
    assert_eq!(described.version, reordered.version + 1);

    // The seed's way, image_url alone, is a list of that one image.
    client
        .execute(
            "INSERT INTO products (slug, name, price, category, image_url) VALUES ('pot', 'Pot', 1, 'Home', '/images/pot.jpg')",
            &[],
        )
        .await
        .unwrap();
    // A main image that is not the list's first is refused by the schema.
    let err = client
        .execute(
            "UPDATE products SET image_url = '/images/a.jpg' WHERE slug = 'oak-tray'",
            &[],
        )
        .await
        .unwrap_err();
    assert!(
        format!("{err:?}").contains("products_main_image_is_the_first"),
        "{err:?}"
    );

    let snapshot = store::read_snapshot(&mut client, &primary).await.unwrap();
    let images = |slug: &str| -> Vec<(String, String)> {
        snapshot
            .rows
            .iter()
            .find(|r| r.slug == slug)
            .unwrap()
            .images
            .iter()
            .map(|i| (i.url.clone(), i.alt.clone()))
            .collect()
    };
    assert_eq!(
        images("oak-tray"),
        [
            ("/images/b.jpg".to_owned(), "Side view".to_owned()),
            ("/images/a.jpg".to_owned(), "From above".to_owned())
        ]
    );
    assert_eq!(
        images("pot"),
        [("/images/pot.jpg".to_owned(), String::new())]
    );
}
