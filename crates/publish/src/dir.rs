//! The local directory target. The site is written to a sibling folder and
//! swapped in with renames, so the output folder always holds one whole build:
//! the previous one until the new one is complete.
//!
//! The build that was replaced stays beside the output as `.<name>.prev`, and
//! the next build starts from it: it rewrites only the files whose bytes
//! changed and removes the ones the site no longer has. Creating a hundred
//! thousand files and folders, and deleting as many, costs far more than
//! comparing them, and on some filesystems (ext4 without a journal) creating
//! files stays slow for minutes after a large delete.

use std::collections::HashMap;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use render::site::{Page, Site};

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

/// What a write did to the files of the folder it started from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Written {
    /// Keys of the files created or rewritten, in key order.
    pub written: Vec<String>,
    /// Files already there with the same bytes.
    pub unchanged: usize,
    /// Keys of the files the site no longer has, in key order.
    pub removed: Vec<String>,
}

/// Writes `site` to `out`, replacing its previous content in one swap.
/// On any error, `out` is left as it was.
pub fn write_site(site: &Site, out: &Path) -> Result<Written, DirError> {
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
    if out.exists() && !replaceable(&out)? {
        return Err(DirError::Foreign { path: out });
    }
    std::fs::create_dir_all(&parent).map_err(io("create", &parent))?;
    let pid = std::process::id();
    let staging = parent.join(format!(".{name}.new-{pid}"));
    let prev = parent.join(format!(".{name}.prev"));
    if staging.exists() {
        std::fs::remove_dir_all(&staging).map_err(io("remove", &staging))?;
    }
    if prev.exists() && !replaceable(&prev)? {
        return Err(DirError::Foreign { path: prev });
    }

    // Start from the build before last when there is one (another build may
    // take it first: then this one writes a fresh folder).
    let reuse = prev.join(MARKER).is_file() && std::fs::rename(&prev, &staging).is_ok();
    let written = if reuse {
        update_tree(site, &staging)
    } else {
        write_tree(site, &staging)
    };
    let written = match written {
        Ok(w) => w,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&staging);
            return Err(e);
        }
    };
    if let Err(e) = swap(&staging, &out, &prev) {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(e);
    }
    Ok(written)
}

/// Moves `out` aside to `prev` and `staging` into its place; on error, `out`
/// is as it was.
fn swap(staging: &Path, out: &Path, prev: &Path) -> Result<(), DirError> {
    if !out.exists() {
        return std::fs::rename(staging, out).map_err(io("move into place", out));
    }
    // Left by a concurrent build to the same folder, or empty.
    if prev.exists() {
        std::fs::remove_dir_all(prev).map_err(io("remove", prev))?;
    }
    std::fs::rename(out, prev).map_err(io("move aside", out))?;
    std::fs::rename(staging, out).map_err(|source| {
        let _ = std::fs::rename(prev, out);
        io("move into place", out)(source)
    })
}

/// A folder this tool may replace: one it wrote, or an empty one.
fn replaceable(dir: &Path) -> Result<bool, DirError> {
    if !dir.is_dir() {
        return Ok(false);
    }
    let empty = dir.read_dir().map_err(io("read", dir))?.next().is_none();
    Ok(empty || dir.join(MARKER).is_file())
}

fn write_marker(root: &Path) -> Result<(), DirError> {
    let marker = root.join(MARKER);
    std::fs::write(
        &marker,
        b"This folder is replaced whole by `generator build`.\n",
    )
    .map_err(io("write", &marker))
}

/// Writes every page into an empty folder.
fn write_tree(site: &Site, root: &Path) -> Result<Written, DirError> {
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
                    Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
                    Err(e) if e.kind() == ErrorKind::NotFound => std::fs::create_dir_all(parent)?,
                    Err(e) => return Err(e),
                }
            }
            write_file(&path, page)
        };
        write().map_err(io("write", &path))
    })?;
    write_marker(root)?;
    Ok(Written {
        written: pages.iter().map(|(k, _)| (*k).to_owned()).collect(),
        ..Written::default()
    })
}

/// Turns a folder holding an earlier build into this one: pages with the same
/// bytes are left alone (and keep their modification time), others are
/// written, and files the site does not have are removed, with the folders
/// they leave empty.
fn update_tree(site: &Site, root: &Path) -> Result<Written, DirError> {
    // Every file of the earlier build: whether it is a plain file (a
    // symlink is replaced, never written through), and its inode number as
    // the listing gives it (no stat).
    let mut existing = HashMap::new();
    for entry in walkdir::WalkDir::new(root).min_depth(1) {
        let entry = entry.map_err(|e| {
            let path = e.path().unwrap_or(root).to_owned();
            DirError::Io {
                action: "read",
                path,
                source: e.into(),
            }
        })?;
        if !entry.file_type().is_dir() {
            let key = entry.path().strip_prefix(root).unwrap_or(entry.path());
            let key = key.to_string_lossy();
            let key = if cfg!(windows) {
                key.replace('\\', "/")
            } else {
                key.into_owned()
            };
            existing.insert(key, (entry.file_type().is_file(), listed_inode(&entry)));
        }
    }
    let pages: Vec<_> = site.iter().collect();
    // Each page's key if it was written, None if it was already there.
    let outcomes = pages
        .par_iter()
        .map(|&(key, page)| {
            let path = root.join(key);
            let write = || -> std::io::Result<Option<&str>> {
                match existing.get(key) {
                    Some(&(true, listed)) => {
                        if let Some(file) = page.body.as_file()
                            && ((file.ino.is_some() && file.ino == listed)
                                || same_file(&path, &file.path))
                        {
                            // A link to the cache's file: the same bytes.
                            return Ok(None);
                        }
                        if same_bytes(&path, page)? {
                            if let Some(file) = page.body.as_file() {
                                // Equal, but a copy: a link from now on.
                                relink(&file.path, &path);
                            }
                            return Ok(None);
                        }
                        // Replaced, never written into: it may be a link
                        // into the image cache.
                        std::fs::remove_file(&path)?;
                    }
                    Some((false, _)) => std::fs::remove_file(&path)?,
                    None => make_way(root, key)?,
                }
                write_file(&path, page)?;
                Ok(Some(key))
            };
            write().map_err(io("write", &path))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut removed = Vec::new();
    let stale = existing
        .keys()
        .filter(|k| *k != MARKER && site.get(k).is_none());
    for key in stale {
        let path = root.join(key);
        match std::fs::symlink_metadata(&path) {
            Ok(m) if !m.is_dir() => {
                std::fs::remove_file(&path).map_err(io("remove", &path))?;
                remove_empty_parents(root, &path);
                removed.push(key.clone());
            }
            // Gone with a folder, or a folder now, where a page goes.
            _ => {}
        }
    }
    removed.sort_unstable();
    write_marker(root)?;
    let written: Vec<String> = outcomes.iter().flatten().map(|k| (*k).to_owned()).collect();
    Ok(Written {
        unchanged: outcomes.len() - written.len(),
        written,
        removed,
    })
}

/// A listed file's inode number, from the directory listing itself.
fn listed_inode(entry: &walkdir::DirEntry) -> Option<u64> {
    #[cfg(unix)]
    {
        use walkdir::DirEntryExt;
        Some(entry.ino())
    }
    #[cfg(not(unix))]
    {
        let _ = entry;
        None
    }
}

/// Whether `a` and `b` are the same file (hard links to one inode), so
/// hold the same bytes without reading them.
fn same_file(a: &Path, b: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        match (std::fs::symlink_metadata(a), std::fs::metadata(b)) {
            (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
            _ => false,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = (a, b);
        false
    }
}

/// Replaces the file at `path` with a link to `source` if it can (in one
/// rename); otherwise leaves it.
fn relink(source: &Path, path: &Path) {
    let temp = path.with_file_name(format!(
        ".{}.link-{}",
        path.file_name()
            .map_or_else(Default::default, |n| n.to_string_lossy()),
        std::process::id()
    ));
    if std::fs::hard_link(source, &temp).is_ok() && std::fs::rename(&temp, path).is_err() {
        let _ = std::fs::remove_file(&temp);
    }
}

/// Whether the file at `path` holds exactly the page's bytes.
fn same_bytes(path: &Path, page: &Page) -> std::io::Result<bool> {
    use std::io::Read;
    let mut file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e),
    };
    if file.metadata()?.len() != page.body.len() as u64 {
        return Ok(false);
    }
    let mut bytes = Vec::with_capacity(page.body.len());
    file.read_to_end(&mut bytes)?;
    let whole;
    let parts = match page.body.parts() {
        Some(parts) => parts,
        None => {
            whole = page.body.read()?;
            [&whole[..], &[], &[]]
        }
    };
    let mut rest = &bytes[..];
    for part in parts {
        match rest.split_at_checked(part.len()) {
            Some((head, tail)) if head == part => rest = tail,
            _ => return Ok(false),
        }
    }
    Ok(rest.is_empty())
}

/// Makes the folders above a new page, first removing any file of the earlier
/// build that stands where one of them must go.
fn make_way(root: &Path, key: &str) -> std::io::Result<()> {
    let Some(parent) = Path::new(key).parent() else {
        return Ok(());
    };
    let mut dir = root.to_owned();
    for part in parent.components() {
        dir.push(part);
        match std::fs::symlink_metadata(&dir) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                std::fs::remove_file(&dir)?;
                std::fs::create_dir(&dir)?;
            }
            Err(e) if e.kind() == ErrorKind::NotFound => match std::fs::create_dir(&dir) {
                Ok(()) => {}
                // Made by the task writing a sibling page.
                Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
                Err(e) => return Err(e),
            },
            Err(e) => return Err(e),
        }
    }
    // A folder of the earlier build where this page's file goes.
    let path = root.join(key);
    if std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir()) {
        std::fs::remove_dir_all(&path)?;
    }
    Ok(())
}

/// Removes the folders above a removed file that it left empty.
fn remove_empty_parents(root: &Path, removed: &Path) {
    let mut dir = removed.parent();
    while let Some(d) = dir.filter(|d| *d != root && d.starts_with(root)) {
        // Fails, and so stops, at the first folder that is not empty.
        if std::fs::remove_dir(d).is_err() {
            break;
        }
        dir = d.parent();
    }
}

/// Writes a new file at `path` (nothing is there). A file body (a photo's
/// variant in the image cache) becomes a hard link to its file, which costs
/// no copy and keeps its bytes however the cache changes later (entries are
/// only ever added or removed whole, never written into); it is copied when
/// a link cannot be made (another file system).
fn write_file(path: &Path, page: &Page) -> std::io::Result<()> {
    if let Some(parts) = page.body.parts() {
        let mut file = std::fs::File::create(path)?;
        return write_parts(&mut file, parts);
    }
    let Some(file) = page.body.as_file() else {
        return Ok(());
    };
    if std::fs::hard_link(&file.path, path).is_ok() {
        return Ok(());
    }
    std::fs::copy(&file.path, path).map(drop).map_err(|e| {
        std::io::Error::new(
            e.kind(),
            format!("copying {} from the image cache: {e}", file.path.display()),
        )
    })
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

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    fn read(path: PathBuf) -> String {
        std::fs::read_to_string(path).unwrap()
    }

    #[cfg(unix)]
    #[test]
    fn a_file_body_is_linked_left_alone_while_it_is_the_same_file_and_never_written_through() {
        use std::os::unix::fs::MetadataExt;
        let tmp = tempfile::tempdir().unwrap();
        let cache = tmp.path().join("cache");
        std::fs::create_dir(&cache).unwrap();
        let variant = |name: &str, bytes: &[u8]| {
            let path = cache.join(name);
            std::fs::write(&path, bytes).unwrap();
            let sha = render::site::Body::from(bytes.to_vec()).sha256();
            render::site::Body::file(path, bytes.len() as u64, sha)
        };
        let key = "images/v/a-0123456789abcdef-v1q80-320x240.webp";
        let with = |body: render::site::Body| {
            let mut s = site("one");
            s.insert(key.into(), body);
            s
        };
        let out = tmp.path().join("public");
        // Copies first (a build that read the cache into memory), then
        // files: equal bytes, so unchanged, and linked from then on.
        write_site(&with(b"webp".to_vec().into()), &out).unwrap();
        write_site(&with(b"webp".to_vec().into()), &out).unwrap();
        let linked = with(variant("320x240.webp", b"webp"));
        let again = write_site(&linked, &out).unwrap();
        assert!(again.written.is_empty(), "{:?}", again.written);
        write_site(&linked, &out).unwrap();
        let inode = |p: &Path| std::fs::metadata(p).unwrap().ino();
        assert_eq!(inode(&out.join(key)), inode(&cache.join("320x240.webp")));
        let unchanged = write_site(&linked, &out).unwrap();
        assert!(unchanged.written.is_empty());
        assert_eq!(unchanged.unchanged, 3);
        // Other bytes under the key (the earlier build's file is a link to
        // the cache): replaced, and the cache's file is left as it was.
        write_site(&linked, &out).unwrap();
        let changed = write_site(&with(b"other".to_vec().into()), &out).unwrap();
        assert_eq!(changed.written, [key]);
        assert_eq!(std::fs::read(out.join(key)).unwrap(), b"other");
        assert_eq!(std::fs::read(cache.join("320x240.webp")).unwrap(), b"webp");
        let prev = tmp.path().join(".public.prev");
        assert_eq!(std::fs::read(prev.join(key)).unwrap(), b"webp");
        let back = write_site(&linked, &out).unwrap();
        assert!(
            back.written.is_empty(),
            "the link in .public.prev is reused"
        );
        assert_eq!(std::fs::read(cache.join("320x240.webp")).unwrap(), b"webp");
        // With the inode the cache recorded, known from the listing alone;
        // a stale recorded inode falls back to comparing the files.
        let path = cache.join("320x240.webp");
        let sha = render::site::Body::from(b"webp".to_vec()).sha256();
        for recorded in [inode(&path), inode(&path) + 1] {
            let body =
                render::site::Body::cached_file(path.clone(), 4, sha.clone(), Some(recorded));
            write_site(&with(body.clone()), &out).unwrap();
            let again = write_site(&with(body), &out).unwrap();
            assert!(again.written.is_empty(), "recorded inode {recorded}");
        }
    }

    #[test]
    fn replaces_the_previous_output_whole() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("public");
        let first = write_site(&site("one"), &out).unwrap();
        assert_eq!(first.written.len(), 2);
        std::fs::write(out.join("stale.html"), "old").unwrap();
        write_site(&site("two"), &out).unwrap();
        assert_eq!(read(out.join("index.html")), "two");
        assert!(!out.join("stale.html").exists());
        assert!(out.join("products/a/index.html").is_file());
        // The replaced build is kept for the next one to start from.
        assert_eq!(names(tmp.path()), [".public.prev", "public"]);
        assert_eq!(read(tmp.path().join(".public.prev/stale.html")), "old");
    }

    #[test]
    fn the_next_build_rewrites_only_what_changed() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("public");
        let mut one = site("home");
        one.insert("products/b/index.html".into(), b"b".to_vec());
        one.insert("products/c/index.html".into(), b"c".to_vec());
        write_site(&one, &out).unwrap();
        write_site(&one, &out).unwrap();
        let modified = |p: PathBuf| std::fs::metadata(p).unwrap().modified().unwrap();
        let before = modified(tmp.path().join(".public.prev/products/a/index.html"));

        // The third build starts from the first: a changed page, a new one,
        // one gone (its folder goes with it), and a hand edit that is undone.
        let mut two = site("home, changed");
        two.insert("products/b/index.html".into(), b"b".to_vec());
        two.insert("products/d/index.html".into(), b"d".to_vec());
        std::fs::write(tmp.path().join(".public.prev/products/b/index.html"), "x").unwrap();
        let written = write_site(&two, &out).unwrap();
        assert_eq!(
            (
                written.written.len(),
                written.unchanged,
                written.removed.len()
            ),
            (3, 1, 1)
        );
        assert_eq!(read(out.join("index.html")), "home, changed");
        assert_eq!(read(out.join("products/b/index.html")), "b");
        assert_eq!(read(out.join("products/d/index.html")), "d");
        assert!(!out.join("products/c").exists());
        assert_eq!(modified(out.join("products/a/index.html")), before);
        assert!(out.join(MARKER).is_file());
        assert_eq!(names(tmp.path()), [".public.prev", "public"]);
    }

    #[test]
    fn a_page_may_take_the_place_of_a_folder_and_the_other_way_round() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("public");
        let mut one = Site::new();
        one.insert("a/index.html".into(), b"folder".to_vec());
        one.insert("b".into(), b"file".to_vec());
        write_site(&one, &out).unwrap();
        write_site(&one, &out).unwrap();
        let mut two = Site::new();
        two.insert("a".into(), b"file now".to_vec());
        two.insert("b/index.html".into(), b"folder now".to_vec());
        write_site(&two, &out).unwrap();
        assert_eq!(read(out.join("a")), "file now");
        assert_eq!(read(out.join("b/index.html")), "folder now");
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_in_the_earlier_build_is_replaced_not_written_through() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("public");
        write_site(&site("one"), &out).unwrap();
        write_site(&site("one"), &out).unwrap();
        let target = tmp.path().join("precious.txt");
        std::fs::write(&target, "keep").unwrap();
        let page = tmp.path().join(".public.prev/index.html");
        std::fs::remove_file(&page).unwrap();
        std::os::unix::fs::symlink(&target, &page).unwrap();
        write_site(&site("two"), &out).unwrap();
        assert_eq!(read(target), "keep");
        assert_eq!(read(out.join("index.html")), "two");
        assert!(!out.join("index.html").is_symlink());
    }

    #[test]
    fn refuses_a_previous_build_folder_it_did_not_write() {
        let tmp = tempfile::tempdir().unwrap();
        let prev = tmp.path().join(".public.prev");
        std::fs::create_dir(&prev).unwrap();
        std::fs::write(prev.join("precious.txt"), "keep").unwrap();
        let err = write_site(&site("x"), &tmp.path().join("public")).unwrap_err();
        assert!(
            matches!(err, DirError::Foreign { ref path } if *path == prev),
            "{err}"
        );
        assert_eq!(read(prev.join("precious.txt")), "keep");
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
