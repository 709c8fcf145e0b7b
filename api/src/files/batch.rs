//! Several product files changed as one: all of them, or none.
//!
//! [`stage`] writes every new file beside its place first
//! (`.import-<pid>-<stamp>-<n>.tmp`, flushed to disk), which changes nothing
//! a reader sees. [`Staged::commit`] then renames them into place one by
//! one, in order, after keeping a link to each file it replaces
//! (`….bak`); a file that moves away (a product whose slug changed) is
//! renamed aside (`….old`) once its new file is in place. If any step fails,
//! the steps already done are undone in reverse (the originals renamed back,
//! the files the batch created removed), the staged files are removed, and
//! the step's error is returned. None of these names ends in `.md`, so the
//! content loader never reads them.
//!
//! A crash half way through a commit is not undone: the folder keeps what
//! was renamed so far, and the kept originals under their `.bak` and `.old`
//! names.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use super::FilesError;

/// One file of a batch.
pub(super) struct Change {
    /// Where the new file goes; what is there now is replaced.
    pub path: PathBuf,
    pub bytes: Vec<u8>,
    /// The file this one moves from, removed once the new one is in place
    /// (unless another change of the batch writes it).
    pub moves_from: Option<PathBuf>,
}

/// Files written beside their places, not yet in them. Dropped without
/// [`Staged::commit`], it removes them.
pub(super) struct Staged<'a> {
    changes: &'a [Change],
    /// `temps[i]` holds `changes[i]`'s bytes until it is renamed into place.
    temps: Vec<PathBuf>,
    /// The names originals are kept under: `<prefix>-<n>.bak`, `.old`.
    prefix: PathBuf,
}

/// Writes each change's bytes to a new file in `dir` (the folder of every
/// change's path), flushed to disk; on a failure, removes those written.
pub(super) fn stage<'a>(dir: &Path, changes: &'a [Change]) -> Result<Staged<'a>, FilesError> {
    use std::io::Write as _;
    let stamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let mut staged = Staged {
        changes,
        temps: Vec::with_capacity(changes.len()),
        prefix: dir.join(format!(".import-{}-{stamp:x}", std::process::id())),
    };
    for (n, change) in changes.iter().enumerate() {
        let temp = staged.name(n, "tmp");
        let written = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp)
            .and_then(|mut file| {
                // Pushed once created, so that a failure below removes it.
                staged.temps.push(temp.clone());
                file.write_all(&change.bytes)?;
                file.sync_all()
            });
        if let Err(source) = written {
            return Err(FilesError::Io {
                action: "write",
                path: temp,
                source,
            });
        }
    }
    Ok(staged)
}

/// A step of a commit, as it is undone.
enum Done {
    /// A new file is at `path`; what was there is at `kept` (`None`: nothing
    /// was, the batch created it).
    Placed {
        path: PathBuf,
        kept: Option<PathBuf>,
    },
    /// The file at `path` was renamed to `kept`.
    Moved { path: PathBuf, kept: PathBuf },
}

impl Staged<'_> {
    fn name(&self, n: usize, extension: &str) -> PathBuf {
        let mut name = self.prefix.clone().into_os_string();
        name.push(format!("-{n}.{extension}"));
        PathBuf::from(name)
    }

    /// Renames every staged file into place, all or nothing (see the
    /// module's comment).
    pub(super) fn commit(mut self) -> Result<(), FilesError> {
        let mut done = Vec::with_capacity(self.changes.len());
        match self.steps(&mut done) {
            Ok(()) => {
                self.temps.clear();
                for step in &done {
                    let kept = match step {
                        Done::Placed { kept: Some(k), .. } | Done::Moved { kept: k, .. } => k,
                        Done::Placed { kept: None, .. } => continue,
                    };
                    if let Err(e) = std::fs::remove_file(kept) {
                        tracing::warn!("could not remove {}: {e}", kept.display());
                    }
                }
                if let Some(dir) = self.prefix.parent() {
                    sync_dir(dir);
                }
                Ok(())
            }
            Err(e) => {
                undo(done);
                // Dropping `self` removes the staged files not renamed.
                Err(e)
            }
        }
    }

    fn steps(&self, done: &mut Vec<Done>) -> Result<(), FilesError> {
        let io = |action: &'static str, path: &Path| {
            let path = path.to_owned();
            move |source| FilesError::Io {
                action,
                path,
                source,
            }
        };
        for (n, (change, temp)) in self.changes.iter().zip(&self.temps).enumerate() {
            let kept = keep(&change.path, &self.name(n, "bak"))
                .map_err(io("keep a copy of", &change.path))?;
            if let Err(source) = std::fs::rename(temp, &change.path) {
                if let Some(kept) = &kept {
                    let _ = std::fs::remove_file(kept);
                }
                return Err(FilesError::Io {
                    action: "move the new version into",
                    path: change.path.clone(),
                    source,
                });
            }
            done.push(Done::Placed {
                path: change.path.clone(),
                kept,
            });
            let Some(from) = change.moves_from.as_ref().filter(|from| {
                **from != change.path && !self.changes.iter().any(|c| c.path == **from)
            }) else {
                continue;
            };
            let kept = self.name(n, "old");
            std::fs::rename(from, &kept).map_err(io("remove the old file", from))?;
            done.push(Done::Moved {
                path: from.clone(),
                kept,
            });
        }
        Ok(())
    }
}

impl Drop for Staged<'_> {
    fn drop(&mut self) {
        for temp in &self.temps {
            match std::fs::remove_file(temp) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    tracing::warn!("could not remove {}: {e}", temp.display());
                }
                _ => {}
            }
        }
    }
}

/// Keeps the file at `path`, if there is one, as `kept`: a second link to
/// it (a copy where the file system has no links). A folder there is not
/// kept: renaming a file over it fails.
fn keep(path: &Path, kept: &Path) -> std::io::Result<Option<PathBuf>> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => Ok(None),
        Ok(_) => {
            if std::fs::hard_link(path, kept).is_err() {
                std::fs::copy(path, kept)?;
            }
            Ok(Some(kept.to_owned()))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Undoes a commit's steps, newest first. A step that cannot be undone is
/// logged with where its original is kept, and the rest are undone all the
/// same.
fn undo(done: Vec<Done>) {
    for step in done.into_iter().rev() {
        let (undone, path, kept) = match step {
            Done::Placed {
                path,
                kept: Some(kept),
            }
            | Done::Moved { path, kept } => (std::fs::rename(&kept, &path), path, Some(kept)),
            Done::Placed { path, kept: None } => (std::fs::remove_file(&path), path, None),
        };
        if let Err(e) = undone {
            match kept {
                Some(kept) => tracing::error!(
                    "could not put {} back from {}: {e}; the folder is left half changed",
                    path.display(),
                    kept.display()
                ),
                None => tracing::error!(
                    "could not remove {}, which a failed change wrote: {e}",
                    path.display()
                ),
            }
        }
    }
}

/// Flushes a folder's entries (the renames) to disk, where that is possible.
fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Err(e) = std::fs::File::open(dir).and_then(|d| d.sync_all()) {
        tracing::warn!("could not flush {}: {e}", dir.display());
    }
    #[cfg(not(unix))]
    let _ = dir;
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::super::testing::snapshot;
    use super::*;

    fn change(dir: &Path, name: &str, bytes: &str, moves_from: Option<&str>) -> Change {
        Change {
            path: dir.join(name),
            bytes: bytes.into(),
            moves_from: moves_from.map(|m| dir.join(m)),
        }
    }

    #[test]
    fn a_batch_replaces_creates_and_moves_files() {
        let dir = tempfile::tempdir().unwrap();
        let dir = dir.path();
        std::fs::write(dir.join("a.md"), "a").unwrap();
        std::fs::write(dir.join("b.md"), "b").unwrap();
        std::fs::write(dir.join("keep.md"), "keep").unwrap();
        let changes = [
            change(dir, "a.md", "a2", Some("a.md")),
            change(dir, "c.md", "b2", Some("b.md")),
            change(dir, "d.md", "d", None),
        ];
        stage(dir, &changes).unwrap().commit().unwrap();
        let files = |names: &[(&str, &str)]| {
            names
                .iter()
                .map(|(n, b)| (PathBuf::from(n), Some(b.as_bytes().to_vec())))
                .collect::<BTreeMap<_, _>>()
        };
        assert_eq!(
            snapshot(dir),
            files(&[
                ("a.md", "a2"),
                ("c.md", "b2"),
                ("d.md", "d"),
                ("keep.md", "keep")
            ])
        );
    }

    #[test]
    fn a_batch_that_fails_half_way_leaves_the_folder_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        let dir = dir.path();
        std::fs::write(dir.join("a.md"), "a").unwrap();
        std::fs::write(dir.join("b.md"), "b").unwrap();
        // Renaming a file over a folder fails.
        std::fs::create_dir(dir.join("blocked.md")).unwrap();
        let before = snapshot(dir);
        let changes = [
            change(dir, "a.md", "a2", Some("a.md")),
            change(dir, "moved.md", "b2", Some("b.md")),
            change(dir, "new.md", "new", None),
            change(dir, "blocked.md", "x", None),
            change(dir, "later.md", "later", None),
        ];
        let staged = stage(dir, &changes).unwrap();
        assert_eq!(snapshot(dir).len(), before.len() + changes.len(), "staged");
        match staged.commit() {
            Err(FilesError::Io { path, .. }) => assert_eq!(path, dir.join("blocked.md")),
            other => panic!("expected the rename to fail, got {other:?}"),
        }
        assert_eq!(snapshot(dir), before);
    }

    #[test]
    fn staged_files_are_removed_when_not_committed() {
        let dir = tempfile::tempdir().unwrap();
        let dir = dir.path();
        let changes = [change(dir, "a.md", "a", None)];
        drop(stage(dir, &changes).unwrap());
        assert!(snapshot(dir).is_empty());
        // A folder that cannot be written to: nothing is left either.
        let missing = dir.join("missing");
        let changes = [change(&missing, "a.md", "a", None)];
        assert!(matches!(
            stage(&missing, &changes),
            Err(FilesError::Io {
                action: "write",
                ..
            })
        ));
        assert!(snapshot(dir).is_empty());
    }
}
