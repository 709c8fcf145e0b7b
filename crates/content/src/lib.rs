//! The `content/` folder: `site.toml`, `products/<slug>.md` (TOML front matter
//! between `+++` lines, then Markdown) and `images/`.
//!
//! Every problem is reported with its file, line and field, and all problems
//! are reported at once.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use rayon::prelude::*;
use serde::Deserialize;
use toml::Spanned;

use catalog::draft::{Amount, Draft, FieldProblem};
use catalog::{
    self, Catalog, CatalogError, CategoryName, CurrencyCode, Invalid, Origin, Price, Product,
    ProductId, ProductName, SiteSettings, Slug, StockQuantity,
};
use catalog::{
    BuyUrl, CallToAction, Condition, Gtin, ReturnFees, ReturnMethod, Returns, Shipping,
    ShippingRate, Status,
};

/// One problem in the content folder.
#[derive(Debug, thiserror::Error)]
pub enum ContentError {
    #[error("{}: cannot read it: {source}; check that the content folder exists and is readable", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}:{line}: {message}", path.display())]
    Syntax {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("{}:{line}: field `{field}`: {invalid}", path.display())]
    Field {
        path: PathBuf,
        line: usize,
        field: &'static str,
        invalid: Invalid,
    },
    #[error(transparent)]
    Catalog(#[from] CatalogError),
}

/// All the problems found, sorted by file and line.
#[derive(Debug)]
pub struct ContentErrors(pub Vec<ContentError>);

impl fmt::Display for ContentErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0.len();
        write!(
            f,
            "the content has {n} problem{}:",
            if n == 1 { "" } else { "s" }
        )?;
        for e in &self.0 {
            write!(f, "\n  {e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ContentErrors {}

/// Reads and validates a whole content folder.
pub fn load(dir: &Path) -> Result<Catalog, ContentErrors> {
    let settings = load_settings(&dir.join("site.toml"));
    let products = load_products(&dir.join("products"));
    let (settings, products) = match (settings, products) {
        (Ok(s), Ok(p)) => (s, p),
        (s, p) => {
            let mut errors: Vec<ContentError> = s.err().into_iter().flatten().collect();
            errors.extend(p.err().into_iter().flatten());
            return Err(ContentErrors(errors));
        }
    };
    Catalog::assemble(settings, products)
        .map_err(|e| ContentErrors(e.0.into_iter().map(ContentError::Catalog).collect()))
}

/// Lists the product files, in name order.
pub fn product_files(products_dir: &Path) -> Result<Vec<PathBuf>, ContentError> {
    let read = |source| ContentError::Read {
        path: products_dir.to_owned(),
        source,
    };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(products_dir).map_err(read)? {
        let entry = entry.map_err(read)?;
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "md") {
            continue;
        }
        // The directory entry usually knows its type; only links need a stat.
        let file_type = entry.file_type().map_err(read)?;
        if file_type.is_file() || (file_type.is_symlink() && path.is_file()) {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

fn load_products(products_dir: &Path) -> Result<Vec<(Product, Origin)>, Vec<ContentError>> {
    let files = product_files(products_dir).map_err(|e| vec![e])?;
    let results: Vec<_> = files
        .par_iter()
        .map(|path| {
            let text = std::fs::read_to_string(path).map_err(|source| {
                vec![ContentError::Read {
                    path: path.clone(),
                    source,
                }]
            })?;
            parse_product(path, &text).map(|p| (p, Origin::File(path.clone())))
        })
        .collect();
    let mut products = Vec::with_capacity(results.len());
    let mut errors = Vec::new();
    for r in results {
        match r {
            Ok(p) => products.push(p),
            Err(e) => errors.extend(e),
        }
    }
    if errors.is_empty() {
        Ok(products)
    } else {
        Err(errors)
    }
}

/// The front matter of a product file. The keys are the database columns.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProduct {
    id: Option<Spanned<i64>>,
    slug: Option<Spanned<String>>,
    name: Option<Spanned<String>>,
    price: Option<Spanned<toml::Value>>,
    category: Option<Spanned<String>>,
    image_url: Option<Spanned<String>>,
    images: Option<Spanned<Vec<RawImage>>>,
    stock_quantity: Option<Spanned<i64>>,
    status: Option<Spanned<String>>,
    compare_at_price: Option<Spanned<toml::Value>>,
    seo_title: Option<Spanned<String>>,
    seo_description: Option<Spanned<String>>,
    gtin: Option<Spanned<toml::Value>>,
    mpn: Option<Spanned<String>>,
    buy_url: Option<Spanned<String>>,
    created_at: Option<Spanned<toml::Value>>,
    updated_at: Option<Spanned<toml::Value>>,
}

/// One entry of `images = [{ url = "…", alt = "…" }, …]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawImage {
    url: String,
    #[serde(default)]
    alt: String,
}

/// Splits `+++\n<toml>\n+++\n<markdown>`; returns the TOML, the line the TOML
/// starts on, and the Markdown.
fn split_front_matter(text: &str) -> Result<(&str, usize, &str), (usize, String)> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = text.split_inclusive('\n');
    let first = lines.next().unwrap_or("");
    if first.trim_end() != "+++" {
        return Err((
            1,
            "the file must start with a `+++` line that opens the TOML front matter".into(),
        ));
    }
    let start = first.len();
    let mut offset = start;
    for line in lines {
        if line.trim_end() == "+++" {
            let body = &text[offset + line.len()..];
            return Ok((&text[start..offset], 2, body));
        }
        offset += line.len();
    }
    Err((
        1,
        "the front matter opened on line 1 is never closed; add a `+++` line after it".into(),
    ))
}

fn line_of(text: &str, offset: usize, first_line: usize) -> usize {
    first_line
        + text.as_bytes()[..offset.min(text.len())]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
}

/// The key on the line that holds `span`, for TOML errors that carry no field name.
fn key_on_line(text: &str, span: &Range<usize>) -> Option<String> {
    let start = text[..span.start.min(text.len())]
        .rfind('\n')
        .map_or(0, |i| i + 1);
    let line = text[start..].lines().next()?;
    let key = line.split_once('=')?.0.trim();
    (!key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'))
    .then(|| key.to_owned())
}

fn toml_error(path: &Path, front: &str, first_line: usize, e: &toml::de::Error) -> ContentError {
    let span = e.span().unwrap_or(0..0);
    let line = line_of(front, span.start, first_line);
    let mut message = e.message().trim().to_owned();
    if let Some(key) = key_on_line(front, &span).filter(|k| !message.contains(&format!("`{k}`"))) {
        message = format!("field `{key}`: {message}");
    }
    if message.starts_with("unknown field") {
        message.push_str("; remove or rename the key");
    }
    ContentError::Syntax {
        path: path.to_owned(),
        line: if span.is_empty() && span.start == 0 {
            first_line - 1
        } else {
            line
        },
        message,
    }
}

/// Parses and validates one product file.
pub fn parse_product(path: &Path, text: &str) -> Result<Product, Vec<ContentError>> {
    let (front, first_line, body) = split_front_matter(text).map_err(|(line, message)| {
        vec![ContentError::Syntax {
            path: path.to_owned(),
            line,
            message,
        }]
    })?;
    let raw: RawProduct =
        toml::from_str(front).map_err(|e| vec![toml_error(path, front, first_line, &e)])?;

    let mut errors = Vec::new();
    let mut field = FieldChecker {
        path,
        front,
        first_line,
        errors: &mut errors,
    };

    let id = field.required("id", raw.id.clone(), |v| ProductId::new(*v));
    // Where each field stands, for its problems' line numbers.
    let span_of = |name: &str| -> Option<Range<usize>> {
        match name {
            "slug" => raw.slug.as_ref().map(Spanned::span),
            "name" => raw.name.as_ref().map(Spanned::span),
            "price" => raw.price.as_ref().map(Spanned::span),
            "category" => raw.category.as_ref().map(Spanned::span),
            "image_url" => raw.image_url.as_ref().map(Spanned::span),
            "images" => raw.images.as_ref().map(Spanned::span),
            "stock_quantity" => raw.stock_quantity.as_ref().map(Spanned::span),
            "status" => raw.status.as_ref().map(Spanned::span),
            "compare_at_price" => raw.compare_at_price.as_ref().map(Spanned::span),
            "seo_title" => raw.seo_title.as_ref().map(Spanned::span),
            "seo_description" => raw.seo_description.as_ref().map(Spanned::span),
            "gtin" => raw.gtin.as_ref().map(Spanned::span),
            "mpn" => raw.mpn.as_ref().map(Spanned::span),
            "buy_url" => raw.buy_url.as_ref().map(Spanned::span),
            _ => None,
        }
    };
    // Prices and a GTIN must be TOML text (a float is not exact, an integer
    // loses a GTIN's leading zeros); anything else is this format's own
    // problem, reported here and not again by the draft's check.
    let price = field.quoted("price", raw.price.as_ref(), Price::EXPECTED);
    let compare_at_price = field.quoted(
        "compare_at_price",
        raw.compare_at_price.as_ref(),
        Price::EXPECTED,
    );
    let gtin = field.quoted("gtin", raw.gtin.as_ref(), Gtin::EXPECTED);
    let unquoted = |name: &str| match name {
        "price" => raw.price.is_some() && price.is_none(),
        "compare_at_price" => raw.compare_at_price.is_some() && compare_at_price.is_none(),
        "gtin" => raw.gtin.is_some() && gtin.is_none(),
        _ => false,
    };
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let draft = Draft {
        // `slug` defaults to the file's name, not to one made from `name`.
        slug: Some(raw.slug.as_ref().map_or(stem.as_str(), |s| s.get_ref())),
        name: raw.name.as_ref().map(|s| s.get_ref().as_str()),
        description: body.trim(),
        price: price.map(Amount::Text),
        image_url: raw.image_url.as_ref().map(|s| s.get_ref().as_str()),
        images: raw.images.as_ref().map(|list| {
            list.get_ref()
                .iter()
                .map(|i| (i.url.as_str(), i.alt.as_str()))
                .collect()
        }),
        category: raw.category.as_ref().map(|s| s.get_ref().as_str()),
        stock_quantity: raw.stock_quantity.as_ref().map(|s| *s.get_ref()),
        status: raw.status.as_ref().map(|s| s.get_ref().as_str()),
        compare_at_price: compare_at_price.map(Amount::Text),
        seo_title: raw.seo_title.as_ref().map(|s| s.get_ref().as_str()),
        seo_description: raw.seo_description.as_ref().map(|s| s.get_ref().as_str()),
        gtin,
        mpn: raw.mpn.as_ref().map(|s| s.get_ref().as_str()),
        buy_url: raw.buy_url.as_ref().map(|s| s.get_ref().as_str()),
    };
    let fields = draft.validate().map_err(|problems| {
        for FieldProblem { field: name, invalid } in problems {
            if unquoted(name) {
                continue; // reported above
            }
            match (name, span_of(name)) {
                ("description", _) => {
                    let line = line_of(text, text.len() - body.len(), 1);
                    field.errors.push(ContentError::Field {
                        path: path.to_owned(),
                        line,
                        field: "description",
                        invalid,
                    });
                }
                ("slug", None) => field.errors.push(ContentError::Field {
                    path: path.to_owned(),
                    line: 1,
                    field: "slug",
                    invalid: Invalid {
                        problem: format!(
                            "the file name {stem:?} is not a valid slug; rename the file or set `slug`"
                        ),
                        expected: invalid.expected,
                    },
                }),
                (_, Some(span)) => field.push(name, span, invalid),
                (_, None) => field.errors.push(ContentError::Field {
                    path: path.to_owned(),
                    line: first_line - 1,
                    field: name,
                    invalid,
                }),
            }
        }
    });
    let created_at = field.required("created_at", raw.created_at.clone(), timestamp);
    let updated_at = field.required("updated_at", raw.updated_at.clone(), timestamp);
    if let (Some(c), Some(u), Some(span)) = (created_at, updated_at, raw.updated_at.as_ref())
        && u < c
    {
        field.push(
            "updated_at",
            span.span(),
            Invalid {
                problem: "is earlier than created_at".into(),
                expected: "a time at or after created_at",
            },
        );
    }
    // The order a reader meets the fields in: the front matter's keys as
    // the format lists them, then the description.
    errors.sort_by_key(|e| match e {
        ContentError::Field { field, .. } => FIELD_ORDER
            .iter()
            .position(|f| f == field)
            .unwrap_or(FIELD_ORDER.len()),
        _ => 0,
    });

    match (id, fields, created_at, updated_at) {
        (Some(id), Ok(fields), Some(created_at), Some(updated_at)) if errors.is_empty() => {
            Ok(fields.into_product(id, created_at, updated_at))
        }
        _ => Err(errors),
    }
}

/// The order of a product file's fields in error reports.
const FIELD_ORDER: [&str; 18] = [
    "id",
    "slug",
    "name",
    "status",
    "price",
    "compare_at_price",
    "category",
    "image_url",
    "images",
    "stock_quantity",
    "seo_title",
    "seo_description",
    "gtin",
    "mpn",
    "buy_url",
    "created_at",
    "updated_at",
    "description",
];

/// A product as the text of its file, `products/<slug>.md`: the front matter
/// (without `slug`, which the file name carries) and the description.
/// `parse_product` reads it back to the same product.
pub fn product_text(p: &Product) -> String {
    use std::fmt::Write as _;
    let quote = |s: &str| {
        let mut q = String::with_capacity(s.len() + 2);
        q.push('"');
        for c in s.chars() {
            match c {
                '"' => q.push_str("\\\""),
                '\\' => q.push_str("\\\\"),
                '\n' => q.push_str("\\n"),
                '\t' => q.push_str("\\t"),
                '\r' => q.push_str("\\r"),
                c if c.is_control() => {
                    let _ = write!(q, "\\u{:04X}", u32::from(c));
                }
                c => q.push(c),
            }
        }
        q.push('"');
        q
    };
    let time = |t: &DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true);
    let mut out = String::from("+++\n");
    let _ = writeln!(out, "id = {}", p.id.get());
    let _ = writeln!(out, "name = {}", quote(p.name.as_str()));
    let m = &p.merchandising;
    if m.status != Status::Active {
        let _ = writeln!(out, "status = {}", quote(m.status.as_str()));
    }
    let _ = writeln!(out, "price = {}", quote(&p.price.to_string()));
    if let Some(was) = m.compare_at_price {
        let _ = writeln!(out, "compare_at_price = {}", quote(&was.to_string()));
    }
    let _ = writeln!(out, "category = {}", quote(p.category.as_str()));
    // One image without alt text is written as the seed has it; otherwise
    // the whole list, one image a line.
    match p.images.as_slice() {
        [] => {}
        [only] if only.alt.is_empty() => {
            let _ = writeln!(out, "image_url = {}", quote(only.url.as_str()));
        }
        images => {
            out.push_str("images = [\n");
            for image in images {
                let _ = writeln!(
                    out,
                    "    {{ url = {}, alt = {} }},",
                    quote(image.url.as_str()),
                    quote(&image.alt)
                );
            }
            out.push_str("]\n");
        }
    }
    let _ = writeln!(out, "stock_quantity = {}", p.stock_quantity.get());
    for (key, value) in [
        ("seo_title", m.seo_title.as_deref()),
        ("seo_description", m.seo_description.as_deref()),
        ("gtin", m.gtin.as_ref().map(Gtin::as_str)),
        ("mpn", m.mpn.as_deref()),
        ("buy_url", m.buy_url.as_ref().map(BuyUrl::as_str)),
    ] {
        if let Some(value) = value {
            let _ = writeln!(out, "{key} = {}", quote(value));
        }
    }
    let _ = writeln!(out, "created_at = {}", time(&p.created_at));
    let _ = writeln!(out, "updated_at = {}", time(&p.updated_at));
    out.push_str("+++\n");
    if !p.description.is_empty() {
        out.push_str(&p.description);
        out.push('\n');
    }
    out
}

/// Replaces `path` with `bytes` all at once: written to a sibling, flushed to
/// disk, then renamed over it, so a reader sees the old file or the new one.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    replace(path, bytes, false)
}

/// Replaces `path` with `bytes` all at once, as [`write_atomically`] does, in
/// a file that only its owner may read or write (mode 0600 on Unix) from the
/// moment it is created: no other user can open it, not even while it is
/// being written. For the state folder's secrets: `accounts.json` (password
/// hashes, token digests), and any other file of sessions or keys.
///
/// The new file replaces the old one, so a file that others could read
/// (an older 0644 one) is private after its next write. The folder must
/// exist; create it with [`create_private_dir_all`]. Elsewhere than on Unix
/// the file is written as [`write_atomically`] writes it.
pub fn write_atomically_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    replace(path, bytes, true)
}

/// Creates `dir` and its missing parents, each one that only its owner may
/// enter (mode 0700 on Unix); a folder that exists is left as it is. For the
/// state folder, before [`write_atomically_private`] writes in it.
pub fn create_private_dir_all(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

fn replace(path: &Path, bytes: &[u8], private: bool) -> std::io::Result<()> {
    use std::io::Write as _;
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let temp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut file = create_temp(&temp, private)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&temp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result
}

/// The sibling a replacement is written to; a private one is created new,
/// 0600, since a file left by an earlier run would keep its own mode (and
/// could already be open elsewhere).
fn create_temp(temp: &Path, private: bool) -> std::io::Result<std::fs::File> {
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::OpenOptionsExt as _;
        match std::fs::remove_file(temp) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        return std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(temp);
    }
    #[cfg(not(unix))]
    let _ = private;
    std::fs::File::create(temp)
}

fn timestamp(value: &toml::Value) -> Result<DateTime<Utc>, Invalid> {
    const EXPECTED: &str = "an RFC 3339 time with a time zone, like 2026-01-05T10:00:00Z";
    let text = match value {
        toml::Value::Datetime(d) => d.to_string(),
        toml::Value::String(s) => s.clone(),
        other => {
            return Err(Invalid {
                problem: format!("is a {}", other.type_str()),
                expected: EXPECTED,
            });
        }
    };
    DateTime::parse_from_rfc3339(&text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| Invalid {
            problem: format!("{text:?} is not a full date and time with a time zone"),
            expected: EXPECTED,
        })
}

/// Validates fields and records each failure with its line.
struct FieldChecker<'a> {
    path: &'a Path,
    front: &'a str,
    first_line: usize,
    errors: &'a mut Vec<ContentError>,
}

impl FieldChecker<'_> {
    /// A value that must be TOML text: prices (a float is not exact) and a
    /// GTIN (an integer loses its leading zeros). Anything else is reported
    /// here, so the draft's check must not report it again.
    fn quoted<'v>(
        &mut self,
        field: &'static str,
        value: Option<&'v Spanned<toml::Value>>,
        expected: &'static str,
    ) -> Option<&'v str> {
        let value = value?;
        let problem = match value.get_ref() {
            toml::Value::String(s) => return Some(s),
            toml::Value::Float(f) => format!("{f} is a TOML float, which is not exact; quote it"),
            toml::Value::Integer(i) => format!("{i} is not quoted"),
            other => format!("is a {}", other.type_str()),
        };
        self.push(field, value.span(), Invalid { problem, expected });
        None
    }

    fn push(&mut self, field: &'static str, span: Range<usize>, invalid: Invalid) {
        let line = line_of(self.front, span.start, self.first_line);
        self.errors.push(ContentError::Field {
            path: self.path.to_owned(),
            line,
            field,
            invalid,
        });
    }

    fn check<T, U>(
        &mut self,
        field: &'static str,
        value: &Spanned<T>,
        parse: impl FnOnce(&T) -> Result<U, Invalid>,
    ) -> Option<U> {
        parse(value.get_ref())
            .map_err(|invalid| self.push(field, value.span(), invalid))
            .ok()
    }

    fn required<T, U>(
        &mut self,
        field: &'static str,
        value: Option<Spanned<T>>,
        parse: impl FnOnce(&T) -> Result<U, Invalid>,
    ) -> Option<U> {
        match value {
            Some(v) => self.check(field, &v, parse),
            None => {
                self.errors.push(ContentError::Field {
                    path: self.path.to_owned(),
                    line: self.first_line - 1,
                    field,
                    invalid: Invalid {
                        problem: "is missing".into(),
                        expected: expected_for(field),
                    },
                });
                None
            }
        }
    }
}

fn expected_for(field: &str) -> &'static str {
    match field {
        "id" => ProductId::EXPECTED,
        "name" => ProductName::EXPECTED,
        "price" => Price::EXPECTED,
        "category" => CategoryName::EXPECTED,
        "stock_quantity" => StockQuantity::EXPECTED,
        _ => "an RFC 3339 time with a time zone, like 2026-01-05T10:00:00Z",
    }
}

/// `site.toml`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSite {
    title: Spanned<String>,
    tagline: Option<String>,
    description: Option<String>,
    base_url: Spanned<String>,
    currency: Spanned<String>,
    #[serde(default = "default_locale")]
    locale: Spanned<String>,
    #[serde(default = "default_theme")]
    theme: Spanned<String>,
    #[serde(default = "default_per_page")]
    products_per_page: Spanned<i64>,
    brand: Option<Spanned<String>>,
    condition: Option<Spanned<String>>,
    call_to_action: Option<Spanned<String>>,
    contact_email: Option<Spanned<String>>,
    shipping: Option<RawShipping>,
    returns: Option<RawReturns>,
}

/// `[shipping]`: the shop-wide delivery terms.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawShipping {
    handling_days: Spanned<Vec<i64>>,
    transit_days: Spanned<Vec<i64>>,
    rates: Spanned<Vec<RawRate>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRate {
    countries: Vec<String>,
    price: String,
}

/// `[returns]`: the shop-wide return policy.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawReturns {
    days: Spanned<i64>,
    method: Spanned<String>,
    fees: Spanned<String>,
    countries: Option<Spanned<Vec<String>>>,
}

const COUNTRY_EXPECTED: &str = "ISO 3166-1 alpha-2 country codes like [\"IE\", \"GB\"]";

fn countries(list: &[String]) -> Result<Vec<String>, Invalid> {
    if list.is_empty() {
        return Err(Invalid {
            problem: "lists no country".into(),
            expected: COUNTRY_EXPECTED,
        });
    }
    list.iter()
        .map(|c| {
            (c.len() == 2 && c.bytes().all(|b| b.is_ascii_uppercase()))
                .then(|| c.clone())
                .ok_or_else(|| Invalid {
                    problem: format!("{c:?} is not a country code"),
                    expected: COUNTRY_EXPECTED,
                })
        })
        .collect()
}

fn day_range(days: &[i64]) -> Result<(u32, u32), Invalid> {
    const EXPECTED: &str = "[min, max] days, whole numbers from 0 to 365 with min at most max";
    match days {
        [min, max] if (0..=365).contains(min) && (*min..=365).contains(max) => {
            Ok((*min as u32, *max as u32))
        }
        other => Err(Invalid {
            problem: format!("{other:?} is not a range of days"),
            expected: EXPECTED,
        }),
    }
}

/// A plausible e-mail address for a `mailto:` link: one `@`, something on
/// each side, a dot in the domain, nothing that needs quoting.
fn email(text: &str) -> Result<String, Invalid> {
    const EXPECTED: &str = "an e-mail address like \"hello@shop.example.com\"";
    let ok = text.len() <= 254
        && text.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        })
        && text.matches('@').count() == 1
        && !text.chars().any(|c| {
            c.is_whitespace()
                || c.is_control()
                || matches!(
                    c,
                    '"' | '\'' | '<' | '>' | '\\' | '?' | '&' | '#' | '%' | ',' | ';'
                )
        });
    ok.then(|| text.to_owned()).ok_or(Invalid {
        problem: format!("{text:?} is not an e-mail address"),
        expected: EXPECTED,
    })
}

fn default_locale() -> Spanned<String> {
    Spanned::new(0..0, "en-US".to_owned())
}
fn default_theme() -> Spanned<String> {
    Spanned::new(0..0, "default".to_owned())
}
fn default_per_page() -> Spanned<i64> {
    Spanned::new(0..0, 24)
}

/// Reads and validates `site.toml`.
pub fn load_settings(path: &Path) -> Result<SiteSettings, Vec<ContentError>> {
    let text = std::fs::read_to_string(path).map_err(|source| {
        vec![ContentError::Read {
            path: path.to_owned(),
            source,
        }]
    })?;
    parse_settings(path, &text)
}

/// Parses and validates `site.toml`.
pub fn parse_settings(path: &Path, text: &str) -> Result<SiteSettings, Vec<ContentError>> {
    let raw: RawSite = toml::from_str(text).map_err(|e| vec![toml_error(path, text, 1, &e)])?;
    let mut errors = Vec::new();
    let mut field = FieldChecker {
        path,
        front: text,
        first_line: 1,
        errors: &mut errors,
    };
    let title = field.check("title", &raw.title, |t| {
        ProductName::parse(t)
            .map(|n| n.as_str().to_owned())
            .map_err(|e| Invalid {
                expected: "a title of 1 to 255 characters",
                ..e
            })
    });
    let base_url = field.check("base_url", &raw.base_url, |u| {
        let trimmed = u.trim_end_matches('/');
        let ok = (trimmed.starts_with("https://") || trimmed.starts_with("http://"))
            && trimmed
                .split("://")
                .nth(1)
                .is_some_and(|h| !h.is_empty() && !h.contains(['/', ' ', '"', '<', '>', '?', '#']));
        ok.then(|| trimmed.to_owned()).ok_or(Invalid {
            problem: format!("{u:?} is not an origin"),
            expected: "an absolute origin such as \"https://shop.example.com\", with no path",
        })
    });
    let currency = field.check("currency", &raw.currency, |c| CurrencyCode::parse(c));
    let locale = field.check("locale", &raw.locale, |l| {
        let ok = !l.is_empty()
            && l.len() <= 35
            && l.split('-')
                .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric()));
        ok.then(|| l.clone()).ok_or(Invalid {
            problem: format!("{l:?} is not a language tag"),
            expected: "a BCP 47 tag like \"en-IE\"",
        })
    });
    let theme = field.check("theme", &raw.theme, |t| {
        Slug::parse(t).map(|s| s.to_string()).map_err(|e| Invalid {
            expected: "a theme folder name like \"default\"",
            ..e
        })
    });
    let per_page = field.check("products_per_page", &raw.products_per_page, |n| {
        usize::try_from(*n)
            .ok()
            .filter(|n| (1..=1000).contains(n))
            .ok_or(Invalid {
                problem: format!("{n} is out of range"),
                expected: "a whole number from 1 to 1000",
            })
    });
    let brand = match &raw.brand {
        Some(brand) => field.check("brand", brand, |b| {
            ProductName::parse(b)
                .map(|n| Some(n.as_str().to_owned()))
                .map_err(|e| Invalid {
                    expected: "a brand of 1 to 255 characters",
                    ..e
                })
        }),
        None => Some(None),
    };
    let condition = match &raw.condition {
        Some(c) => field.check("condition", c, |c| Condition::parse(c)),
        None => Some(Condition::New),
    };
    let contact = match &raw.contact_email {
        Some(e) => field.check("contact_email", e, |e| email(e).map(Some)),
        None => Some(None),
    };
    let call_to_action = match (&raw.call_to_action, contact.clone()) {
        (None, _) => Some(CallToAction::None),
        (Some(kind), contact) => field.check("call_to_action", kind, |kind| {
            match (kind.as_str(), contact) {
                ("none", _) => Ok(CallToAction::None),
                ("buy_url", _) => Ok(CallToAction::BuyUrl),
                ("email", Some(Some(address))) => Ok(CallToAction::Email(address)),
                // A bad address is its own problem.
                ("email", None) => Ok(CallToAction::None),
                ("email", Some(None)) => Err(Invalid {
                    problem: "is \"email\", but contact_email is not set".into(),
                    expected: "contact_email = \"…\" beside call_to_action = \"email\"",
                }),
                (other, _) => Err(Invalid {
                    problem: format!("{other:?} is not a call to action"),
                    expected: "one of \"none\", \"email\" or \"buy_url\"",
                }),
            }
        }),
    };
    let shipping = match &raw.shipping {
        None => Some(None),
        Some(raw) => {
            let handling = field.check("shipping.handling_days", &raw.handling_days, |d| {
                day_range(d)
            });
            let transit = field.check("shipping.transit_days", &raw.transit_days, |d| day_range(d));
            let rates = field.check("shipping.rates", &raw.rates, |rates| {
                let mut seen = std::collections::BTreeSet::new();
                if rates.is_empty() {
                    return Err(Invalid {
                        problem: "lists no rate".into(),
                        expected: "rates = [{ countries = [\"IE\"], price = \"4.95\" }, …]",
                    });
                }
                rates
                    .iter()
                    .enumerate()
                    .map(|(i, rate)| {
                        let at = |e: Invalid| Invalid {
                            problem: format!("rate {}: {}", i + 1, e.problem),
                            ..e
                        };
                        let countries = countries(&rate.countries).map_err(at)?;
                        if let Some(twice) = countries.iter().find(|c| !seen.insert((*c).clone())) {
                            return Err(at(Invalid {
                                problem: format!("{twice} has a rate already"),
                                expected: "each country in one rate only",
                            }));
                        }
                        let price = Price::parse(&rate.price).map_err(at)?;
                        Ok(ShippingRate { countries, price })
                    })
                    .collect::<Result<Vec<_>, _>>()
            });
            match (handling, transit, rates) {
                (Some(handling_days), Some(transit_days), Some(rates)) => Some(Some(Shipping {
                    handling_days,
                    transit_days,
                    rates,
                })),
                _ => None,
            }
        }
    };
    let returns = match &raw.returns {
        None => Some(None),
        Some(r) => {
            let days = field.check("returns.days", &r.days, |d| {
                u32::try_from(*d).ok().filter(|d| *d <= 365).ok_or(Invalid {
                    problem: format!("{d} is out of range"),
                    expected: "days to return an item, from 0 (no returns) to 365",
                })
            });
            let method = field.check("returns.method", &r.method, |m| ReturnMethod::parse(m));
            let fees = field.check("returns.fees", &r.fees, |f| ReturnFees::parse(f));
            let in_countries = match (&r.countries, &shipping) {
                (Some(list), _) => field.check("returns.countries", list, |l| countries(l)),
                (None, Some(Some(s))) => {
                    Some(s.rates.iter().flat_map(|r| r.countries.clone()).collect())
                }
                // [shipping] has problems of its own, already reported.
                (None, None) => None,
                (None, Some(None)) => {
                    field.errors.push(ContentError::Field {
                        path: path.to_owned(),
                        line: 1,
                        field: "returns.countries",
                        invalid: Invalid {
                            problem: "is missing, and there is no [shipping] to take them from"
                                .into(),
                            expected: COUNTRY_EXPECTED,
                        },
                    });
                    None
                }
            };
            match (days, method, fees, in_countries) {
                (Some(days), Some(method), Some(fees), Some(countries)) => Some(Some(Returns {
                    countries,
                    days,
                    method,
                    fees,
                })),
                _ => None,
            }
        }
    };
    match (title, base_url, currency, locale, theme, per_page) {
        (
            Some(title),
            Some(base_url),
            Some(currency),
            Some(locale),
            Some(theme),
            Some(products_per_page),
        ) if errors.is_empty() => Ok(SiteSettings {
            description: raw.description.unwrap_or_else(|| title.clone()),
            brand: brand.flatten().unwrap_or_else(|| title.clone()),
            condition: condition.unwrap_or_default(),
            call_to_action: call_to_action.unwrap_or_default(),
            shipping: shipping.flatten(),
            returns: returns.flatten(),
            title,
            tagline: raw.tagline,
            base_url,
            currency,
            locale,
            theme,
            products_per_page,
        }),
        _ => Err(errors),
    }
}

/// The files under `images/`, keyed `images/<path>`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ImageFiles {
    /// The files read into memory: those published as they are.
    pub files: std::collections::BTreeMap<String, Vec<u8>>,
    /// The files only listed, not read: those `list_only` picked (photos,
    /// which the photo pipeline opens itself, and only when it must).
    pub listed: std::collections::BTreeMap<String, PathBuf>,
}

/// Every file under `images/` (hidden ones left out): read, unless
/// `list_only` picks its key, then only listed with its path.
pub fn load_images(
    content_dir: &Path,
    list_only: impl Fn(&str) -> bool,
) -> Result<ImageFiles, ContentError> {
    let dir = content_dir.join("images");
    let mut found = ImageFiles::default();
    if !dir.is_dir() {
        return Ok(found);
    }
    for entry in walkdir::WalkDir::new(&dir).sort_by_file_name() {
        let entry = entry.map_err(|e| ContentError::Read {
            path: e.path().unwrap_or(&dir).to_owned(),
            source: e
                .into_io_error()
                .unwrap_or_else(|| std::io::Error::other("file system loop")),
        })?;
        let name = entry.file_name().to_string_lossy();
        if !entry.file_type().is_file() || name.starts_with('.') {
            continue;
        }
        let path = entry.path();
        let rel = path
            .strip_prefix(&dir)
            .unwrap_or(path)
            .to_string_lossy()
            .replace('\\', "/");
        let key = format!("images/{rel}");
        if list_only(&key) {
            found.listed.insert(key, path.to_owned());
            continue;
        }
        let bytes = std::fs::read(path).map_err(|source| ContentError::Read {
            path: path.to_owned(),
            source,
        })?;
        found.files.insert(key, bytes);
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "+++
id = 17
name = \"Walnut Desk Organizer\"
price = \"49.90\"
category = \"Home Office\"
image_url = \"/images/walnut-desk-organizer.webp\"
stock_quantity = 12
created_at = 2026-01-05T10:00:00Z
updated_at = \"2026-02-01T08:30:00+01:00\"
+++
Hand-finished **walnut** tray.
";

    fn errors_for(text: &str) -> Vec<String> {
        parse_product(Path::new("content/products/walnut-desk-organizer.md"), text)
            .unwrap_err()
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    fn with(line: &str, replacement: &str) -> String {
        GOOD.lines()
            .map(|l| {
                if l.starts_with(line) {
                    replacement.to_owned()
                } else {
                    l.to_owned()
                }
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn load_images_reads_what_is_published_as_it_is_and_lists_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let images = dir.path().join("images/sub");
        std::fs::create_dir_all(&images).unwrap();
        std::fs::write(images.join("logo.svg"), b"<svg/>").unwrap();
        std::fs::write(images.join("desk.jpg"), b"jpeg").unwrap();
        std::fs::write(images.join(".hidden.svg"), b"x").unwrap();
        let found = load_images(dir.path(), |key| key.ends_with(".jpg")).unwrap();
        assert_eq!(
            found.files,
            std::collections::BTreeMap::from([(
                "images/sub/logo.svg".to_owned(),
                b"<svg/>".to_vec()
            )])
        );
        assert_eq!(
            found.listed,
            std::collections::BTreeMap::from([(
                "images/sub/desk.jpg".to_owned(),
                images.join("desk.jpg")
            )])
        );
        assert_eq!(
            load_images(&dir.path().join("none"), |_| true).unwrap(),
            ImageFiles::default()
        );
    }

    #[test]
    fn product_text_reads_back_to_the_same_product() {
        // Cargo runs unit tests in the crate's folder.
        let dir = Path::new("../../content/products");
        let files = product_files(dir).unwrap();
        assert!(files.len() >= 100);
        for path in files {
            let product = parse_product(&path, &std::fs::read_to_string(&path).unwrap()).unwrap();
            let text = product_text(&product);
            let again = parse_product(&path, &text).unwrap_or_else(|e| panic!("{e:?}\n{text}"));
            assert_eq!(again, product, "{}", path.display());
        }
        let tricky = parse_product(
            Path::new("products/walnut-desk-organizer.md"),
            &with("name", "name = \"Quote \\\" and back\\\\slash \\u00e9\""),
        )
        .unwrap();
        let again = parse_product(
            Path::new("products/walnut-desk-organizer.md"),
            &product_text(&tricky),
        );
        assert_eq!(again.ok(), Some(tricky));
    }

    #[test]
    fn files_are_replaced_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.md");
        write_atomically(&path, b"one").unwrap();
        write_atomically(&path, b"two").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "two");
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temporary file is left"
        );
    }

    #[cfg(unix)]
    #[test]
    fn private_files_are_the_owner_s_alone_from_their_creation() {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state/inner");
        create_private_dir_all(&state).unwrap();
        assert_eq!(mode(&state), 0o700);
        assert_eq!(mode(&dir.path().join("state")), 0o700, "and its parents");
        // A folder that exists keeps its mode.
        std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o750)).unwrap();
        create_private_dir_all(&state).unwrap();
        assert_eq!(mode(&state), 0o750);

        let path = state.join("secrets.json");
        write_atomically_private(&path, b"one").unwrap();
        assert_eq!(mode(&path), 0o600);
        // A readable file, and a readable temporary file left by a crash:
        // the next write is private all the same.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let temp = state.join(format!(".secrets.json.{}.tmp", std::process::id()));
        std::fs::write(&temp, b"left").unwrap();
        std::fs::set_permissions(&temp, std::fs::Permissions::from_mode(0o644)).unwrap();
        write_atomically_private(&path, b"three").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"three");
        assert_eq!(mode(&path), 0o600);
        assert!(!temp.exists(), "no temporary file is left");
    }

    #[test]
    fn parses_a_good_file() {
        let p = parse_product(Path::new("products/walnut-desk-organizer.md"), GOOD).unwrap();
        assert_eq!(p.slug.as_str(), "walnut-desk-organizer");
        assert_eq!(p.price.to_string(), "49.90");
        assert_eq!(p.description, "Hand-finished **walnut** tray.");
        assert_eq!(p.updated_at.to_rfc3339(), "2026-02-01T07:30:00+00:00");
        assert_eq!(
            p.image_url().unwrap().as_str(),
            "/images/walnut-desk-organizer.webp"
        );
    }

    #[test]
    fn a_gallery_is_read_and_written_in_order_with_its_alt_text() {
        let path = Path::new("products/walnut-desk-organizer.md");
        let text = with(
            "image_url",
            "images = [\n  { url = \"/images/a.jpg\", alt = \"The tray, \\\"top\\\" view\" },\n  { url = \"/images/b.jpg\" },\n]",
        );
        let p = parse_product(path, &text).unwrap();
        assert_eq!(p.image_url().unwrap().as_str(), "/images/a.jpg");
        assert_eq!(p.images[0].alt, "The tray, \"top\" view");
        assert_eq!(p.images[1].alt, "");
        let written = product_text(&p);
        assert!(written.contains("images = ["), "{written}");
        assert_eq!(parse_product(path, &written).unwrap(), p);

        let errs = errors_for(&with(
            "image_url",
            "image_url = \"/images/b.jpg\"\nimages = [{ url = \"/images/a.jpg\" }]",
        ));
        assert!(
            errs.iter()
                .any(|e| e.contains("field `image_url`") && e.contains("first image")),
            "{errs:?}"
        );
        let errs = errors_for(&with(
            "image_url",
            "images = [{ url = \"/images/a.jpg\" }, { url = \"javascript:x\", alt = \"\" }]",
        ));
        assert!(
            errs.iter()
                .any(|e| e.contains(":6: field `images`: image 2:")),
            "{errs:?}"
        );
        let errs = errors_for(&with("image_url", "images = [{ src = \"/images/a.jpg\" }]"));
        assert!(errs.iter().any(|e| e.contains("src")), "{errs:?}");
    }

    #[test]
    fn unknown_key_names_file_line_and_key() {
        let errs = errors_for(&with(
            "stock_quantity",
            "stock_quantity = 1\ncolour = \"red\"",
        ));
        assert_eq!(errs.len(), 1);
        assert!(errs[0].starts_with("content/products/walnut-desk-organizer.md:8: unknown field `colour`, expected one of"), "{}", errs[0]);
        assert!(
            errs[0].ends_with("; remove or rename the key"),
            "{}",
            errs[0]
        );
    }

    #[test]
    fn price_with_three_decimals() {
        assert_eq!(
            errors_for(&with("price", "price = \"49.999\"")),
            [
                "content/products/walnut-desk-organizer.md:4: field `price`: \"49.999\" has 3 decimal places; expected a decimal string with at most 2 decimal places, from \"0.00\" to \"99999999.99\", like \"49.90\""
            ]
        );
    }

    #[test]
    fn unquoted_float_price_is_refused() {
        let errs = errors_for(&with("price", "price = 49.9"));
        assert_eq!(errs.len(), 1);
        assert!(
            errs[0].contains(
                ":4: field `price`: 49.9 is a TOML float, which is not exact; quote it; expected"
            ),
            "{}",
            errs[0]
        );
    }

    #[test]
    fn negative_stock() {
        assert_eq!(
            errors_for(&with("stock_quantity", "stock_quantity = -2")),
            [
                "content/products/walnut-desk-organizer.md:7: field `stock_quantity`: -2 is negative; expected a whole number from 0 to 2147483647"
            ]
        );
    }

    #[test]
    fn missing_name() {
        assert_eq!(
            errors_for(&with("name", "")),
            [
                "content/products/walnut-desk-organizer.md:1: field `name`: is missing; expected a name of 1 to 255 characters without control characters"
            ]
        );
    }

    #[test]
    fn name_over_255_characters() {
        let long = "x".repeat(256);
        assert_eq!(
            errors_for(&with("name", &format!("name = \"{long}\""))),
            [
                "content/products/walnut-desk-organizer.md:3: field `name`: is 256 characters long; expected a name of 1 to 255 characters without control characters"
            ]
        );
    }

    #[test]
    fn wrong_type_names_the_field() {
        let errs = errors_for(&with("stock_quantity", "stock_quantity = \"many\""));
        assert_eq!(errs.len(), 1);
        assert!(errs[0].starts_with("content/products/walnut-desk-organizer.md:7: field `stock_quantity`: invalid type: string"), "{}", errs[0]);
    }

    #[test]
    fn several_problems_are_all_reported() {
        let text = with("price", "price = \"-1\"")
            .replace("category = \"Home Office\"", "category = \"\"");
        let errs = errors_for(&text);
        assert_eq!(errs.len(), 2, "{errs:?}");
        assert!(errs[0].contains(":4: field `price`: \"-1\" is negative"));
        assert!(errs[1].contains(":5: field `category`: is empty"));
    }

    #[test]
    fn front_matter_must_open_and_close() {
        assert_eq!(
            errors_for("id = 1\n"),
            [
                "content/products/walnut-desk-organizer.md:1: the file must start with a `+++` line that opens the TOML front matter"
            ]
        );
        assert_eq!(
            errors_for("+++\nid = 1\n"),
            [
                "content/products/walnut-desk-organizer.md:1: the front matter opened on line 1 is never closed; add a `+++` line after it"
            ]
        );
    }

    #[test]
    fn toml_syntax_error_has_a_line() {
        let errs = errors_for(&with("category", "category = \"Home Office"));
        assert_eq!(errs.len(), 1);
        assert!(
            errs[0].starts_with("content/products/walnut-desk-organizer.md:5: "),
            "{}",
            errs[0]
        );
    }

    #[test]
    fn bad_file_name_needs_a_slug() {
        let errs: Vec<String> = parse_product(Path::new("products/Walnut Desk.md"), GOOD)
            .unwrap_err()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(errs.len(), 1);
        assert!(errs[0].starts_with("products/Walnut Desk.md:1: field `slug`: the file name \"Walnut Desk\" is not a valid slug; rename the file or set `slug`"), "{}", errs[0]);
    }

    #[test]
    fn timestamps_need_a_zone_and_order() {
        let errs = errors_for(&with("created_at", "created_at = 2026-01-05T10:00:00"));
        assert!(errs[0].contains(":8: field `created_at`: \"2026-01-05T10:00:00\" is not a full date and time with a time zone"), "{errs:?}");
        let errs = errors_for(&with("created_at", "created_at = 2027-01-05T10:00:00Z"));
        assert!(
            errs[0].contains(":9: field `updated_at`: is earlier than created_at"),
            "{errs:?}"
        );
    }

    #[test]
    fn javascript_image_url_is_refused() {
        let errs = errors_for(&with("image_url", "image_url = \"javascript:alert(1)\""));
        assert!(
            errs[0].contains(
                ":6: field `image_url`: \"javascript:alert(1)\" is neither site-relative nor https"
            ),
            "{errs:?}"
        );
    }

    #[test]
    fn site_settings_are_checked() {
        let text = "title = \"Shop\"\nbase_url = \"shop.example.com\"\ncurrency = \"eur\"\nproducts_per_page = 0\n";
        let errs: Vec<String> = parse_settings(Path::new("content/site.toml"), text)
            .unwrap_err()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(errs.len(), 3, "{errs:?}");
        assert!(errs[0].starts_with(
            "content/site.toml:2: field `base_url`: \"shop.example.com\" is not an origin"
        ));
        assert!(
            errs[1].starts_with(
                "content/site.toml:3: field `currency`: \"eur\" is not a currency code"
            )
        );
        assert!(
            errs[2]
                .starts_with("content/site.toml:4: field `products_per_page`: 0 is out of range")
        );
        let ok = parse_settings(
            Path::new("site.toml"),
            "title = \"Shop\"\nbase_url = \"https://a.example/\"\ncurrency = \"EUR\"\n",
        )
        .unwrap();
        assert_eq!(ok.base_url, "https://a.example");
        assert_eq!(ok.products_per_page, 24);
        assert_eq!(ok.brand, "Shop");
        assert_eq!(ok.call_to_action, CallToAction::None);
        assert_eq!((ok.shipping, ok.returns), (None, None));
    }

    #[test]
    fn merchandising_fields_are_read_written_and_checked_with_their_lines() {
        let text = GOOD.replacen(
            "stock_quantity = 12\n",
            "stock_quantity = 12\nstatus = \"draft\"\ncompare_at_price = \"59.90\"\nseo_title = \"Walnut organizer\"\ngtin = \"4006381333931\"\nmpn = \"WDO-1\"\nbuy_url = \"https://buy.example.com/wdo\"\n",
            1,
        );
        let path = Path::new("products/walnut-desk-organizer.md");
        let product = parse_product(path, &text).unwrap();
        let m = &product.merchandising;
        assert_eq!(m.status, Status::Draft);
        assert_eq!(m.compare_at_price.unwrap().to_string(), "59.90");
        assert_eq!(m.gtin.as_ref().unwrap().as_str(), "4006381333931");
        assert_eq!(
            parse_product(path, &product_text(&product)).unwrap(),
            product
        );

        let bad = GOOD.replacen(
            "stock_quantity = 12\n",
            &format!(
                "stock_quantity = 12\ncompare_at_price = \"10.00\"\nseo_title = \"{}\"\ngtin = \"4006381333932\"\nbuy_url = \"http://buy.example.com/wdo\"\n",
                "t".repeat(71)
            ),
            1,
        );
        let errs = errors_for(&bad);
        let file = "content/products/walnut-desk-organizer.md";
        assert_eq!(errs.len(), 4, "{errs:?}");
        assert!(
            errs[0].starts_with(&format!(
                "{file}:8: field `compare_at_price`: 10.00 is not above the price 49.90"
            )),
            "{errs:?}"
        );
        assert!(
            errs[1].starts_with(&format!(
                "{file}:9: field `seo_title`: is 71 characters long"
            )),
            "{errs:?}"
        );
        assert!(
            errs[2].starts_with(&format!(
                "{file}:10: field `gtin`: \"4006381333932\" ends in 2, but its check digit is 1"
            )),
            "{errs:?}"
        );
        assert!(
            errs[3].starts_with(&format!(
                "{file}:11: field `buy_url`: \"http://buy.example.com/wdo\" is not an https:// URL"
            )),
            "{errs:?}"
        );
        let unquoted = errors_for(&GOOD.replacen(
            "stock_quantity = 12\n",
            "stock_quantity = 12\ngtin = 4006381333931\n",
            1,
        ));
        assert_eq!(unquoted.len(), 1, "{unquoted:?}");
        assert!(
            unquoted[0].contains("field `gtin`: 4006381333931 is not quoted"),
            "{unquoted:?}"
        );
    }

    #[test]
    fn shipping_returns_and_the_call_to_action_are_read_and_checked() {
        let base = "title = \"Shop\"\nbase_url = \"https://a.example\"\ncurrency = \"EUR\"\n";
        let good = format!(
            "{base}brand = \"Larch\"\ncall_to_action = \"email\"\ncontact_email = \"hello@a.example\"\n[shipping]\nhandling_days = [0, 1]\ntransit_days = [1, 3]\nrates = [{{ countries = [\"IE\"], price = \"4.95\" }}, {{ countries = [\"GB\", \"FR\"], price = \"9.95\" }}]\n[returns]\ndays = 30\nmethod = \"mail\"\nfees = \"free\"\n"
        );
        let ok = parse_settings(Path::new("site.toml"), &good).unwrap();
        assert_eq!(ok.brand, "Larch");
        assert_eq!(
            ok.call_to_action,
            CallToAction::Email("hello@a.example".into())
        );
        let shipping = ok.shipping.unwrap();
        assert_eq!(shipping.transit_days, (1, 3));
        assert_eq!(shipping.rates[1].price.to_string(), "9.95");
        assert_eq!(ok.returns.unwrap().countries, ["IE", "GB", "FR"]);

        let bad = format!(
            "{base}call_to_action = \"email\"\n[shipping]\nhandling_days = [2, 1]\ntransit_days = [1, 3]\nrates = [{{ countries = [\"IE\"], price = \"4.95\" }}, {{ countries = [\"IE\"], price = \"1\" }}]\n[returns]\ndays = 30\nmethod = \"pigeon\"\nfees = \"free\"\n"
        );
        let errs: Vec<String> = parse_settings(Path::new("site.toml"), &bad)
            .unwrap_err()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(errs.len(), 4, "{errs:?}");
        assert!(
            errs[0].starts_with(
                "site.toml:4: field `call_to_action`: is \"email\", but contact_email is not set"
            ),
            "{errs:?}"
        );
        assert!(
            errs[1].starts_with(
                "site.toml:6: field `shipping.handling_days`: [2, 1] is not a range of days"
            ),
            "{errs:?}"
        );
        assert!(
            errs[2]
                .starts_with("site.toml:8: field `shipping.rates`: rate 2: IE has a rate already"),
            "{errs:?}"
        );
        assert!(
            errs[3].starts_with(
                "site.toml:11: field `returns.method`: \"pigeon\" is not a return method"
            ),
            "{errs:?}"
        );
    }
}
