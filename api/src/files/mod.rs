//! The embedded default: with no `DATABASE_URL`, the catalog is the
//! `content/` folder itself. Each product is its file, `products/<slug>.md`,
//! replaced atomically on every write; its version (the `ETag`) is a digest
//! of the file's bytes, so an edit by hand is a new version too. Admin users
//! and API tokens live in `accounts.json` in the state folder, browser
//! sessions in `sessions.json`; login attempts and the build history live in
//! memory. One process owns the folder.
//!
//! - `products`: the product files, the import, the audit log and images;
//! - `batch`: several product files changed all at once or not at all (the
//!   import);
//! - `accounts`: admin users and API tokens;
//! - `sessions`: browser sessions and login attempts;
//! - `builds`: the build history and the catalog's versions.

mod accounts;
mod batch;
mod builds;
mod products;
mod sessions;

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};

use catalog::records::{BuildRow, WriteRefused};

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

/// A write's failure: the catalog's rules refused it, or the folder failed.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error(transparent)]
    Refused(#[from] WriteRefused),
    #[error(transparent)]
    Files(#[from] FilesError),
}

/// The catalog in `content/`, the accounts in the state folder.
pub struct Files {
    content: PathBuf,
    /// The state folder: only its owner may enter it (see
    /// [`Files::create_state_dir`]).
    state: PathBuf,
    accounts: PathBuf,
    /// One write at a time: read, check, write.
    write: tokio::sync::Mutex<()>,
    sessions: PathBuf,
    attempts: Mutex<sessions::Attempts>,
    builds: Mutex<Vec<BuildRow>>,
    /// Bumped by every write here; the site is built once at start.
    wanted: AtomicI64,
    published: AtomicI64,
}

impl Files {
    pub fn new(content: &Path, state: &Path) -> Self {
        Self {
            content: content.to_owned(),
            state: state.to_owned(),
            accounts: state.join("accounts.json"),
            write: tokio::sync::Mutex::new(()),
            sessions: state.join("sessions.json"),
            attempts: Mutex::new(sessions::Attempts::default()),
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

    /// Creates the state folder if it is missing, 0700: it holds the
    /// accounts and the audit log. A folder that exists keeps its mode.
    fn create_state_dir(&self) -> Result<(), FilesError> {
        content::create_private_dir_all(&self.state).map_err(|source| FilesError::Io {
            action: "create the state folder",
            path: self.state.clone(),
            source,
        })
    }

    /// The catalog changed: a build is wanted.
    fn changed(&self) {
        self.wanted.fetch_add(1, Ordering::SeqCst);
    }
}

/// A shop of a test's own: a copy of three of the repository's products and
/// its `site.toml`, and an empty state folder.
#[cfg(test)]
pub(crate) mod testing {
    use std::collections::BTreeMap;
    use std::path::{Path, PathBuf};

    use catalog::draft::{Amount, Draft};
    use catalog::records::Fields;

    use super::Files;

    /// The products copied, with their ids in `content/`.
    pub const PRODUCTS: [(&str, i64); 3] = [
        ("alpaca-blend-scarf", 29),
        ("bamboo-laptop-stand", 55),
        ("ash-writing-desk", 88),
    ];

    pub struct Shop {
        /// Holds the folders until the test ends.
        dir: tempfile::TempDir,
        pub state: PathBuf,
        pub files: Files,
    }

    impl Shop {
        pub fn new() -> Self {
            // The repository's root holds Cargo.lock.
            let repo = Path::new(env!("CARGO_MANIFEST_DIR"))
                .ancestors()
                .find(|dir| dir.join("Cargo.lock").is_file())
                .expect("the crate is in the repository")
                .join("content");
            let dir = tempfile::tempdir().expect("a temp folder");
            let content = dir.path().join("content");
            std::fs::create_dir_all(content.join("products")).unwrap();
            std::fs::copy(repo.join("site.toml"), content.join("site.toml")).unwrap();
            for (slug, _) in PRODUCTS {
                let file = Path::new("products").join(format!("{slug}.md"));
                std::fs::copy(repo.join(&file), content.join(&file)).unwrap();
            }
            let state = dir.path().join("state");
            Self {
                files: Files::new(&content, &state),
                state,
                dir,
            }
        }

        /// The folders (kept until dropped) and the store on them.
        pub fn into_parts(self) -> (tempfile::TempDir, Files) {
            (self.dir, self.files)
        }

        /// Where product `slug` is kept.
        pub fn file(&self, slug: &str) -> PathBuf {
            self.files
                .content_dir()
                .join("products")
                .join(format!("{slug}.md"))
        }
    }

    /// Every entry under `dir`, by its path in it: a file's bytes, or
    /// `None` for a folder.
    pub fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Option<Vec<u8>>> {
        fn walk(root: &Path, dir: &Path, found: &mut BTreeMap<PathBuf, Option<Vec<u8>>>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                let name = path.strip_prefix(root).unwrap().to_owned();
                if path.is_dir() {
                    found.insert(name, None);
                    walk(root, &path, found);
                } else {
                    found.insert(name, Some(std::fs::read(&path).unwrap()));
                }
            }
        }
        let mut found = BTreeMap::new();
        walk(dir, dir, &mut found);
        found
    }

    /// A write's fields, valid by the catalog's rules; the slug from the name.
    pub fn fields(name: &str, price: &str, category: &str) -> Fields {
        Draft {
            slug: None,
            name: Some(name),
            description: "Oiled walnut, **hand finished**.",
            price: Some(Amount::Text(price)),
            image_url: None,
            images: None,
            category: Some(category),
            stock_quantity: Some(3),
            ..Draft::default()
        }
        .validate()
        .expect("valid fields")
    }
}
