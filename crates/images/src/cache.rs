//! The variant cache: one folder per source digest and [`POLICY`], holding
//! `set.json` and the variants' files. Entries are written to a temporary
//! folder and renamed into place, so a build that stops half-way leaves no
//! half entry. The folder can be deleted at any time: the next build encodes
//! again.

use std::path::{Path, PathBuf};

use crate::{ImageSet, Output, POLICY, Variant, variant_key};

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

    /// The entry for a source, if it is whole. Its variants are named for
    /// `key` now: the same photo may sit under another name.
    pub fn load(&self, key: &str, digest: &str) -> Option<Output> {
        let entry = self.entry(digest);
        let json = std::fs::read(entry.join("set.json")).ok()?;
        let mut set: ImageSet = serde_json::from_slice(&json).ok()?;
        let mut files = Vec::new();
        let mut rename = |v: &mut Variant| -> Option<()> {
            let bytes = std::fs::read(entry.join(file_name(v))).ok()?;
            v.key = variant_key(key, digest, v.width, v.height, v.format.extension());
            files.push((v.key.clone(), bytes));
            Some(())
        };
        for v in set.modern.iter_mut().chain(set.fallback.iter_mut()) {
            rename(v)?;
        }
        rename(&mut set.og)?;
        set.source = key.to_owned();
        Some(Output { set, files })
    }

    pub fn store(&self, digest: &str, output: &Output) -> std::io::Result<()> {
        let entry = self.entry(digest);
        if entry.join("set.json").is_file() {
            return Ok(());
        }
        std::fs::create_dir_all(&self.dir)?;
        let temp = tempfile_dir(&self.dir)?;
        let set = &output.set;
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
            std::fs::write(temp.join(file_name(v)), bytes)?;
        }
        let json = serde_json::to_vec_pretty(&output.set).map_err(std::io::Error::other)?;
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
