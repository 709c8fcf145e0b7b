//! Fixture shops written to temp folders, and helpers to build them.

use std::path::{Path, PathBuf};
use std::process::Command;

use chrono::{DateTime, Utc};
use pipeline::{BuildConfig, BuildError, Built, build_from_content};

#[cfg(feature = "postgres")]
pub use testkit::{FreshDb, Pair};
pub use testkit::{free_port, repo_root};

/// A fixed `generated_at`, so output is byte-stable.
pub fn fixed_time() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-01T12:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

/// One product of a fixture shop.
#[derive(Debug, Clone)]
pub struct P {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub price: String,
    pub category: String,
    pub stock: i64,
    pub image_url: Option<String>,
    /// A gallery (url, alt): written as `images` instead of `image_url`.
    pub images: Vec<(String, String)>,
    pub description: String,
}

pub fn p(id: i64, name: &str, category: &str) -> P {
    let slug = name
        .to_lowercase()
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("-");
    P {
        id,
        slug,
        name: name.into(),
        price: "49.90".into(),
        category: category.into(),
        stock: 12,
        image_url: Some("/images/item.svg".into()),
        images: Vec::new(),
        description: format!("A fine **{name}**.\n\n- sturdy\n- useful"),
    }
}

/// Escapes a string as a TOML basic string.
pub fn toml_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

impl P {
    pub fn file(&self) -> String {
        let image = if self.images.is_empty() {
            self.image_url
                .as_ref()
                .map(|u| format!("image_url = {}\n", toml_str(u)))
                .unwrap_or_default()
        } else {
            let list: Vec<String> = self
                .images
                .iter()
                .map(|(url, alt)| format!("{{ url = {}, alt = {} }}", toml_str(url), toml_str(alt)))
                .collect();
            format!("images = [{}]\n", list.join(", "))
        };
        format!(
            "+++\nid = {}\nslug = {}\nname = {}\nprice = {}\ncategory = {}\n{image}stock_quantity = {}\ncreated_at = 2026-01-05T10:00:00Z\nupdated_at = 2026-02-01T08:30:00Z\n+++\n{}\n",
            self.id,
            toml_str(&self.slug),
            toml_str(&self.name),
            toml_str(&self.price),
            toml_str(&self.category),
            self.stock,
            self.description
        )
    }
}

/// A content folder in a temp dir.
pub struct Shop {
    pub dir: tempfile::TempDir,
}

impl Shop {
    pub fn new(products: &[P], per_page: usize) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let content = dir.path().join("content");
        std::fs::create_dir_all(content.join("products")).unwrap();
        std::fs::create_dir_all(content.join("images")).unwrap();
        std::fs::write(
            content.join("site.toml"),
            format!(
                "title = \"Test Shop\"\ntagline = \"Things for tests\"\ndescription = \"A shop for tests.\"\nbase_url = \"https://shop.example.com\"\ncurrency = \"EUR\"\nlocale = \"en-IE\"\nproducts_per_page = {per_page}\n"
            ),
        )
        .unwrap();
        std::fs::write(
            content.join("images/item.svg"),
            "<svg xmlns=\"http://www.w3.org/2000/svg\"/>",
        )
        .unwrap();
        let shop = Self { dir };
        for product in products {
            shop.write_product(product);
        }
        shop
    }

    pub fn content(&self) -> PathBuf {
        self.dir.path().join("content")
    }

    pub fn out(&self) -> PathBuf {
        self.dir.path().join("public")
    }

    pub fn write_product(&self, product: &P) {
        self.write(&format!("products/{}.md", product.slug), &product.file());
    }

    pub fn write(&self, rel: &str, text: &str) {
        let path = self.content().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    pub fn config(&self) -> BuildConfig {
        config_for(&self.content())
    }

    pub fn build(&self) -> Result<Built, BuildError> {
        build_from_content(&self.config())
    }
}

pub fn config_for(content: &Path) -> BuildConfig {
    BuildConfig {
        content_dir: content.to_owned(),
        themes_dir: repo_root().join("themes"),
        generated_at: Some(fixed_time()),
        progress: false,
        image_cache: None,
    }
}

pub fn generator_cmd() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_generator"));
    cmd.env_remove("LOG_FORMAT")
        .env_remove("RUST_LOG")
        .env("NO_COLOR", "1");
    cmd
}

pub fn text(site: &render::site::Site, key: &str) -> String {
    String::from_utf8(
        site.get(key)
            .unwrap_or_else(|| panic!("no {key} in the site"))
            .body
            .read()
            .unwrap()
            .into_owned(),
    )
    .unwrap()
}

/// Fresh databases with the generator's schema.
#[cfg(feature = "postgres")]
pub trait FreshDbExt: Sized {
    /// A fresh database with every migration applied.
    async fn migrated() -> Self;
    /// A pooled connection to it.
    async fn client(&self) -> store::Connection;
}

#[cfg(feature = "postgres")]
impl FreshDbExt for FreshDb {
    async fn migrated() -> Self {
        let db = Self::new().await;
        let target = store::Target::parse(&db.url, store::Role::Primary).unwrap();
        store::migrate(&target, None).await.unwrap();
        db
    }

    async fn client(&self) -> store::Connection {
        store::Target::parse(&self.url, store::Role::Primary)
            .unwrap()
            .connect()
            .await
            .unwrap()
    }
}
