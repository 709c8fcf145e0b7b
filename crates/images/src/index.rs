//! The digest index: per source file, the size and modification time it had
//! when it was hashed, and its SHA-256. A file whose size and modification
//! time still match is not read at all: its digest comes from here.
//!
//! The index lives in the cache folder (`index.json`) and is only a shortcut:
//! a missing, unreadable or corrupt index is treated as empty (every source
//! is hashed again), and it is written whole (a temporary file renamed into
//! place), so a build that stops half-way leaves the old one.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

/// The index's file in the cache folder.
pub(crate) const FILE: &str = "index.json";

/// A file modified less than this long before it was hashed is not indexed:
/// a write in the same clock tick, keeping the size, would go unseen.
const SETTLED: Duration = Duration::from_secs(2);

/// What a file was when it was hashed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct Stamp {
    pub size: u64,
    /// Modification time, in nanoseconds since 1970.
    pub mtime_ns: i128,
    pub sha256: String,
}

impl Stamp {
    /// The size and modification time of `meta`, with `sha256`; `None` when
    /// the file's time is unknown or too recent to trust.
    pub(crate) fn of(meta: &std::fs::Metadata, sha256: String) -> Option<Self> {
        let modified = meta.modified().ok()?;
        if SystemTime::now()
            .duration_since(modified)
            .is_ok_and(|age| age < SETTLED)
            || modified > SystemTime::now()
        {
            return None;
        }
        Some(Self {
            size: meta.len(),
            mtime_ns: mtime_ns(modified)?,
            sha256,
        })
    }

    /// Whether `meta` still has this size and modification time.
    pub(crate) fn matches(&self, meta: &std::fs::Metadata) -> bool {
        meta.len() == self.size
            && meta
                .modified()
                .ok()
                .and_then(mtime_ns)
                .is_some_and(|t| t == self.mtime_ns)
    }
}

fn mtime_ns(t: SystemTime) -> Option<i128> {
    match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(after) => i128::try_from(after.as_nanos()).ok(),
        Err(before) => i128::try_from(before.duration().as_nanos())
            .ok()
            .map(|n| -n),
    }
}

/// Source path → stamp.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct Index {
    /// Bumped if the format changes; another version reads as empty.
    version: u32,
    files: BTreeMap<PathBuf, Stamp>,
}

const VERSION: u32 = 1;

impl Index {
    /// The index in `dir`, or an empty one if it is missing or unreadable.
    pub(crate) fn load(dir: &Path) -> Self {
        let path = dir.join(FILE);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Self::empty(),
            Err(e) => {
                tracing::warn!(
                    "cannot read the image cache's index {}: {e}; hashing every photo",
                    path.display()
                );
                return Self::empty();
            }
        };
        match serde_json::from_slice::<Self>(&bytes) {
            Ok(index) if index.version == VERSION => index,
            Ok(_) => Self::empty(),
            Err(e) => {
                tracing::warn!(
                    "the image cache's index {} is corrupt ({e}); hashing every photo, and writing a new one",
                    path.display()
                );
                Self::empty()
            }
        }
    }

    fn empty() -> Self {
        Self {
            version: VERSION,
            files: BTreeMap::new(),
        }
    }

    pub(crate) fn get(&self, path: &Path) -> Option<&Stamp> {
        self.files.get(path)
    }

    pub(crate) fn insert(&mut self, path: PathBuf, stamp: Stamp) {
        self.files.insert(path, stamp);
    }

    /// Writes the index into `dir` whole: a temporary file, then a rename.
    pub(crate) fn save(&self, dir: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        let json = serde_json::to_vec(self).map_err(std::io::Error::other)?;
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let temp = dir.join(format!(
            ".{FILE}.tmp-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::write(&temp, json)?;
        std::fs::rename(&temp, dir.join(FILE)).inspect_err(|_| {
            let _ = std::fs::remove_file(&temp);
        })
    }
}
