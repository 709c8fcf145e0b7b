//! The embedded default: with no `DATABASE_URL`, the catalog is the
//! `content/` folder itself. Each product is its file, `products/<slug>.md`,
//! replaced atomically on every write; its version (the `ETag`) is a digest
//! of the file's bytes, so an edit by hand is a new version too. Admin users
//! and API tokens live in `accounts.json` in the state folder; failed logins
//! and the build history live in memory. One process owns the folder.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use catalog::Product;
use catalog::records::{AuditRow, Fields, Filter, ImportPlan, Record, Sort, WriteRefused};
use catalog::records::{BuildRecord, BuildRow};
use catalog::types::ProductId;
use chrono::Utc;
use content;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// What went wrong with the folder, named with its path.
#[derive(Debug, thiserror::Error)]
pub enum FilesError {
    #[error("could not {action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the content folder has problems; fix them and try again:\n{0}")]
    Content(String),
    #[error("{} is not valid: {source}", path.display())]
    Accounts {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("there is already an admin user {0}")]
    UserExists(String),
    #[error("there is no admin user {0}")]
    NoSuchUser(String),
}

/// The catalog in `content/`, the accounts in the state folder.
pub struct Files {
    content: PathBuf,
    accounts: PathBuf,
    /// One write at a time: read, check, write.
    write: tokio::sync::Mutex<()>,
    failures: Mutex<Vec<(String, Instant)>>,
    builds: Mutex<Vec<BuildRow>>,
    /// Bumped by every write here; the site is built once at start.
    wanted: AtomicI64,
    published: AtomicI64,
}

/// A product file as the api sees it.
struct Stored {
    record: Record,
    path: PathBuf,
}

impl Files {
    pub fn new(content: &Path, state: &Path) -> Self {
        Self {
            content: content.to_owned(),
            accounts: state.join("accounts.json"),
            write: tokio::sync::Mutex::new(()),
            failures: Mutex::new(Vec::new()),
            builds: Mutex::new(Vec::new()),
            wanted: AtomicI64::new(1),
            published: AtomicI64::new(0),
        }
    }

    pub fn content_dir(&self) -> &Path {
        &self.content
    }

    /// `(wanted_version, published_version)`, counted in this process.
    pub fn catalog_state(&self) -> (i64, i64) {
        (
            self.wanted.load(Ordering::SeqCst),
            self.published.load(Ordering::SeqCst),
        )
    }

    /// A build that read the catalog at `version` was published.
    pub fn published(&self, version: i64) {
        self.published.fetch_max(version, Ordering::SeqCst);
    }

    fn changed(&self) {
        self.wanted.fetch_add(1, Ordering::SeqCst);
    }

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

    fn load(&self) -> Result<Vec<Stored>, FilesError> {
        let dir = self.products_dir();
        let files = content::product_files(&dir).map_err(|e| FilesError::Content(e.to_string()))?;
        let mut stored = Vec::with_capacity(files.len());
        let mut problems = Vec::new();
        for path in files {
            let bytes = std::fs::read(&path).map_err(|source| FilesError::Io {
                action: "read",
                path: path.clone(),
                source,
            })?;
            let text = String::from_utf8_lossy(&bytes);
            match content::parse_product(&path, &text) {
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

    pub async fn create(&self, actor: &str, f: &Fields) -> Result<Record, StoreWriteError> {
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
    ) -> Result<Record, StoreWriteError> {
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
    ) -> Result<(), StoreWriteError> {
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

    /// Applies a checked import: every version is checked first, then the
    /// files are written one by one (each atomically).
    pub async fn apply_import(
        &self,
        actor: &str,
        plan: &ImportPlan,
    ) -> Result<(), StoreWriteError> {
        let _one = self.write.lock().await;
        let all = self.load()?;
        for (id, expected, _) in &plan.updates {
            Self::current(&all, *id, Some(*expected))?;
        }
        let first_id = all.iter().map(|s| s.record.product_id).max().unwrap_or(0) + 1;
        let now = Utc::now();
        for (next_id, f) in (first_id..).zip(&plan.creates) {
            if all.iter().any(|s| s.record.slug == f.slug.as_str()) {
                return Err(WriteRefused::DuplicateSlug(f.slug.as_str().to_owned()).into());
            }
            let saved = self.save(&product(next_id, f, now, now)?, None)?;
            self.audit(actor, "insert", None, Some(&saved));
        }
        for (id, _, f) in &plan.updates {
            if let Some(current) = all.iter().find(|s| s.record.product_id == *id) {
                let saved = self.save(
                    &product(*id, f, current.record.created_at, now)?,
                    Some(&current.path),
                )?;
                self.audit(actor, "update", Some(&current.record), Some(&saved));
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
                    "price": format!("{:.2}", r.price), "image_url": r.image_url,
                    "category": r.category, "stock_quantity": r.stock_quantity,
                })
            })
            .unwrap_or_default()
        };
        let (b, a) = (fields(before), fields(after));
        let mut changes = serde_json::Map::new();
        for key in [
            "slug",
            "name",
            "description",
            "price",
            "image_url",
            "category",
            "stock_quantity",
        ] {
            let (old, new) = (b.get(key).cloned(), a.get(key).cloned());
            if old != new {
                changes.insert(key.into(), serde_json::json!({"before": old, "after": new}));
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
        let written = std::fs::create_dir_all(path.parent().unwrap_or(Path::new(".")))
            .and_then(|()| {
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&path)
            })
            .and_then(|mut f| writeln!(f, "{line}"));
        if let Err(e) = written {
            tracing::error!("could not append to {}: {e}", path.display());
        }
    }

    fn audit_path(&self) -> PathBuf {
        self.accounts.with_file_name("audit.jsonl")
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
    fn save(&self, product: &Product, old: Option<&Path>) -> Result<Record, StoreWriteError> {
        let path = self
            .products_dir()
            .join(format!("{}.md", product.slug.as_str()));
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

    // Accounts.

    fn read_accounts(&self) -> Result<Accounts, FilesError> {
        match std::fs::read(&self.accounts) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|source| FilesError::Accounts {
                path: self.accounts.clone(),
                source,
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Accounts::default()),
            Err(source) => Err(FilesError::Io {
                action: "read",
                path: self.accounts.clone(),
                source,
            }),
        }
    }

    fn write_accounts(&self, accounts: &Accounts) -> Result<(), FilesError> {
        let io = |action| {
            move |source| FilesError::Io {
                action,
                path: self.accounts.clone(),
                source,
            }
        };
        if let Some(dir) = self.accounts.parent() {
            std::fs::create_dir_all(dir).map_err(io("create the folder of"))?;
        }
        let json = serde_json::to_vec_pretty(accounts).unwrap_or_default();
        content::write_atomically(&self.accounts, &json).map_err(io("write"))
    }

    pub fn create_user(&self, email: &str, password_hash: &str) -> Result<i64, FilesError> {
        let mut accounts = self.read_accounts()?;
        if accounts.users.iter().any(|u| u.email == email) {
            return Err(FilesError::UserExists(email.to_owned()));
        }
        let user_id = accounts.users.iter().map(|u| u.user_id).max().unwrap_or(0) + 1;
        accounts.users.push(UserEntry {
            user_id,
            email: email.to_owned(),
            password_hash: password_hash.to_owned(),
        });
        self.write_accounts(&accounts)?;
        Ok(user_id)
    }

    pub fn set_password(&self, email: &str, password_hash: &str) -> Result<(), FilesError> {
        let mut accounts = self.read_accounts()?;
        let user = accounts
            .users
            .iter_mut()
            .find(|u| u.email == email)
            .ok_or_else(|| FilesError::NoSuchUser(email.to_owned()))?;
        password_hash.clone_into(&mut user.password_hash);
        self.write_accounts(&accounts)
    }

    /// `(user_id, email, password_hash)`.
    pub fn user_by_email(&self, email: &str) -> Result<Option<(i64, String, String)>, FilesError> {
        Ok(self
            .read_accounts()?
            .users
            .into_iter()
            .find(|u| u.email == email)
            .map(|u| (u.user_id, u.email, u.password_hash)))
    }

    pub fn create_token(&self, email: &str, name: &str, sha256: &[u8]) -> Result<i64, FilesError> {
        let mut accounts = self.read_accounts()?;
        let user_id = accounts
            .users
            .iter()
            .find(|u| u.email == email)
            .ok_or_else(|| FilesError::NoSuchUser(email.to_owned()))?
            .user_id;
        let token_id = accounts
            .tokens
            .iter()
            .map(|t| t.token_id)
            .max()
            .unwrap_or(0)
            + 1;
        accounts.tokens.push(TokenEntry {
            token_id,
            user_id,
            name: name.to_owned(),
            sha256: catalog::hex(sha256),
            revoked: false,
        });
        self.write_accounts(&accounts)?;
        Ok(token_id)
    }

    pub fn user_for_token(&self, sha256: &[u8]) -> Result<Option<(i64, String)>, FilesError> {
        let accounts = self.read_accounts()?;
        let digest = catalog::hex(sha256);
        Ok(accounts
            .tokens
            .iter()
            .find(|t| !t.revoked && t.sha256 == digest)
            .and_then(|t| accounts.users.iter().find(|u| u.user_id == t.user_id))
            .map(|u| (u.user_id, u.email.clone())))
    }

    pub fn revoke_token(&self, token_id: i64) -> Result<bool, FilesError> {
        let mut accounts = self.read_accounts()?;
        let Some(token) = accounts
            .tokens
            .iter_mut()
            .find(|t| t.token_id == token_id && !t.revoked)
        else {
            return Ok(false);
        };
        token.revoked = true;
        self.write_accounts(&accounts)?;
        Ok(true)
    }

    pub fn recent_failures(&self, key: &str, window: Duration) -> i64 {
        let failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        failures
            .iter()
            .filter(|(k, at)| k == key && at.elapsed() < window)
            .count() as i64
    }

    pub fn record_failure(&self, keys: &[&str], window: Duration) {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        failures.retain(|(_, at)| at.elapsed() < window);
        failures.extend(keys.iter().map(|k| ((*k).to_owned(), Instant::now())));
    }

    // Builds.

    /// Records a build that started now; its id.
    pub fn build_started(&self, trigger: &str) -> i64 {
        let mut builds = self.builds.lock().unwrap_or_else(|e| e.into_inner());
        let build_id = builds.last().map_or(1, |b| b.build_id + 1);
        builds.push(BuildRow {
            build_id,
            started_at: Utc::now(),
            finished_at: None,
            trigger: trigger.to_owned(),
            catalog_version: None,
            source: Some("content".into()),
            pages_uploaded: None,
            pages_deleted: None,
            paths_invalidated: None,
            duration_ms: None,
            error: None,
        });
        // The history is for people; a few hundred builds is plenty.
        if builds.len() > 500 {
            builds.drain(..100);
        }
        build_id
    }

    /// Ends build `build_id` with what the rebuild recorded.
    pub fn build_finished(&self, build_id: i64, record: &BuildRecord) {
        let mut builds = self.builds.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(b) = builds.iter_mut().find(|b| b.build_id == build_id) {
            let now = Utc::now();
            b.finished_at = Some(now);
            b.duration_ms = Some((now - b.started_at).num_milliseconds());
            b.catalog_version = record.catalog_version;
            b.pages_uploaded = record.pages_uploaded;
            b.pages_deleted = record.pages_deleted;
            b.paths_invalidated = record.paths_invalidated;
            b.error.clone_from(&record.error);
        }
    }

    pub fn recent_builds(&self, limit: i64) -> Vec<BuildRow> {
        let builds = self.builds.lock().unwrap_or_else(|e| e.into_inner());
        builds
            .iter()
            .rev()
            .take(usize::try_from(limit).unwrap_or(0))
            .cloned()
            .collect()
    }

    pub fn build(&self, build_id: i64) -> Option<BuildRow> {
        let builds = self.builds.lock().unwrap_or_else(|e| e.into_inner());
        builds.iter().find(|b| b.build_id == build_id).cloned()
    }
}

/// A write's failure: the rules (404, 409, 412) or the folder.
#[derive(Debug, thiserror::Error)]
pub enum StoreWriteError {
    #[error(transparent)]
    Rule(#[from] WriteRefused),
    #[error(transparent)]
    Files(#[from] FilesError),
}

#[derive(Default, Serialize, Deserialize)]
struct Accounts {
    users: Vec<UserEntry>,
    tokens: Vec<TokenEntry>,
}

#[derive(Serialize, Deserialize)]
struct UserEntry {
    user_id: i64,
    email: String,
    password_hash: String,
}

#[derive(Serialize, Deserialize)]
struct TokenEntry {
    token_id: i64,
    user_id: i64,
    name: String,
    /// Hex SHA-256 of the token.
    sha256: String,
    revoked: bool,
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
        image_url: f.image_url.clone(),
        category: f.category.clone(),
        stock_quantity: f.stock_quantity,
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
        image_url: p.image_url.map(|u| u.as_str().to_owned()),
        category: Some(p.category.as_str().to_owned()),
        stock_quantity: p.stock_quantity.get(),
        created_at: p.created_at,
        updated_at: p.updated_at,
        version,
    }
}
