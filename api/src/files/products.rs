//! The product files: `products/<slug>.md`, read and checked on every
//! call, each write under one lock and atomic; the audit log
//! (`audit.jsonl` in the state folder) and uploaded images.

use std::path::{Path, PathBuf};

use catalog::Product;
use catalog::records::{AuditRow, Fields, Filter, ImportPlan, Record, Sort, WriteRefused};
use catalog::types::{ProductId, Slug};
use chrono::Utc;
use sha2::{Digest, Sha256};

use super::{Files, FilesError, WriteError, batch};

/// A product file as the api sees it.
struct Stored {
    record: Record,
    path: PathBuf,
}

impl Files {
    fn products_dir(&self) -> PathBuf {
        self.content.join("products")
    }

    /// Product `id` among `all`, if it is at `expected` (when given).
    fn current(all: &[Stored], id: i64, expected: Option<i64>) -> Result<&Stored, WriteRefused> {
        let current = all
            .iter()
            .find(|s| s.record.product_id == id)
            .ok_or(WriteRefused::NotFound(id))?;
        match expected {
            Some(expected) if expected != current.record.version => Err(WriteRefused::Stale {
                id,
                expected,
                current: current.record.version,
            }),
            _ => Ok(current),
        }
    }

    /// Where product `slug` is kept.
    fn product_path(&self, slug: &str) -> PathBuf {
        self.products_dir().join(format!("{slug}.md"))
    }

    /// Every product file, read and checked. Problems are named by the file's
    /// place in the content folder (`products/mug.md:3: ...`), as the owner
    /// knows it, not by where the server keeps the folder.
    fn load(&self) -> Result<Vec<Stored>, FilesError> {
        let dir = self.products_dir();
        let files = content::product_files(&dir).map_err(|e| match e {
            content::ContentError::Read { path, source } => FilesError::Io {
                action: "list the product files in",
                path,
                source,
            },
            e => FilesError::Content(e.to_string()),
        })?;
        let mut stored = Vec::with_capacity(files.len());
        let mut problems = Vec::new();
        for path in files {
            let bytes = std::fs::read(&path).map_err(|source| FilesError::Io {
                action: "read",
                path: path.clone(),
                source,
            })?;
            let text = String::from_utf8_lossy(&bytes);
            let name = Path::new("products").join(path.file_name().unwrap_or_default());
            match content::parse_product(&name, &text) {
                Ok(p) => stored.push(Stored {
                    record: record(p, version(&bytes)),
                    path,
                }),
                Err(errors) => problems.extend(errors.iter().map(ToString::to_string)),
            }
        }
        if problems.is_empty() {
            Ok(stored)
        } else {
            Err(FilesError::Content(problems.join("\n")))
        }
    }

    pub fn list(&self, filter: &Filter) -> Result<(Vec<Record>, i64), FilesError> {
        let text = filter.text.as_deref().map(str::to_lowercase);
        let mut found: Vec<Record> = self
            .load()?
            .into_iter()
            .map(|s| s.record)
            .filter(|r| {
                filter
                    .category
                    .as_ref()
                    .is_none_or(|c| r.category.as_ref() == Some(c))
                    && filter.in_stock.is_none_or(|s| (r.stock_quantity > 0) == s)
                    && filter.status.is_none_or(|s| r.status == s)
                    && text.as_ref().is_none_or(|t| {
                        r.name.to_lowercase().contains(t) || r.slug.to_lowercase().contains(t)
                    })
            })
            .collect();
        let by_name =
            |a: &Record, b: &Record| (&a.name, a.product_id).cmp(&(&b.name, b.product_id));
        match filter.sort {
            Sort::Name => found.sort_by(by_name),
            Sort::PriceUp => found.sort_by(|a, b| a.price.cmp(&b.price).then(by_name(a, b))),
            Sort::PriceDown => found.sort_by(|a, b| b.price.cmp(&a.price).then(by_name(a, b))),
            Sort::Updated => {
                found.sort_by(|a, b| b.updated_at.cmp(&a.updated_at).then(by_name(a, b)))
            }
        }
        let total = found.len() as i64;
        let page = found
            .into_iter()
            .skip(usize::try_from(filter.offset).unwrap_or(usize::MAX))
            .take(usize::try_from(filter.limit).unwrap_or(0))
            .collect();
        Ok((page, total))
    }

    pub fn get(&self, id: i64) -> Result<Option<Record>, FilesError> {
        Ok(self
            .load()?
            .into_iter()
            .find(|s| s.record.product_id == id)
            .map(|s| s.record))
    }

    pub async fn create(&self, actor: &str, f: &Fields) -> Result<Record, WriteError> {
        let _one = self.write.lock().await;
        let all = self.load()?;
        if all.iter().any(|s| s.record.slug == f.slug.as_str()) {
            return Err(WriteRefused::DuplicateSlug(f.slug.as_str().to_owned()).into());
        }
        let id = all.iter().map(|s| s.record.product_id).max().unwrap_or(0) + 1;
        let now = Utc::now();
        let product = product(id, f, now, now)?;
        let saved = self.save(&product, None)?;
        self.audit(actor, "insert", None, Some(&saved));
        Ok(saved)
    }

    pub async fn update(
        &self,
        actor: &str,
        id: i64,
        expected: i64,
        f: &Fields,
    ) -> Result<Record, WriteError> {
        let _one = self.write.lock().await;
        let all = self.load()?;
        let current = Self::current(&all, id, Some(expected))?;
        if all
            .iter()
            .any(|s| s.record.product_id != id && s.record.slug == f.slug.as_str())
        {
            return Err(WriteRefused::DuplicateSlug(f.slug.as_str().to_owned()).into());
        }
        let unchanged = product(id, f, current.record.created_at, current.record.updated_at)?;
        if record(unchanged.clone(), expected) == current.record {
            return Ok(current.record.clone());
        }
        let product = product(id, f, current.record.created_at, Utc::now())?;
        let saved = self.save(&product, Some(&current.path))?;
        self.audit(actor, "update", Some(&current.record), Some(&saved));
        Ok(saved)
    }

    pub async fn delete(
        &self,
        actor: &str,
        id: i64,
        expected: Option<i64>,
    ) -> Result<(), WriteError> {
        let _one = self.write.lock().await;
        let all = self.load()?;
        let current = Self::current(&all, id, expected)?;
        std::fs::remove_file(&current.path).map_err(|source| FilesError::Io {
            action: "delete",
            path: current.path.clone(),
            source,
        })?;
        self.changed();
        self.audit(actor, "delete", Some(&current.record), None);
        Ok(())
    }

    /// Applies a checked import, all or nothing: every version and slug is
    /// checked first, every file is written beside its place, and only then
    /// are they renamed into place (the updates first, then the creates),
    /// each file they replace kept until the last rename; a failure puts back
    /// what was there (see [`super::batch`]). The audit log is written once
    /// the whole import is in place.
    pub async fn apply_import(&self, actor: &str, plan: &ImportPlan) -> Result<(), WriteError> {
        let _one = self.write.lock().await;
        let all = self.load()?;
        for (id, expected, _) in &plan.updates {
            Self::current(&all, *id, Some(*expected))?;
        }
        let taken = |slug: &Slug, by: Option<i64>| {
            all.iter()
                .any(|s| Some(s.record.product_id) != by && s.record.slug == slug.as_str())
        };
        // `(product, the product it was)`, in the plan's order.
        let mut writes: Vec<(Product, Option<&Stored>)> =
            Vec::with_capacity(plan.creates.len() + plan.updates.len());
        let first_id = all.iter().map(|s| s.record.product_id).max().unwrap_or(0) + 1;
        let now = Utc::now();
        for (next_id, f) in (first_id..).zip(&plan.creates) {
            if taken(&f.slug, None) {
                return Err(WriteRefused::DuplicateSlug(f.slug.as_str().to_owned()).into());
            }
            writes.push((product(next_id, f, now, now)?, None));
        }
        for (id, expected, f) in &plan.updates {
            let current = Self::current(&all, *id, Some(*expected))?;
            if taken(&f.slug, Some(*id)) {
                return Err(WriteRefused::DuplicateSlug(f.slug.as_str().to_owned()).into());
            }
            writes.push((
                product(*id, f, current.record.created_at, now)?,
                Some(current),
            ));
        }
        // Each file is written once, and none is another product's file (a
        // file whose `slug` differs from its name).
        let mut paths = std::collections::HashSet::new();
        for (p, was) in &writes {
            let path = self.product_path(p.slug.as_str());
            let others = all.iter().any(|s| {
                s.path == path && was.is_none_or(|w| w.record.product_id != s.record.product_id)
            });
            if others || !paths.insert(path) {
                return Err(WriteRefused::DuplicateSlug(p.slug.as_str().to_owned()).into());
            }
        }

        let texts: Vec<String> = writes
            .iter()
            .map(|(p, _)| content::product_text(p))
            .collect();
        let (updates, creates): (Vec<_>, Vec<_>) = writes
            .iter()
            .zip(&texts)
            .map(|((p, was), text)| batch::Change {
                path: self.product_path(p.slug.as_str()),
                bytes: text.clone().into_bytes(),
                moves_from: was.map(|w| w.path.clone()),
            })
            .partition(|c| c.moves_from.is_some());
        let changes: Vec<batch::Change> = updates.into_iter().chain(creates).collect();
        let staged = batch::stage(&self.products_dir(), &changes)?;
        // From the first rename on, a build may read part of the import;
        // whatever comes of it, the next build reads the folder again.
        if !changes.is_empty() {
            self.changed();
        }
        staged.commit()?;

        for ((p, was), text) in writes.iter().zip(&texts) {
            let saved = record(p.clone(), version(text.as_bytes()));
            match was {
                None => self.audit(actor, "insert", None, Some(&saved)),
                Some(was) => self.audit(actor, "update", Some(&was.record), Some(&saved)),
            }
        }
        Ok(())
    }

    /// Appends a change to `audit.jsonl`; a failure to record is logged, the
    /// change itself stands.
    fn audit(&self, actor: &str, action: &str, before: Option<&Record>, after: Option<&Record>) {
        use std::io::Write as _;
        let fields = |r: Option<&Record>| {
            r.map(|r| {
                serde_json::json!({
                    "slug": r.slug, "name": r.name, "description": r.description,
                    "price": format!("{:.2}", r.price), "image_url": r.image_url(),
                    "images": r.images,
                    "category": r.category, "stock_quantity": r.stock_quantity,
                    "status": r.status.as_str(),
                    "compare_at_price": r.compare_at_price.map(|c| format!("{c:.2}")),
                    "seo_title": r.seo_title, "seo_description": r.seo_description,
                    "gtin": r.gtin, "mpn": r.mpn, "buy_url": r.buy_url,
                })
            })
            .unwrap_or_default()
        };
        let (b, a) = (fields(before), fields(after));
        let mut changes = serde_json::Map::new();
        // Every field either side records, so a new field is audited
        // without being listed here.
        let keys: std::collections::BTreeSet<String> = [&b, &a]
            .into_iter()
            .filter_map(|v| v.as_object())
            .flat_map(|o| o.keys().cloned())
            .collect();
        for key in keys {
            let (old, new) = (b.get(&key).cloned(), a.get(&key).cloned());
            if old != new {
                changes.insert(key, serde_json::json!({"before": old, "after": new}));
            }
        }
        if changes.is_empty() && action == "update" {
            return;
        }
        let line = serde_json::json!({
            "at": Utc::now(),
            "actor": actor,
            "product_id": after.or(before).map(|r| r.product_id),
            "action": action,
            "changes": changes,
        });
        let path = self.audit_path();
        if let Err(e) = self.create_state_dir() {
            tracing::error!("could not record a change: {e}");
            return;
        }
        let written = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .and_then(|mut f| writeln!(f, "{line}"));
        if let Err(e) = written {
            tracing::error!("could not append to {}: {e}", path.display());
        }
    }

    fn audit_path(&self) -> PathBuf {
        self.state.join("audit.jsonl")
    }

    pub fn history(&self, id: i64, limit: i64) -> Result<Vec<AuditRow>, FilesError> {
        let text = match std::fs::read_to_string(self.audit_path()) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(source) => {
                return Err(FilesError::Io {
                    action: "read",
                    path: self.audit_path(),
                    source,
                });
            }
        };
        let mut rows: Vec<AuditRow> = text
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|v| v["product_id"] == id)
            .map(|v| AuditRow {
                at: serde_json::from_value(v["at"].clone()).unwrap_or_default(),
                actor: v["actor"].as_str().unwrap_or_default().to_owned(),
                product_id: id,
                action: v["action"].as_str().unwrap_or_default().to_owned(),
                changes: v["changes"].clone(),
            })
            .collect();
        rows.reverse();
        rows.truncate(usize::try_from(limit).unwrap_or(0));
        Ok(rows)
    }

    /// Keeps an uploaded image in the content folder's `images/`, where the
    /// build finds it.
    pub fn put_image(&self, sha256: &str, extension: &str, bytes: &[u8]) -> Result<(), FilesError> {
        let dir = self.content.join("images");
        let path = dir.join(format!("{sha256}.{extension}"));
        if path.is_file() {
            return Ok(());
        }
        std::fs::create_dir_all(&dir)
            .and_then(|()| content::write_atomically(&path, bytes))
            .map_err(|source| FilesError::Io {
                action: "write",
                path,
                source,
            })
    }

    /// Writes `product` to `products/<slug>.md`, then removes `old` if the
    /// slug (and so the file) changed.
    fn save(&self, product: &Product, old: Option<&Path>) -> Result<Record, WriteError> {
        let path = self.product_path(product.slug.as_str());
        let text = content::product_text(product);
        self.changed();
        content::write_atomically(&path, text.as_bytes()).map_err(|source| FilesError::Io {
            action: "write",
            path: path.clone(),
            source,
        })?;
        if let Some(old) = old.filter(|old| *old != path) {
            std::fs::remove_file(old).map_err(|source| FilesError::Io {
                action: "remove the old file",
                path: old.to_owned(),
                source,
            })?;
        }
        Ok(record(product.clone(), version(text.as_bytes())))
    }
}

/// A file's version: 48 bits of its SHA-256, so it survives JSON numbers.
fn version(bytes: &[u8]) -> i64 {
    let digest = Sha256::digest(bytes);
    digest[..6]
        .iter()
        .fold(0i64, |v, b| (v << 8) | i64::from(*b))
        .max(1)
}

fn product(
    id: i64,
    f: &Fields,
    created_at: chrono::DateTime<Utc>,
    updated_at: chrono::DateTime<Utc>,
) -> Result<Product, FilesError> {
    Ok(Product {
        id: ProductId::new(id).map_err(|e| FilesError::Content(format!("product id {id}: {e}")))?,
        slug: f.slug.clone(),
        name: f.name.clone(),
        description: f.description.trim().to_owned(),
        price: f.price,
        images: f.images.clone(),
        category: f.category.clone(),
        stock_quantity: f.stock_quantity,
        merchandising: f.merchandising.clone(),
        created_at,
        updated_at,
    })
}

fn record(p: Product, version: i64) -> Record {
    Record {
        product_id: p.id.get(),
        slug: p.slug.as_str().to_owned(),
        name: p.name.as_str().to_owned(),
        description: p.description,
        price: p.price.amount(),
        images: p.images.iter().map(Into::into).collect(),
        category: Some(p.category.as_str().to_owned()),
        stock_quantity: p.stock_quantity.get(),
        status: p.merchandising.status,
        compare_at_price: p.merchandising.compare_at_price.map(|c| c.amount()),
        seo_title: p.merchandising.seo_title,
        seo_description: p.merchandising.seo_description,
        gtin: p.merchandising.gtin.map(|g| g.as_str().to_owned()),
        mpn: p.merchandising.mpn,
        buy_url: p.merchandising.buy_url.map(|u| u.as_str().to_owned()),
        created_at: p.created_at,
        updated_at: p.updated_at,
        version,
    }
}

#[cfg(test)]
mod tests {
    use rust_decimal::Decimal;

    use super::super::testing::{PRODUCTS, Shop, fields, snapshot};
    use super::*;

    fn everything() -> Filter {
        Filter {
            limit: 1000,
            ..Filter::default()
        }
    }

    fn refused(e: WriteError) -> WriteRefused {
        match e {
            WriteError::Refused(r) => r,
            WriteError::Files(e) => panic!("a folder error, not a refusal: {e}"),
        }
    }

    #[test]
    fn the_copied_products_are_read_with_their_ids_and_a_version() {
        let shop = Shop::new();
        let (all, total) = shop.files.list(&everything()).unwrap();
        assert_eq!(total, 3);
        let mut ids: Vec<i64> = all.iter().map(|r| r.product_id).collect();
        ids.sort_unstable();
        assert_eq!(ids, PRODUCTS.map(|(_, id)| id));
        let desk = shop.files.get(88).unwrap().unwrap();
        assert_eq!(desk.slug, "ash-writing-desk");
        assert_eq!(desk.price, Decimal::new(58900, 2));
        assert_eq!(
            desk.version,
            version(&std::fs::read(shop.file("ash-writing-desk")).unwrap())
        );
        assert!(shop.files.get(1).unwrap().is_none());
    }

    #[test]
    fn list_filters_sorts_and_pages() {
        let shop = Shop::new();
        let list = |filter: Filter| {
            let (page, total) = shop.files.list(&filter).unwrap();
            (
                page.into_iter().map(|r| r.product_id).collect::<Vec<_>>(),
                total,
            )
        };
        assert_eq!(list(everything()).0, [29, 88, 55], "by name");
        let office = Filter {
            category: Some("Home Office".into()),
            ..everything()
        };
        assert_eq!(list(office).0, [88, 55]);
        let text = Filter {
            text: Some("LAPTOP".into()),
            ..everything()
        };
        assert_eq!(list(text).0, [55]);
        let cheapest = Filter {
            sort: Sort::PriceUp,
            ..everything()
        };
        assert_eq!(list(cheapest).0, [55, 29, 88]);
        let second_page = Filter {
            sort: Sort::PriceDown,
            limit: 2,
            offset: 2,
            ..everything()
        };
        assert_eq!(list(second_page), (vec![55], 3));
    }

    #[tokio::test]
    async fn the_merchandising_fields_are_kept_filtered_and_in_the_history() {
        let shop = Shop::new();
        let mut draft = fields("Walnut Desk Tray", "49.90", "Home Office");
        draft.merchandising = catalog::Merchandising {
            status: catalog::Status::Draft,
            compare_at_price: Some(catalog::types::Price::parse("59.90").unwrap()),
            seo_title: Some("Walnut desk tray".into()),
            seo_description: Some("Oiled walnut, for pens.".into()),
            gtin: Some(catalog::types::Gtin::parse("4006381333931").unwrap()),
            mpn: Some("WDT-32".into()),
            buy_url: Some(catalog::types::BuyUrl::parse("https://buy.example.com/tray").unwrap()),
        };
        let created = shop
            .files
            .create("owner@shop.example", &draft)
            .await
            .unwrap();
        let read = shop.files.get(created.product_id).unwrap().unwrap();
        assert_eq!(read, created, "what was written reads back");
        assert_eq!(read.status, catalog::Status::Draft);
        assert_eq!(read.compare_at_price, Some(Decimal::new(5990, 2)));
        assert_eq!(read.gtin.as_deref(), Some("4006381333931"));
        assert_eq!(
            read.buy_url.as_deref(),
            Some("https://buy.example.com/tray")
        );

        let only = |status| {
            let filter = Filter {
                status: Some(status),
                ..everything()
            };
            let (page, total) = shop.files.list(&filter).unwrap();
            (
                page.into_iter().map(|r| r.product_id).collect::<Vec<_>>(),
                total,
            )
        };
        assert_eq!(only(catalog::Status::Draft), (vec![created.product_id], 1));
        assert_eq!(only(catalog::Status::Active).1, 3);
        assert_eq!(only(catalog::Status::Archived).1, 0);

        let mut active = draft.clone();
        active.merchandising.status = catalog::Status::Active;
        active.merchandising.compare_at_price = None;
        shop.files
            .update(
                "owner@shop.example",
                created.product_id,
                created.version,
                &active,
            )
            .await
            .unwrap();
        let history = shop.files.history(created.product_id, 10).unwrap();
        assert_eq!(
            history[0].changes["status"],
            serde_json::json!({"before": "draft", "after": "active"})
        );
        assert_eq!(
            history[0].changes["compare_at_price"],
            serde_json::json!({"before": "59.90", "after": null})
        );
        assert!(history[0].changes.get("gtin").is_none(), "unchanged");
        assert_eq!(history[1].changes["mpn"]["after"], "WDT-32");
    }

    #[tokio::test]
    async fn create_update_delete_round_trip_through_the_files() {
        let shop = Shop::new();
        let (wanted, _) = shop.files.catalog_state();

        let created = shop
            .files
            .create(
                "owner@shop.example",
                &fields("Walnut Desk Tray", "49.90", "Home Office"),
            )
            .await
            .unwrap();
        assert_eq!(created.product_id, 89, "the next id after the largest");
        assert_eq!(created.slug, "walnut-desk-tray");
        let file = shop.file("walnut-desk-tray");
        assert_eq!(created.version, version(&std::fs::read(&file).unwrap()));
        assert_eq!(shop.files.get(89).unwrap().as_ref(), Some(&created));
        assert_eq!(shop.files.catalog_state().0, wanted + 1);

        // The same fields again: nothing changes, not even the version.
        let same = fields("Walnut Desk Tray", "49.90", "Home Office");
        let unchanged = shop
            .files
            .update("owner@shop.example", 89, created.version, &same)
            .await
            .unwrap();
        assert_eq!(unchanged, created);

        // A new slug moves the file.
        let mut renamed = fields("Walnut Desk Tray", "52.00", "Home Office");
        renamed.slug = Slug::parse("walnut-tray").unwrap();
        let updated = shop
            .files
            .update("owner@shop.example", 89, created.version, &renamed)
            .await
            .unwrap();
        assert_eq!(updated.price, Decimal::new(5200, 2));
        assert_eq!(updated.created_at, created.created_at);
        assert_ne!(updated.version, created.version);
        assert!(!file.exists());
        assert!(shop.file("walnut-tray").is_file());
        assert_eq!(shop.files.get(89).unwrap(), Some(updated.clone()));

        shop.files
            .delete("owner@shop.example", 89, Some(updated.version))
            .await
            .unwrap();
        assert!(!shop.file("walnut-tray").exists());
        assert!(shop.files.get(89).unwrap().is_none());
        assert_eq!(shop.files.list(&everything()).unwrap().1, 3);

        // Each change is in the history, newest first, with who made it.
        let history = shop.files.history(89, 10).unwrap();
        let actions: Vec<&str> = history.iter().map(|r| r.action.as_str()).collect();
        assert_eq!(actions, ["delete", "update", "insert"]);
        assert!(history.iter().all(|r| r.actor == "owner@shop.example"));
        assert_eq!(
            history[1].changes["price"],
            serde_json::json!({"before": "49.90", "after": "52.00"})
        );
        assert_eq!(shop.files.history(89, 1).unwrap().len(), 1);
        assert!(shop.files.history(88, 10).unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_stale_version_or_a_missing_product_is_refused() {
        let shop = Shop::new();
        let desk = shop.files.get(88).unwrap().unwrap();
        let before = std::fs::read(shop.file("ash-writing-desk")).unwrap();
        let change = fields("Ash Writing Desk", "600.00", "Home Office");

        let stale = shop
            .files
            .update("owner@shop.example", 88, desk.version + 1, &change)
            .await
            .unwrap_err();
        assert_eq!(
            refused(stale),
            WriteRefused::Stale {
                id: 88,
                expected: desk.version + 1,
                current: desk.version,
            }
        );
        let stale = shop
            .files
            .delete("owner@shop.example", 88, Some(desk.version + 1))
            .await
            .unwrap_err();
        assert!(matches!(refused(stale), WriteRefused::Stale { id: 88, .. }));
        assert_eq!(
            std::fs::read(shop.file("ash-writing-desk")).unwrap(),
            before
        );

        let missing = shop
            .files
            .update("owner@shop.example", 7, 1, &change)
            .await
            .unwrap_err();
        assert_eq!(refused(missing), WriteRefused::NotFound(7));
        let missing = shop
            .files
            .delete("owner@shop.example", 7, None)
            .await
            .unwrap_err();
        assert_eq!(refused(missing), WriteRefused::NotFound(7));

        // Without a version, a delete takes whatever is there.
        shop.files
            .delete("owner@shop.example", 88, None)
            .await
            .unwrap();
        assert!(shop.files.get(88).unwrap().is_none());
    }

    #[tokio::test]
    async fn a_duplicate_slug_is_refused() {
        let shop = Shop::new();
        let taken = fields("Ash Writing Desk", "10.00", "Home Office");
        let duplicate = shop
            .files
            .create("owner@shop.example", &taken)
            .await
            .unwrap_err();
        assert_eq!(
            refused(duplicate),
            WriteRefused::DuplicateSlug("ash-writing-desk".into())
        );
        let scarf = shop.files.get(29).unwrap().unwrap();
        let duplicate = shop
            .files
            .update("owner@shop.example", 29, scarf.version, &taken)
            .await
            .unwrap_err();
        assert!(matches!(refused(duplicate), WriteRefused::DuplicateSlug(_)));
        assert_eq!(shop.files.list(&everything()).unwrap().1, 3);
        assert_eq!(shop.files.get(29).unwrap(), Some(scarf));
    }

    #[tokio::test]
    async fn an_import_plan_applies_or_changes_nothing() {
        let shop = Shop::new();
        let desk = shop.files.get(88).unwrap().unwrap();
        let scarf = shop.files.get(29).unwrap().unwrap();

        // A stale row: nothing at all is written.
        let stale = ImportPlan {
            creates: vec![fields("Oak Coaster Set", "18.00", "Kitchen")],
            updates: vec![(
                88,
                desk.version + 1,
                fields("Ash Writing Desk", "1.00", "Home Office"),
            )],
        };
        let refusal = shop
            .files
            .apply_import("owner@shop.example", &stale)
            .await
            .unwrap_err();
        assert!(matches!(
            refused(refusal),
            WriteRefused::Stale { id: 88, .. }
        ));
        assert_eq!(shop.files.list(&everything()).unwrap().1, 3);

        let plan = ImportPlan {
            creates: vec![
                fields("Oak Coaster Set", "18.00", "Kitchen"),
                fields("Linen Tea Towel", "12.50", "Kitchen"),
            ],
            updates: vec![
                (
                    88,
                    desk.version,
                    fields("Ash Writing Desk", "549.00", "Home Office"),
                ),
                (
                    29,
                    scarf.version,
                    fields("Alpaca Blend Scarf", "69.00", "Textiles"),
                ),
            ],
        };
        shop.files
            .apply_import("owner@shop.example", &plan)
            .await
            .unwrap();
        let (kitchen, total) = shop
            .files
            .list(&Filter {
                category: Some("Kitchen".into()),
                ..everything()
            })
            .unwrap();
        assert_eq!(total, 2);
        let mut created: Vec<(i64, &str)> = kitchen
            .iter()
            .map(|r| (r.product_id, r.slug.as_str()))
            .collect();
        created.sort_unstable();
        assert_eq!(created, [(89, "oak-coaster-set"), (90, "linen-tea-towel")]);
        let desk_now = shop.files.get(88).unwrap().unwrap();
        assert_eq!(desk_now.price, Decimal::new(54900, 2));
        assert_eq!(desk_now.created_at, desk.created_at);
        assert_eq!(shop.files.list(&everything()).unwrap().1, 5);
        assert_eq!(shop.files.history(88, 10).unwrap()[0].action, "update");

        // A slug taken since the preview stops the import.
        let again = ImportPlan {
            creates: vec![fields("Oak Coaster Set", "18.00", "Kitchen")],
            updates: Vec::new(),
        };
        let refusal = shop
            .files
            .apply_import("owner@shop.example", &again)
            .await
            .unwrap_err();
        assert!(matches!(refused(refusal), WriteRefused::DuplicateSlug(_)));
    }

    #[tokio::test]
    async fn an_import_that_fails_half_way_leaves_every_file_as_it_was() {
        let shop = Shop::new();
        let desk = shop.files.get(88).unwrap().unwrap();
        let scarf = shop.files.get(29).unwrap().unwrap();
        let stand = shop.files.get(55).unwrap().unwrap();
        let mut moved = fields("Alpaca Blend Scarf", "69.00", "Textiles");
        moved.slug = Slug::parse("alpaca-scarf").unwrap();
        let plan = ImportPlan {
            creates: vec![
                fields("Oak Coaster Set", "18.00", "Kitchen"),
                fields("Linen Tea Towel", "12.50", "Kitchen"),
                fields("Cork Trivet", "9.00", "Kitchen"),
            ],
            updates: vec![
                (
                    88,
                    desk.version,
                    fields("Ash Writing Desk", "549.00", "Home Office"),
                ),
                (29, scarf.version, moved),
                (
                    55,
                    stand.version,
                    fields("Bamboo Laptop Stand", "44.00", "Home Office"),
                ),
            ],
        };
        // Renaming a file over a folder fails: the tea towel's file cannot
        // be put in place, after the updates and the coaster set were.
        let products = shop.files.content_dir().join("products");
        std::fs::create_dir(shop.file("linen-tea-towel")).unwrap();
        let before = snapshot(&products);
        let (wanted, _) = shop.files.catalog_state();

        let failed = shop
            .files
            .apply_import("owner@shop.example", &plan)
            .await
            .unwrap_err();
        match failed {
            WriteError::Files(FilesError::Io { path, .. }) => {
                assert_eq!(path, shop.file("linen-tea-towel"));
            }
            other => panic!("expected the rename to fail, got {other:?}"),
        }
        assert_eq!(snapshot(&products), before, "no file changed, none is left");
        assert_eq!(shop.files.get(88).unwrap(), Some(desk.clone()));
        assert!(shop.files.history(88, 10).unwrap().is_empty(), "no audit");
        assert!(!shop.files.audit_path().exists());
        assert!(
            shop.files.catalog_state().0 > wanted,
            "a build reads it again"
        );

        // Without the folder in the way, the same import applies whole.
        std::fs::remove_dir(shop.file("linen-tea-towel")).unwrap();
        shop.files
            .apply_import("owner@shop.example", &plan)
            .await
            .unwrap();
        let names: Vec<PathBuf> = snapshot(&products).into_keys().collect();
        let expected: Vec<PathBuf> = [
            "alpaca-scarf",
            "ash-writing-desk",
            "bamboo-laptop-stand",
            "cork-trivet",
            "linen-tea-towel",
            "oak-coaster-set",
        ]
        .iter()
        .map(|slug| PathBuf::from(format!("{slug}.md")))
        .collect();
        assert_eq!(names, expected, "the scarf moved; nothing else is left");
        assert_eq!(shop.files.list(&everything()).unwrap().1, 6);
        let scarf_now = shop.files.get(29).unwrap().unwrap();
        assert_eq!(scarf_now.slug, "alpaca-scarf");
        assert_eq!(scarf_now.created_at, scarf.created_at);
        let actions = |id| {
            let history = shop.files.history(id, 10).unwrap();
            history.into_iter().map(|r| r.action).collect::<Vec<_>>()
        };
        assert_eq!(actions(29), ["update"]);
        assert_eq!(actions(90), ["insert"], "the tea towel");
    }

    #[tokio::test]
    async fn an_import_writes_no_other_product_s_file() {
        let shop = Shop::new();
        let scarf = shop.files.get(29).unwrap().unwrap();
        // A file whose `slug` differs from its name: `scarf.md` is the desk's.
        let desk = std::fs::read_to_string(shop.file("ash-writing-desk")).unwrap();
        std::fs::remove_file(shop.file("ash-writing-desk")).unwrap();
        let desk = desk.replacen("+++\n", "+++\nslug = \"ash-writing-desk\"\n", 1);
        std::fs::write(shop.file("scarf"), desk).unwrap();
        assert_eq!(
            shop.files.get(88).unwrap().unwrap().slug,
            "ash-writing-desk"
        );
        let products = shop.files.content_dir().join("products");
        let before = snapshot(&products);

        let mut to_scarf = fields("Alpaca Blend Scarf", "69.00", "Textiles");
        to_scarf.slug = Slug::parse("scarf").unwrap();
        let plans = [
            ImportPlan {
                creates: vec![fields("Scarf", "1.00", "Textiles")],
                updates: Vec::new(),
            },
            ImportPlan {
                creates: Vec::new(),
                updates: vec![(29, scarf.version, to_scarf)],
            },
            ImportPlan {
                creates: vec![
                    fields("Oak Coaster Set", "18.00", "Kitchen"),
                    fields("Oak Coaster Set", "19.00", "Kitchen"),
                ],
                updates: Vec::new(),
            },
        ];
        for plan in plans {
            let refusal = shop
                .files
                .apply_import("owner@shop.example", &plan)
                .await
                .unwrap_err();
            assert!(matches!(refused(refusal), WriteRefused::DuplicateSlug(_)));
            assert_eq!(snapshot(&products), before);
        }
    }

    #[test]
    fn a_broken_product_file_is_named() {
        let shop = Shop::new();
        std::fs::write(shop.file("broken"), "no front matter\n").unwrap();
        match shop.files.list(&everything()) {
            Err(FilesError::Content(problems)) => {
                // By its place in the content folder, not on the server.
                assert!(problems.starts_with("products/broken.md:"), "{problems}");
            }
            other => panic!(
                "expected the content's problems, got {:?}",
                other.map(|r| r.1)
            ),
        }
        assert!(matches!(shop.files.get(88), Err(FilesError::Content(_))));
    }

    #[test]
    fn an_image_is_kept_once_by_its_name() {
        let shop = Shop::new();
        let path = shop.files.content_dir().join("images").join("abc.png");
        shop.files.put_image("abc", "png", b"first").unwrap();
        shop.files.put_image("abc", "png", b"second").unwrap();
        assert_eq!(std::fs::read(path).unwrap(), b"first");
    }
}
