//! The local directory target. The site is written to a sibling folder and
//! swapped in with renames, so the output folder always holds one whole build:
//! the previous one until the new one is complete.

use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::site::Site;

/// Marks a folder as written by this tool, so that it may be replaced.
pub const MARKER: &str = ".shopfront-output";

#[derive(Debug, thiserror::Error)]
pub enum DirError {
    #[error(
        "{} exists and was not written by `generator build` (it has no {MARKER} file); refusing to replace it: remove it or choose another --out",
        path.display()
    )]
    Foreign { path: PathBuf },
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
}

fn io<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> DirError + 'a {
    move |source| DirError::Io {
        action,
        path: path.to_owned(),
        source,
    }
}

/// Writes `site` to `out`, replacing its previous content in one swap.
/// On any error, `out` is left as it was.
pub fn write_site(site: &Site, out: &Path) -> Result<(), DirError> {
    let out = if out.is_absolute() {
        out.to_owned()
    } else {
        std::env::current_dir()
            .map_err(io("read", Path::new(".")))?
            .join(out)
    };
    let parent = out.parent().unwrap_or(Path::new("/")).to_owned();
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "public".into());
    if out.exists() {
        let empty = out.read_dir().map_err(io("read", &out))?.next().is_none();
        if !out.is_dir() || !(empty || out.join(MARKER).is_file()) {
            return Err(DirError::Foreign { path: out });
        }
    }
    std::fs::create_dir_all(&parent).map_err(io("create", &parent))?;
    let pid = std::process::id();
    let staging = parent.join(format!(".{name}.new-{pid}"));
    let old = parent.join(format!(".{name}.old-{pid}"));
    for leftover in [&staging, &old] {
        if leftover.exists() {
            std::fs::remove_dir_all(leftover).map_err(io("remove", leftover))?;
        }
    }

    if let Err(e) = write_tree(site, &staging) {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(e);
    }
    if out.exists() {
        std::fs::rename(&out, &old).map_err(io("move aside", &out))?;
        if let Err(source) = std::fs::rename(&staging, &out) {
            let _ = std::fs::rename(&old, &out);
            let _ = std::fs::remove_dir_all(&staging);
            return Err(DirError::Io {
                action: "move into place",
                path: out,
                source,
            });
        }
        std::fs::remove_dir_all(&old).map_err(io("remove", &old))?;
    } else {
        std::fs::rename(&staging, &out).map_err(io("move into place", &out))?;
    }
    Ok(())
}

fn write_tree(site: &Site, root: &Path) -> Result<(), DirError> {
    std::fs::create_dir_all(root).map_err(io("create", root))?;
    // Each task makes its page's folder and writes the page: no separate,
    // sequential pass over the folders.
    let pages: Vec<_> = site.iter().collect();
    pages.par_iter().try_for_each(|(key, page)| {
        let path = root.join(key);
        let write = || -> std::io::Result<()> {
            if let Some(parent) = path.parent() {
                // Most pages have a folder of their own: make it directly,
                // and make its parents only when they are missing.
                match std::fs::create_dir(parent) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                        std::fs::create_dir_all(parent)?
                    }
                    Err(e) => return Err(e),
                }
            }
            let mut file = std::fs::File::create(&path)?;
            write_parts(&mut file, page.body.parts())
        };
        write().map_err(io("write", &path))
    })?;
    let marker = root.join(MARKER);
    std::fs::write(
        &marker,
        b"This folder is replaced whole by `generator build`.\n",
    )
    .map_err(io("write", &marker))
}

/// Writes all parts, in as few system calls as the kernel allows.
fn write_parts(file: &mut std::fs::File, parts: [&[u8]; 3]) -> std::io::Result<()> {
    use std::io::{IoSlice, Write};
    let mut slices = parts.map(IoSlice::new);
    let mut bufs = &mut slices[..];
    while !bufs.is_empty() {
        match file.write_vectored(bufs) {
            Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
            Ok(n) => IoSlice::advance_slices(&mut bufs, n),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site(body: &str) -> Site {
        let mut s = Site::new();
        s.insert("index.html".into(), body.as_bytes().to_vec());
        s.insert("products/a/index.html".into(), b"a".to_vec());
        s
    }

    #[test]
    fn replaces_the_previous_output_whole() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("public");
        write_site(&site("one"), &out).unwrap();
        std::fs::write(out.join("stale.html"), "old").unwrap();
        write_site(&site("two"), &out).unwrap();
        assert_eq!(
            std::fs::read_to_string(out.join("index.html")).unwrap(),
            "two"
        );
        assert!(!out.join("stale.html").exists());
        assert!(out.join("products/a/index.html").is_file());
        let leftovers: Vec<_> = std::fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(leftovers, ["public"]);
    }

    #[test]
    fn refuses_to_replace_a_folder_it_did_not_write() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("precious.txt"), "keep").unwrap();
        let err = write_site(&site("x"), tmp.path()).unwrap_err();
        assert!(
            err.to_string()
                .contains("was not written by `generator build`"),
            "{err}"
        );
        assert_eq!(
            std::fs::read_to_string(tmp.path().join("precious.txt")).unwrap(),
            "keep"
        );
    }
}
