//! A product's page as the storefront would show it, for the owner only:
//! any product, a draft or an archived one too, rendered with the shop's
//! theme and settings the way a build loads them, and never published. The
//! page's theme assets are served under `/admin/preview-assets/` and its
//! uploads under `/admin/images/`, both behind the login.

use std::sync::Arc;

use catalog::records::Record;
use catalog::types::ProductId;
use catalog::{Catalog, Origin, Product, SiteSettings, Status};
use poem::http::StatusCode;
use poem::web::{Data, Path};
use poem::{Response, handler};
use render::Theme;

use super::products::product_or_page;
use super::{Owner, early, pages};
use crate::state::State;

/// What theme asset names are prefixed with in a preview.
pub(super) const ASSETS: &str = "/admin/preview-assets/";
/// What replaces a preview's leading `/images/`.
pub(super) const IMAGES: &str = "/admin/images/";

/// The preview's own policy: the storefront's stylesheet and script from
/// the admin, images as the admin serves them, and nothing sent anywhere.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' https: data:; \
                   font-src 'self'; connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'";

/// The shop's settings, as the build reads them.
fn site_settings(state: &State) -> poem::Result<SiteSettings> {
    content::load_settings(&state.content_dir.join("site.toml")).map_err(|errors| {
        let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
        tracing::error!("the preview cannot read site.toml: {}", text.join("; "));
        early(pages::error(
            StatusCode::SERVICE_UNAVAILABLE,
            "The shop's settings (site.toml) could not be read, so there is nothing to preview; the server's log says why.",
        ))
    })
}

/// The shop's theme, found as the build finds it: its folder in the themes
/// folder (or the embedded default), then the content folder's overrides.
fn theme(state: &State, catalog: &Catalog) -> poem::Result<Theme> {
    let config = pipeline::BuildConfig {
        content_dir: state.content_dir.clone(),
        themes_dir: state.themes_dir.clone(),
        generated_at: None,
        progress: false,
        image_cache: None,
    };
    Theme::load(&config.theme_location(catalog)).map_err(|e| {
        tracing::error!("the preview cannot load the theme: {e}");
        early(pages::error(
            StatusCode::SERVICE_UNAVAILABLE,
            "The shop's theme could not be loaded; the server's log says why.",
        ))
    })
}

/// A stored product as the catalog has it, shown as if it were active (a
/// draft's page is what it will look like once it is).
fn as_active(record: &Record) -> Result<Product, String> {
    let fields = catalog::draft::Draft {
        slug: Some(&record.slug),
        name: Some(&record.name),
        description: &record.description,
        price: Some(catalog::draft::Amount::Exact(record.price)),
        image_url: None,
        images: Some(
            record
                .images
                .iter()
                .map(|i| (i.url.as_str(), i.alt.as_str()))
                .collect(),
        ),
        category: record.category.as_deref(),
        stock_quantity: Some(i64::from(record.stock_quantity)),
        status: Some(Status::Active.as_str()),
        compare_at_price: record.compare_at_price.map(catalog::draft::Amount::Exact),
        seo_title: record.seo_title.as_deref(),
        seo_description: record.seo_description.as_deref(),
        gtin: record.gtin.as_deref(),
        mpn: record.mpn.as_deref(),
        buy_url: record.buy_url.as_deref(),
    }
    .validate()
    .map_err(|problems| {
        problems
            .iter()
            .map(|p| format!("{}: {}", p.field, p.invalid))
            .collect::<Vec<_>>()
            .join("; ")
    })?;
    let id = ProductId::new(record.product_id).map_err(|e| e.to_string())?;
    Ok(fields.into_product(id, record.created_at, record.updated_at))
}

/// `GET /admin/products/:id/preview`: the product's page, rendered now.
#[handler]
pub(super) async fn product_preview(
    state: Data<&Arc<State>>,
    id: Path<i64>,
    _owner: Owner,
) -> poem::Result<Response> {
    let record = product_or_page(&state, id.0).await?;
    let product = as_active(&record).map_err(|problem| {
        early(pages::error(
            StatusCode::UNPROCESSABLE_ENTITY,
            &format!("This product cannot be shown: {problem}"),
        ))
    })?;
    let settings = site_settings(&state)?;
    let product_id = product.id;
    let catalog = Catalog::assemble(settings, vec![(product.clone(), Origin::Row(product_id))])
        .map_err(|e| {
            early(pages::error(
                StatusCode::UNPROCESSABLE_ENTITY,
                &format!("This product cannot be shown: {e}"),
            ))
        })?;
    let theme = theme(&state, &catalog)?;
    let urls = render::PreviewUrls {
        assets: ASSETS.to_owned(),
        images: IMAGES.to_owned(),
    };
    let html = render::preview_product(&catalog, &theme, &product, &urls).map_err(|e| {
        tracing::error!("the preview of product {} failed: {e}", id.0);
        early(pages::error(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("The theme could not render this product: {e}"),
        ))
    })?;
    Ok(Response::builder()
        .content_type("text/html; charset=utf-8")
        .header("content-security-policy", CSP)
        .header("cache-control", "no-store")
        .header("x-robots-tag", "noindex")
        .body(html))
}

/// `GET /admin/preview-assets/*file`: one of the theme's assets, by its
/// name in the theme's `static/` folder.
#[handler]
pub(super) fn preview_asset(
    state: Data<&Arc<State>>,
    file: Path<String>,
    _owner: Owner,
) -> poem::Result<Response> {
    let name = file.0.trim_start_matches('/');
    let settings = site_settings(&state)?;
    let catalog = Catalog::assemble(settings, Vec::new()).map_err(|e| {
        early(pages::error(
            StatusCode::SERVICE_UNAVAILABLE,
            &format!("The shop's settings are not usable: {e}"),
        ))
    })?;
    let theme = theme(&state, &catalog)?;
    match theme.assets.get(name) {
        Some(bytes) => Ok(Response::builder()
            .content_type(render::site::content_type_for(name))
            .header("x-robots-tag", "noindex")
            .body(bytes.clone())),
        None => Ok(pages::error(
            StatusCode::NOT_FOUND,
            "The theme has no such file.",
        )),
    }
}
