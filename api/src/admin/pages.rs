//! The admin's templates and what they see: view rows built from the store's
//! records, flash messages, and the error page. Tera escapes every value.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use catalog::SiteSettings;
use catalog::Status;
use catalog::records::BuildRow;
use catalog::records::{AuditRow, Record};
use catalog::types::{Price, Seo, Slug};
use poem::http::StatusCode;
use poem::{IntoResponse, Response};
use serde::Serialize;

use super::Owner;
use super::csv::Preview;
use crate::error::ApiError;
use crate::files::FilesError;
use crate::store::StoreError;

fn tera() -> &'static tera::Tera {
    static TERA: OnceLock<tera::Tera> = OnceLock::new();
    TERA.get_or_init(|| {
        let mut tera = tera::Tera::default();
        tera.add_raw_templates([
            ("base.html", include_str!("../../templates/admin/base.html")),
            (
                "macros.html",
                include_str!("../../templates/admin/macros.html"),
            ),
            (
                "login.html",
                include_str!("../../templates/admin/login.html"),
            ),
            (
                "products.html",
                include_str!("../../templates/admin/products.html"),
            ),
            (
                "product.html",
                include_str!("../../templates/admin/product.html"),
            ),
            (
                "delete.html",
                include_str!("../../templates/admin/delete.html"),
            ),
            (
                "history.html",
                include_str!("../../templates/admin/history.html"),
            ),
            (
                "publishing.html",
                include_str!("../../templates/admin/publishing.html"),
            ),
            (
                "import.html",
                include_str!("../../templates/admin/import.html"),
            ),
            (
                "error.html",
                include_str!("../../templates/admin/error.html"),
            ),
            (
                "sessions.html",
                include_str!("../../templates/admin/sessions.html"),
            ),
        ])
        .expect("the admin templates parse");
        tera
    })
}

/// A page about to be rendered.
pub struct Page {
    template: &'static str,
    context: tera::Context,
}

impl Page {
    pub fn new(template: &'static str, title: &str, owner: Option<&Owner>) -> Self {
        let mut context = tera::Context::new();
        context.insert("title", title);
        if let Some(owner) = owner {
            context.insert("user_email", &owner.user.email);
            context.insert("csrf", &owner.csrf);
        }
        Self { template, context }
    }

    pub fn insert<T: Serialize + ?Sized>(&mut self, key: &str, value: &T) {
        self.context.insert(key, value);
    }

    /// The message for a finished action (`?done=...`); only known ones.
    pub fn flash(&mut self, done: Option<&str>, args: &BTreeMap<&str, String>) {
        let arg = |k: &str| args.get(k).cloned().unwrap_or_default();
        let message = match done {
            Some("logged-out") => "You are logged out.".to_owned(),
            Some("deleted") => format!("Deleted {}.", arg("name")),
            Some("imported") => format!(
                "Imported: {} created, {} updated, {} unchanged.",
                arg("created"),
                arg("updated"),
                arg("unchanged")
            ),
            Some("rebuild") => "A rebuild was asked for; it starts in a moment.".to_owned(),
            Some("saved") => "Saved.".to_owned(),
            Some("sessions-ended") => match arg("count").as_str() {
                "1" => "Ended 1 session.".to_owned(),
                n => format!("Ended {n} sessions."),
            },
            _ => return,
        };
        self.context.insert("flash", &message);
    }

    pub fn render(self, status: StatusCode) -> Response {
        match tera().render(self.template, &self.context) {
            Ok(html) => Response::builder()
                .status(status)
                .content_type("text/html; charset=utf-8")
                .body(html),
            Err(e) => {
                tracing::error!("the admin template {} failed: {e:?}", self.template);
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "the page could not be rendered",
                )
                    .into_response()
            }
        }
    }
}

/// A page that says what went wrong.
pub fn error(status: StatusCode, detail: &str) -> Response {
    let mut page = Page::new(
        "error.html",
        status.canonical_reason().unwrap_or("Error"),
        None,
    );
    page.insert("status", &status.as_u16());
    page.insert("detail", detail);
    page.render(status)
}

/// The status and message of an error (a store's, or a login's), as the
/// JSON API would answer it.
pub fn problem_of(e: impl Into<ApiError>) -> (StatusCode, String) {
    let e = e.into();
    let problem = e.problem();
    (
        StatusCode::from_u16(problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        problem.detail.clone(),
    )
}

/// The status and message of a store's error on an admin page: as the JSON
/// API answers it, except that the content folder's problems are listed, for
/// the owner to fix (they name each product file by its place in the folder,
/// `products/mug.md:3`). Nothing else of a folder's failure is shown: it
/// names paths on the server, and is in the server's log.
pub fn store_problem(e: StoreError) -> (StatusCode, String) {
    match e {
        StoreError::Files(e @ FilesError::Content(_)) => {
            (StatusCode::SERVICE_UNAVAILABLE, e.to_string())
        }
        e => problem_of(e),
    }
}

/// The product form's values, as typed.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ProductForm {
    pub name: String,
    pub slug: String,
    pub price: String,
    pub category: String,
    pub stock_quantity: String,
    pub description: String,
    /// In order; the first is the main image.
    pub images: Vec<FormImage>,
    pub version: String,
    /// `draft`, `active` or `archived`.
    pub status: String,
    pub compare_at_price: String,
    pub seo_title: String,
    pub seo_description: String,
    pub gtin: String,
    pub mpn: String,
    pub buy_url: String,
}

/// One image in the product form.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FormImage {
    pub url: String,
    pub alt: String,
    /// Where the admin shows it (uploads are served under `/admin/images/`).
    pub thumbnail: String,
}

impl FormImage {
    pub fn new(url: String, alt: String) -> Self {
        Self {
            thumbnail: thumbnail(&url),
            url,
            alt,
        }
    }
}

/// Where the admin shows an image: a site-relative one from its own files,
/// as its small variant once a build has made one.
fn thumbnail(url: &str) -> String {
    match url.strip_prefix("/images/") {
        Some(file) => format!("/admin/images/{file}?thumb"),
        None => url.to_owned(),
    }
}

impl ProductForm {
    pub fn of(r: &Record) -> Self {
        Self {
            name: r.name.clone(),
            slug: r.slug.clone(),
            price: format!("{:.2}", r.price),
            category: r.category.clone().unwrap_or_default(),
            stock_quantity: r.stock_quantity.to_string(),
            description: r.description.clone(),
            images: r
                .images
                .iter()
                .map(|i| FormImage::new(i.url.clone(), i.alt.clone()))
                .collect(),
            version: r.version.to_string(),
            status: r.status.as_str().to_owned(),
            compare_at_price: r
                .compare_at_price
                .map(|c| format!("{c:.2}"))
                .unwrap_or_default(),
            seo_title: r.seo_title.clone().unwrap_or_default(),
            seo_description: r.seo_description.clone().unwrap_or_default(),
            gtin: r.gtin.clone().unwrap_or_default(),
            mpn: r.mpn.clone().unwrap_or_default(),
            buy_url: r.buy_url.clone().unwrap_or_default(),
        }
    }

    /// How a search engine would show the product as the form has it: the
    /// search title or the name, the page's address, and the search
    /// description or a summary of the description (the storefront's own).
    pub fn search_result(&self, settings: Option<&SiteSettings>) -> SearchResult {
        let given = |t: &str| Some(t.trim().to_owned()).filter(|t| !t.is_empty());
        let slug = Slug::parse(self.slug.trim()).or_else(|_| Slug::from_text(&self.name));
        let path = slug.map_or_else(|_| "/".to_owned(), |s| render::urls::product(&s));
        let base_url = settings
            .map(|s| s.base_url.trim_end_matches('/').to_owned())
            .unwrap_or_default();
        let summary = render::markdown::summary(&self.description, Seo::MAX_DESCRIPTION);
        let title_suffix = settings
            .map(|s| render::title_suffix(&s.title))
            .unwrap_or_default();
        SearchResult {
            title: given(&self.seo_title)
                .unwrap_or_else(|| format!("{}{title_suffix}", self.name.trim())),
            title_suffix,
            url: format!("{base_url}{path}"),
            description: given(&self.seo_description).unwrap_or_else(|| summary.clone()),
            base_url,
            summary,
        }
    }
}

/// A search engine's result for a product: what the form's preview shows.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct SearchResult {
    pub title: String,
    pub url: String,
    pub description: String,
    /// The shop's address, which the page's address starts with.
    pub base_url: String,
    /// What follows the name in the title without a search title.
    pub title_suffix: String,
    /// The description's summary: the description shown without one.
    pub summary: String,
}

/// The statuses a product may have, for the form's and the list's selects.
pub fn statuses() -> Vec<(&'static str, &'static str)> {
    Status::ALL
        .iter()
        .map(|s| {
            let label = match s {
                Status::Draft => "Draft",
                Status::Active => "Active",
                Status::Archived => "Archived",
            };
            (s.as_str(), label)
        })
        .collect()
}

/// A product as the list, the forms and the panel show it.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub id: i64,
    pub name: String,
    pub slug: String,
    pub price: String,
    pub category: String,
    pub stock: String,
    pub in_stock: bool,
    pub thumbnail: Option<String>,
    pub updated: String,
    pub version: i64,
    /// The product's page on the storefront.
    pub live_url: Option<String>,
    pub description: String,
    /// `draft`, `active` or `archived`.
    pub status: &'static str,
}

pub fn row(r: &Record, settings: Option<&SiteSettings>) -> Row {
    let price = match (settings, Price::from_decimal(r.price)) {
        (Some(s), Ok(p)) => render::money::format_price(p, &s.currency, &s.locale),
        _ => format!("{:.2}", r.price),
    };
    // Only an active product has a page on the storefront.
    let live_url = match (settings, Slug::parse(&r.slug)) {
        (Some(s), Ok(slug)) if r.status == catalog::Status::Active => {
            Some(format!("{}{}", s.base_url, render::urls::product(&slug)))
        }
        _ => None,
    };
    Row {
        id: r.product_id,
        name: r.name.clone(),
        slug: r.slug.clone(),
        price,
        category: r.category.clone().unwrap_or_default(),
        stock: match r.stock_quantity {
            0 => "Out of stock".to_owned(),
            n => n.to_string(),
        },
        in_stock: r.stock_quantity > 0,
        thumbnail: r.image_url().map(thumbnail),
        updated: r.updated_at.format("%Y-%m-%d %H:%M UTC").to_string(),
        version: r.version,
        live_url,
        description: r.description.clone(),
        status: r.status.as_str(),
    }
}

pub fn rows(records: &[Record], settings: Option<&SiteSettings>) -> Vec<Row> {
    records.iter().map(|r| row(r, settings)).collect()
}

#[derive(Debug, Serialize)]
pub struct BuildView {
    pub id: i64,
    pub started: String,
    pub trigger: String,
    pub duration: String,
    pub uploaded: String,
    pub deleted: String,
    pub invalidated: String,
    pub source: String,
    pub result: String,
    pub error: Option<String>,
}

pub fn builds(rows: &[BuildRow]) -> Vec<BuildView> {
    let count = |n: Option<i32>| n.map_or_else(|| "–".to_owned(), |n| n.to_string());
    rows.iter()
        .map(|b| BuildView {
            id: b.build_id,
            started: b.started_at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
            trigger: b.trigger.clone(),
            duration: b.duration_ms.map_or_else(
                || "–".to_owned(),
                |ms| format!("{}.{} s", ms / 1000, (ms % 1000) / 100),
            ),
            uploaded: count(b.pages_uploaded),
            deleted: count(b.pages_deleted),
            invalidated: count(b.paths_invalidated),
            source: b.source.clone().unwrap_or_default(),
            result: match (&b.finished_at, &b.error) {
                (_, Some(_)) => "failed",
                (None, None) => "running",
                (Some(_), None) => "published",
            }
            .to_owned(),
            error: b.error.clone(),
        })
        .collect()
}

#[derive(Debug, Serialize)]
pub struct ChangeView {
    pub at: String,
    pub actor: String,
    pub action: String,
    pub field: String,
    pub before: String,
    pub after: String,
}

/// One line per changed field.
pub fn changes(rows: &[AuditRow]) -> Vec<ChangeView> {
    let text = |v: &serde_json::Value| match v {
        serde_json::Value::Null => "–".to_owned(),
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let mut out = Vec::new();
    for r in rows {
        let action = match r.action.as_str() {
            "insert" => "created",
            "update" => "changed",
            "delete" => "deleted",
            other => other,
        };
        let fields = r.changes.as_object().cloned().unwrap_or_default();
        for (field, change) in fields {
            out.push(ChangeView {
                at: r.at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
                actor: r.actor.clone(),
                action: action.to_owned(),
                field,
                before: text(&change["before"]),
                after: text(&change["after"]),
            });
        }
    }
    out
}

#[derive(Debug, Serialize)]
pub struct ImportRowView {
    pub line: u64,
    pub action: &'static str,
    pub name: String,
    pub slug: String,
}

pub fn import_rows(preview: &Preview) -> Vec<ImportRowView> {
    preview
        .rows
        .iter()
        .map(|r| ImportRowView {
            line: r.line,
            action: r.action.as_str(),
            name: r.name.clone(),
            slug: r.slug.clone(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_search_result_falls_back_to_the_name_and_the_description_s_summary() {
        let settings = content::load_settings(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../content/site.toml"),
        )
        .unwrap();
        let base = settings.base_url.trim_end_matches('/').to_owned();
        let mut form = ProductForm {
            name: "Walnut Desk Tray".into(),
            description: "Oiled **walnut**, hand finished.\n\nSecond paragraph.".into(),
            ..ProductForm::default()
        };
        let plain = form.search_result(Some(&settings));
        assert_eq!(
            plain.title,
            format!("Walnut Desk Tray — {}", settings.title)
        );
        assert_eq!(plain.url, format!("{base}/products/walnut-desk-tray/"));
        assert_eq!(plain.description, "Oiled walnut, hand finished.");
        assert_eq!(plain.summary, plain.description);
        form.slug = "tray".into();
        form.seo_title = " Walnut tray ".into();
        form.seo_description = "For pens.".into();
        let given = form.search_result(Some(&settings));
        assert_eq!(given.title, "Walnut tray");
        assert_eq!(given.url, format!("{base}/products/tray/"));
        assert_eq!(given.description, "For pens.");
        assert_eq!(given.summary, "Oiled walnut, hand finished.");
    }
}
