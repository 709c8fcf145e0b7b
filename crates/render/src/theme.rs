//! Themes: Tera templates plus static assets. The default theme is embedded in
//! the binary, so `generator` works from any directory; a theme folder on disk
//! (`themes/<name>/`) takes precedence, and a site's own `templates/` folder
//! overrides any template by name.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use include_dir::{Dir, include_dir};
use walkdir::WalkDir;

static DEFAULT_THEME: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/../../themes/default");

#[derive(Debug, thiserror::Error)]
pub enum ThemeError {
    #[error("theme {name:?} was not found in {}; create themes/{name}/ or set `theme = \"default\"` in site.toml", dir.display())]
    NotFound { name: String, dir: PathBuf },
    #[error("{}: cannot read it: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: a template must be UTF-8 text", path.display())]
    NotText { path: PathBuf },
}

/// Where to find a theme.
#[derive(Debug, Clone)]
pub struct ThemeLocation {
    /// The folder that holds theme folders (`themes/`).
    pub themes_dir: PathBuf,
    pub name: String,
    /// A site's template overrides (`content/templates/`), if any.
    pub overrides: Option<PathBuf>,
}

/// A loaded theme.
#[derive(Debug, Clone, Default)]
pub struct Theme {
    /// Template name (`product.html`) → source.
    pub templates: BTreeMap<String, String>,
    /// Template name → where it was read from, for error messages.
    pub origins: BTreeMap<String, String>,
    /// Asset name (`site.css`) → bytes, from the theme's `static/`.
    pub assets: BTreeMap<String, Vec<u8>>,
}

impl Theme {
    pub fn load(location: &ThemeLocation) -> Result<Self, ThemeError> {
        let mut theme = Theme::default();
        let dir = location.themes_dir.join(&location.name);
        if dir.is_dir() {
            theme.read_dir(&dir.join("templates"), Kind::Template)?;
            theme.read_dir(&dir.join("static"), Kind::Asset)?;
        } else if location.name == "default" {
            theme.read_embedded();
        } else {
            return Err(ThemeError::NotFound {
                name: location.name.clone(),
                dir: location.themes_dir.clone(),
            });
        }
        if let Some(overrides) = &location.overrides {
            theme.read_dir(overrides, Kind::Template)?;
        }
        Ok(theme)
    }

    fn read_embedded(&mut self) {
        for (prefix, kind) in [("templates", Kind::Template), ("static", Kind::Asset)] {
            let Some(dir) = DEFAULT_THEME.get_dir(prefix) else {
                continue;
            };
            let mut stack = vec![dir];
            while let Some(dir) = stack.pop() {
                stack.extend(dir.dirs());
                for file in dir.files() {
                    let name = file
                        .path()
                        .strip_prefix(prefix)
                        .unwrap_or(file.path())
                        .to_string_lossy()
                        .replace('\\', "/");
                    let origin = format!("themes/default/{}", file.path().display());
                    self.add(kind, name, origin, file.contents().to_vec())
                        .expect("the embedded theme is UTF-8");
                }
            }
        }
    }

    fn read_dir(&mut self, dir: &Path, kind: Kind) -> Result<(), ThemeError> {
        if !dir.is_dir() {
            return Ok(());
        }
        for entry in WalkDir::new(dir).sort_by_file_name() {
            let entry = entry.map_err(|e| ThemeError::Read {
                path: e.path().unwrap_or(dir).to_owned(),
                source: e
                    .into_io_error()
                    .unwrap_or_else(|| std::io::Error::other("file system loop")),
            })?;
            if !entry.file_type().is_file() || entry.file_name().to_string_lossy().starts_with('.')
            {
                continue;
            }
            let path = entry.path();
            let name = path
                .strip_prefix(dir)
                .unwrap_or(path)
                .to_string_lossy()
                .replace('\\', "/");
            let bytes = std::fs::read(path).map_err(|source| ThemeError::Read {
                path: path.to_owned(),
                source,
            })?;
            self.add(kind, name, path.display().to_string(), bytes)
                .map_err(|()| ThemeError::NotText {
                    path: path.to_owned(),
                })?;
        }
        Ok(())
    }

    fn add(&mut self, kind: Kind, name: String, origin: String, bytes: Vec<u8>) -> Result<(), ()> {
        match kind {
            Kind::Template => {
                let text = String::from_utf8(bytes).map_err(|_| ())?;
                self.origins.insert(name.clone(), origin);
                self.templates.insert(name, text);
            }
            Kind::Asset => {
                self.assets.insert(name, bytes);
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    Template,
    Asset,
}
