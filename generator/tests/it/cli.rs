//! The `generator` binary: summaries, exit codes, error messages, and a failed
//! build leaving the previous output untouched.

use std::collections::BTreeMap;
use std::path::Path;

use crate::common::*;

fn snapshot_dir(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .map(Result::unwrap)
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            (
                e.path().strip_prefix(dir).unwrap().display().to_string(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

/// `generator build` of the shop into its `public/`.
fn build_cmd(shop: &Shop) -> std::process::Command {
    let themes = repo_root().join("themes");
    let mut cmd = generator_cmd();
    cmd.args([
        "build",
        "--content",
        "content",
        "--out",
        "public",
        "--themes",
    ])
    .arg(themes)
    .current_dir(shop.dir.path());
    cmd
}

fn build(shop: &Shop) -> std::process::Output {
    build_cmd(shop).output().unwrap()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Builds a good shop, breaks it with `change`, builds again: the second build
/// must fail with `expected` in its message and leave `public/` as it was.
fn assert_failure_keeps_output(change: impl FnOnce(&Shop), expected: &[&str]) {
    let shop = Shop::new(
        &[
            p(1, "Walnut Tray", "Home Office"),
            p(2, "Oak Lamp", "Lighting"),
        ],
        10,
    );
    let first = build(&shop);
    assert!(first.status.success(), "{}", stderr(&first));
    let before = snapshot_dir(&shop.out());
    change(&shop);
    let second = build(&shop);
    let message = stderr(&second);
    assert_eq!(second.status.code(), Some(1), "{message}");
    for text in expected {
        assert!(message.contains(text), "expected {text:?} in:\n{message}");
    }
    assert_eq!(
        snapshot_dir(&shop.out()),
        before,
        "the previous output is untouched"
    );
    let leftovers: Vec<_> = std::fs::read_dir(shop.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        leftovers.len(),
        2,
        "no staging folder is left behind: {leftovers:?}"
    );
}

#[test]
fn build_prints_a_one_line_summary_and_writes_the_site() {
    let shop = Shop::new(&[p(1, "Walnut Tray", "Home Office")], 10);
    let out = build(&shop);
    assert!(out.status.success(), "{}", stderr(&out));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert!(stdout.starts_with("built 5 pages ("), "{stdout}");
    assert!(
        stdout.contains(" from 1 products in ") && stdout.contains(" ms → public"),
        "{stdout}"
    );
    assert!(shop.out().join("products/walnut-tray/index.html").is_file());
    assert!(shop.out().join("products.json").is_file());
}

#[test]
fn a_rebuild_rewrites_only_the_pages_that_changed() {
    let shop = Shop::new(
        &[
            p(1, "Walnut Tray", "Home Office"),
            p(2, "Oak Lamp", "Lighting"),
        ],
        10,
    );
    for _ in 0..2 {
        let out = build(&shop);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    // The third build starts from the first one's folder.
    let mut lamp = p(2, "Oak Lamp", "Lighting");
    lamp.price = "31.00".into();
    shop.write_product(&lamp);
    let out = build(&shop);
    assert!(out.status.success(), "{}", stderr(&out));
    let stdout = String::from_utf8(out.stdout).unwrap();
    // The lamp's page, the listings that show its card, products.json and
    // the sitemap (its lastmod) changed; the tray's page did not.
    let (written, unchanged) = stdout
        .trim_end()
        .strip_suffix(" unchanged, 0 removed)")
        .and_then(|s| s.rsplit_once(" ("))
        .and_then(|(_, counts)| counts.split_once(" written, "))
        .unwrap_or_else(|| panic!("no counts in {stdout}"));
    let (written, unchanged): (usize, usize) =
        (written.parse().unwrap(), unchanged.parse().unwrap());
    assert!(written >= 1 && unchanged >= 1, "{stdout}");
    let page = std::fs::read_to_string(shop.out().join("products/oak-lamp/index.html")).unwrap();
    assert!(page.contains("31.00"), "{page}");
    assert!(
        shop.dir
            .path()
            .join(".public.prev")
            .join(".shopfront-output")
            .is_file()
    );
}

#[test]
fn malformed_product_names_file_line_and_field() {
    assert_failure_keeps_output(
        |shop| {
            let mut bad = p(3, "Bad Price", "Kitchen");
            bad.price = "12.345".into();
            shop.write_product(&bad);
        },
        &[
            "error: the content has 1 problem:",
            "content/products/bad-price.md:5: field `price`: \"12.345\" has 3 decimal places; expected a decimal string with at most 2 decimal places",
        ],
    );
}

#[test]
fn every_problem_is_reported_at_once() {
    assert_failure_keeps_output(
        |shop| {
            let mut a = p(3, "Negative", "Kitchen");
            a.stock = -1;
            shop.write_product(&a);
            shop.write(
                "products/unknown-key.md",
                &p(4, "Unknown Key", "Kitchen").file().replacen(
                    "+++\n",
                    "+++\ncolour = \"red\"\n",
                    1,
                ),
            );
            let mut long = p(5, "Long", "Kitchen");
            long.name = "n".repeat(256);
            shop.write_product(&long);
            shop.write_product(&P {
                name: String::new(),
                ..p(6, "No Name", "Kitchen")
            });
        },
        &[
            "the content has 4 problems:",
            "content/products/negative.md:8: field `stock_quantity`: -1 is negative; expected a whole number from 0 to 2147483647",
            "content/products/unknown-key.md:2: unknown field `colour`, expected one of",
            "content/products/long.md:4: field `name`: is 256 characters long; expected a name of 1 to 255 characters",
            "content/products/no-name.md:4: field `name`: is empty; expected a name of 1 to 255 characters",
        ],
    );
}

#[test]
fn missing_field_is_named() {
    assert_failure_keeps_output(
        |shop| {
            shop.write(
                "products/no-price.md",
                &p(3, "No Price", "Kitchen")
                    .file()
                    .replace("price = \"49.90\"\n", ""),
            )
        },
        &["content/products/no-price.md:1: field `price`: is missing; expected a decimal string"],
    );
}

#[test]
fn duplicate_slugs_and_ids_name_both_files() {
    assert_failure_keeps_output(
        |shop| {
            let dup = P {
                slug: "walnut-tray".into(),
                ..p(1, "Walnut Tray Two", "Home Office")
            };
            shop.write("products/walnut-tray-two.md", &dup.file());
        },
        &[
            "duplicate id 1: ",
            "duplicate slug \"walnut-tray\": ",
            "content/products/walnut-tray-two.md",
            "content/products/walnut-tray.md",
            "give one of them another",
        ],
    );
}

#[test]
fn template_syntax_error_names_the_template_and_line() {
    assert_failure_keeps_output(
        |shop| {
            shop.write("templates/product.html", "{% extends \"base.html\" %}\n{% block main %}\n<h1>{{ product.name </h1>\n{% endblock main %}\n")
        },
        &[
            "template product.html (",
            "content/templates/product.html)",
            "3:",
            "fix the template and build again",
        ],
    );
}

#[test]
fn template_render_error_names_the_template_and_line() {
    assert_failure_keeps_output(
        |shop| {
            shop.write("templates/product.html", "{% extends \"base.html\" %}\n{% block main %}\n\n<h1>{{ product.nmae }}</h1>\n{% endblock main %}\n")
        },
        &[
            "rendering /products/",
            "with product.html failed near line 4 of ",
            "content/templates/product.html",
            "product.nmae",
        ],
    );
}

#[test]
fn refuses_to_overwrite_a_folder_it_did_not_write() {
    let shop = Shop::new(&[p(1, "Walnut Tray", "Home Office")], 10);
    std::fs::create_dir_all(shop.out()).unwrap();
    std::fs::write(shop.out().join("notes.txt"), "mine").unwrap();
    let out = build(&shop);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("was not written by `generator build`"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        std::fs::read_to_string(shop.out().join("notes.txt")).unwrap(),
        "mine"
    );
}

#[test]
fn a_missing_content_folder_says_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let out = generator_cmd()
        .args(["build", "--content", "nowhere"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out)
            .contains("nowhere is not a content folder (it has no site.toml); pass --content DIR"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn help_explains_the_commands() {
    let out = generator_cmd().arg("--help").output().unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    for text in ["build", "serve", "Render the whole site"] {
        assert!(help.contains(text), "{help}");
    }
    let out = generator_cmd().args(["build", "--help"]).output().unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    for text in [
        "--content <DIR>",
        "--out <DIR>",
        "--themes <DIR>",
        "SOURCE_DATE_EPOCH",
        "[default: public]",
    ] {
        assert!(help.contains(text), "{help}");
    }
    let out = generator_cmd().args(["serve", "--help"]).output().unwrap();
    assert!(
        String::from_utf8(out.stdout)
            .unwrap()
            .contains("--port <PORT>")
    );
}

#[test]
fn source_date_epoch_makes_builds_reproducible() {
    let shop = Shop::new(&[p(1, "Walnut Tray", "Home Office")], 10);
    let run = || {
        let out = build_cmd(&shop)
            .env("SOURCE_DATE_EPOCH", "1767225600")
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        snapshot_dir(&shop.out())
    };
    let first = run();
    assert_eq!(first, run());
    let json = String::from_utf8(first["products.json"].clone()).unwrap();
    assert!(
        json.contains("\"generated_at\":\"2026-01-01T00:00:00Z\""),
        "{json}"
    );
}
