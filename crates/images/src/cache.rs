//! The variant cache: one folder per source digest and [`POLICY`], holding
//! `set.json` (the set, and each variant file's size and SHA-256) and the
//! variants' files. Entries are written to a temporary folder and renamed
//! into place, so a build that stops half-way leaves no half entry. Beside
//! the entries, `index.json` keeps each source file's size, modification
//! time and digest (see `index.rs`). The folder can be deleted at any time:
//! the next build hashes and encodes again.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::{Data, ImageSet, Output, POLICY, Variant, variant_key};

/// `set.json`: the set, and what its files were when they were written.
/// An entry written before the files were recorded has none: its variants
/// are then read into memory.
#[derive(serde::Serialize, serde::Deserialize)]
struct Entry {
    #[serde(flatten)]
    set: ImageSet,
    /// By file name in the entry.
    #[serde(default)]
    files: BTreeMap<String, FileMeta>,
}

#[derive(Clone, serde::Serialize, serde::Deserialize)]
struct FileMeta {
    len: u64,
    sha256: String,
    /// The inode number it was written with (Unix).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ino: Option<u64>,
}

/// A file's inode number, where there is one.
fn inode(path: &Path) -> Option<u64> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        std::fs::symlink_metadata(path).ok().map(|m| m.ino())
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}

/// A source's variants found in the cache: the set, named for the source
/// that asked, and each variant's data by key (files in the entry, not read).
#[derive(Debug, Clone)]
pub struct Cached {
    pub set: ImageSet,
    pub files: Vec<(String, Data)>,
}

#[derive(Debug, Clone)]
pub struct Cache {
    dir: PathBuf,
}

impl Cache {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn entry(&self, digest: &str) -> PathBuf {
        self.dir.join(format!("{digest}-{POLICY}"))
    }

    /// Whether the cache holds a whole, readable entry for a source digest:
    /// its `set.json` parses and every variant's file is there. An entry left
    /// by an earlier layout, or one whose files were removed, is not, so the
    /// source is fetched and encoded again rather than failing every build.
    pub fn has(&self, digest: &str) -> bool {
        let entry = self.entry(digest);
        let Some(Entry { set, .. }) = std::fs::read(entry.join("set.json"))
            .ok()
            .and_then(|json| serde_json::from_slice(&json).ok())
        else {
            return false;
        };
        set.modern
            .iter()
            .chain(&set.fallback)
            .chain(std::iter::once(&set.og))
            .all(|v| entry.join(file_name(v)).is_file())
    }

    /// The entry for a source, if it is whole. Its variants are named for
    /// `key` now: the same photo may sit under another name. Their bytes stay
    /// in the entry's files (read only for an entry that does not record
    /// their sizes and digests).
    pub fn load(&self, key: &str, digest: &str) -> Option<Cached> {
        let entry = self.entry(digest);
        let json = std::fs::read(entry.join("set.json")).ok()?;
        let Entry {
            mut set,
            files: meta,
        } = serde_json::from_slice(&json).ok()?;
        let mut files = Vec::new();
        let mut rename = |v: &mut Variant| -> Option<()> {
            let name = file_name(v);
            let path = entry.join(&name);
            let data = match meta.get(&name) {
                // A file removed from the entry makes it a miss, not a
                // build that fails.
                Some(_) if !path.is_file() => return None,
                Some(m) => Data::File {
                    path,
                    len: m.len,
                    sha256: m.sha256.clone(),
                    ino: m.ino,
                },
                None => Data::Memory(std::fs::read(path).ok()?),
            };
            v.key = variant_key(key, digest, v.width, v.height, v.format.extension());
            files.push((v.key.clone(), data));
            Some(())
        };
        for v in set.modern.iter_mut().chain(set.fallback.iter_mut()) {
            rename(v)?;
        }
        rename(&mut set.og)?;
        set.source = key.to_owned();
        Some(Cached { set, files })
    }

    /// The smallest modern variant of a source, if the cache has its
    /// entry: a thumbnail without decoding anything.
    pub fn smallest(&self, digest: &str) -> Option<(PathBuf, crate::Format)> {
        let entry = self.entry(digest);
        let json = std::fs::read(entry.join("set.json")).ok()?;
        let Entry { set, .. } = serde_json::from_slice(&json).ok()?;
        let v = set.modern.first()?;
        Some((entry.join(file_name(v)), v.format))
    }

    pub fn store(&self, digest: &str, output: &Output) -> std::io::Result<()> {
        let entry = self.entry(digest);
        if self.has(digest) {
            return Ok(());
        }
        // An entry that cannot be read (an earlier layout, files gone) gives
        // way to this one.
        if entry.exists() {
            let _ = std::fs::remove_dir_all(&entry);
        }
        std::fs::create_dir_all(&self.dir)?;
        let temp = tempfile_dir(&self.dir)?;
        let set = &output.set;
        let mut meta = BTreeMap::new();
        for v in set
            .modern
            .iter()
            .chain(&set.fallback)
            .chain(std::iter::once(&set.og))
        {
            let (_, bytes) = output
                .files
                .iter()
                .find(|(k, _)| *k == v.key)
                .ok_or_else(|| std::io::Error::other(format!("{} has no bytes", v.key)))?;
            let path = temp.join(file_name(v));
            std::fs::write(&path, bytes)?;
            meta.insert(
                file_name(v),
                FileMeta {
                    len: bytes.len() as u64,
                    sha256: catalog::hex(&Sha256::digest(bytes)),
                    // Kept by the rename of the entry into place.
                    ino: inode(&path),
                },
            );
        }
        let entry_json = Entry {
            set: output.set.clone(),
            files: meta,
        };
        let json = serde_json::to_vec_pretty(&entry_json).map_err(std::io::Error::other)?;
        std::fs::write(temp.join("set.json"), json)?;
        match std::fs::rename(&temp, &entry) {
            Ok(()) => Ok(()),
            // Another build stored the same entry first.
            Err(_) if entry.join("set.json").is_file() => {
                let _ = std::fs::remove_dir_all(&temp);
                Ok(())
            }
            Err(e) => {
                let _ = std::fs::remove_dir_all(&temp);
                Err(e)
            }
        }
    }
}

/// A variant's file in an entry: its size and format, whatever its key.
fn file_name(v: &Variant) -> String {
    format!("{}x{}.{}", v.width, v.height, v.format.extension())
}

fn tempfile_dir(parent: &Path) -> std::io::Result<PathBuf> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let name = format!(
        ".tmp-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    let dir = parent.join(name);
    std::fs::create_dir(&dir)?;
    Ok(dir)
}
