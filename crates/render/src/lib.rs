//! Catalog + theme → [`Site`]. Pages render in parallel; the result is
//! returned only if every page rendered.

mod error;
mod escape;
mod feed;
pub mod markdown;
mod merchant;
pub mod money;
pub mod site;
mod sitemap;
mod theme;
pub mod urls;
mod views;

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use indicatif::ProgressBar;
use rayon::prelude::*;
use serde::Serialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tera::{Context, Tera};

use crate::site::{Body, Site};
use catalog::{Catalog, Category, Product};
pub use error::RenderError;
use error::{error_chain, template_error};
pub use escape::escape_html;
pub use theme::{Theme, ThemeError, ThemeLocation};
use views::{Link, Pagination, ProductCard};
pub use views::{Photos, Picture, title_suffix};

/// The templates a theme must provide.
pub const REQUIRED_TEMPLATES: [&str; 7] = [
    "base.html",
    "listing.html",
    "product.html",
    "search.html",
    "404.html",
    HEADER_TEMPLATE,
    CARD_TEMPLATE,
];
/// The site header, rendered once per variant (plain, home, each category)
/// and handed to every page as `header_html`.
pub const HEADER_TEMPLATE: &str = "partials/header.html";
/// The header variants, in `Renderer::headers`: plain, page 1 of the catalog,
/// then one per category in catalog order.
const PLAIN_HEADER: usize = 0;
const HOME_HEADER: usize = 1;
const FIRST_CATEGORY_HEADER: usize = 2;
/// A product card, rendered once per product and shared by every listing.
pub const CARD_TEMPLATE: &str = "partials/card.html";
/// What pages are rendered with in place of `header_html`; the shared header
/// bytes are spliced in there (see [`crate::site::Body`]). Catalog text can
/// never produce it: every `<` in it is escaped or sanitized away.
const HEADER_MARKER: &str = "<!--shopfront:header-->";
/// The first card of a listing loads its image eagerly, and first; the rest
/// lazily (a phone shows one card above the fold; in view, a lazy image
/// still loads at once, after the first).
pub const EAGER_CARDS: usize = 1;
/// The asset used when a product has no image.
pub const PLACEHOLDER_IMAGE: &str = "placeholder.svg";

/// Extra files copied as they are (product images, photos' variants), keyed
/// by object key.
pub type StaticFiles = BTreeMap<String, site::Body>;

/// Settings for one render.
#[derive(Debug, Clone)]
pub struct RenderOptions {
    /// Written to `products.json`.
    pub generated_at: DateTime<Utc>,
    /// Advanced once per page; hidden unless a terminal is watching.
    pub progress: ProgressBar,
}

/// Renders the whole site.
pub fn render(
    catalog: &Catalog,
    theme: &Theme,
    files: &StaticFiles,
    photos: &views::Photos,
    options: &RenderOptions,
) -> Result<Site, RenderError> {
    let mut site = Site::new();
    let mut assets = BTreeMap::new();
    for (name, bytes) in &theme.assets {
        let url = urls::asset(name, &fingerprint(bytes));
        site.insert(urls::key_for(&url), bytes.clone());
        assets.insert(name.clone(), url);
    }
    let placeholder = assets.get(PLACEHOLDER_IMAGE).cloned().unwrap_or_default();

    let cards: Vec<ProductCard> = catalog
        .products
        .par_iter()
        .map(|p| ProductCard::of(catalog, p, &placeholder, photos))
        .collect();
    let mut renderer = Renderer::new(catalog, theme, assets)?;
    renderer.prepare_cards(&cards)?;

    // Listings first, while the shared card HTML exists; then the product
    // pages, which do not need it. This keeps the peak memory of a large
    // catalog close to the size of its pages.
    let per_page = catalog.settings.products_per_page;
    let all: Vec<usize> = (0..catalog.products.len()).collect();
    let mut listings: Vec<Job<'_>> = Vec::new();
    for page in 1..=views::page_count(all.len(), per_page) {
        let header = if page == 1 { HOME_HEADER } else { PLAIN_HEADER };
        listings.push(Job::Listing {
            category: None,
            indexes: &all,
            page,
            header,
        });
    }
    for (i, category) in catalog.categories.iter().enumerate() {
        for page in 1..=views::page_count(category.products.len(), per_page) {
            listings.push(Job::Listing {
                category: Some(category),
                indexes: &category.products,
                page,
                header: FIRST_CATEGORY_HEADER + i,
            });
        }
    }
    listings.push(Job::Search);
    listings.push(Job::NotFound);
    let products: Vec<Job<'_>> = catalog
        .products
        .iter()
        .enumerate()
        .map(|(i, p)| Job::Product(i, p))
        .collect();

    options
        .progress
        .set_length((listings.len() + products.len()) as u64);
    let run = |jobs: &[Job<'_>], renderer: &Renderer<'_>, cards: &[ProductCard]| {
        jobs.par_iter()
            .map(|job| {
                let out = renderer.render(job, cards);
                options.progress.inc(1);
                out
            })
            .collect::<Vec<Result<(String, Body), RenderError>>>()
    };
    let mut rendered = run(&listings, &renderer, &cards);
    renderer.lazy_cards = Vec::new();
    rendered.extend(run(&products, &renderer, &cards));
    let json = feed::products_json(catalog, &cards, options.generated_at)?;
    let merchant_feed = merchant::google_merchant_feed(catalog, &cards);
    drop(cards);
    options.progress.finish_and_clear();
    drop(renderer);
    for r in rendered {
        let (key, body) = r?;
        site.insert(key, body);
    }

    site.insert(urls::key_for(urls::PRODUCTS_JSON), json);
    site.insert(urls::key_for(urls::MERCHANT_FEED), merchant_feed);
    for (key, body) in sitemap::sitemaps(catalog) {
        site.insert(key, body);
    }
    let robots = format!(
        "User-agent: *\nAllow: /\n\nSitemap: {}{}\n",
        catalog.settings.base_url,
        urls::SITEMAP
    );
    site.insert(urls::key_for(urls::ROBOTS), robots.into_bytes());

    for (key, body) in files {
        if site.get(key).is_some() {
            return Err(RenderError::Collision { key: key.clone() });
        }
        site.insert(key.clone(), body.clone());
    }
    Ok(site)
}

/// Where an admin's preview finds what a published page links to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreviewUrls {
    /// Prefix for the theme's asset file names (`/admin/preview-assets/`
    /// gives `/admin/preview-assets/site.css`).
    pub assets: String,
    /// Replaces a leading `/images/` in image URLs (`/admin/images/`).
    pub images: String,
}

/// The product page of any product, a draft too, for an admin to look at
/// before it is published: the storefront's own `product.html`, with the
/// theme's assets and the images at `urls`, the images as plain URLs (no
/// photo variants), not indexed, and with a visible notice. `catalog`
/// supplies the settings (and the header's categories).
pub fn preview_product(
    catalog: &Catalog,
    theme: &Theme,
    product: &Product,
    urls: &PreviewUrls,
) -> Result<String, RenderError> {
    let assets: BTreeMap<String, String> = theme
        .assets
        .keys()
        .map(|name| (name.clone(), format!("{}{name}", urls.assets)))
        .collect();
    let placeholder = assets.get(PLACEHOLDER_IMAGE).cloned().unwrap_or_default();
    let image = |url: &str| match url.strip_prefix("/images/") {
        Some(rest) => format!("{}{rest}", urls.images),
        None => url.to_owned(),
    };
    let mut card = ProductCard::of(catalog, product, &placeholder, &Photos::new());
    card.image = image(&card.image);
    for more in &mut card.more_images {
        more.image = image(&more.image);
        more.largest = image(&more.largest);
    }
    let renderer = Renderer::new(catalog, theme, assets)?;
    let mut ctx = renderer.context();
    let url = renderer.product_context(&mut ctx, product, &card, true);
    let header = String::from_utf8_lossy(&renderer.headers[PLAIN_HEADER]).into_owned();
    ctx.insert("header_html", &header);
    renderer
        .tera
        .render("product.html", &ctx)
        .map_err(|e| renderer.page_error("product.html", &url, &e))
}

/// The first 10 hex digits of the SHA-256 of an asset.
pub fn fingerprint(bytes: &[u8]) -> String {
    catalog::hex(&Sha256::digest(bytes)[..5])
}

enum Job<'a> {
    /// A product and its index in the catalog (and in the cards).
    Product(usize, &'a Product),
    Listing {
        category: Option<&'a Category>,
        indexes: &'a [usize],
        page: usize,
        /// Which header variant the page shows (an index into `Renderer::headers`).
        header: usize,
    },
    Search,
    NotFound,
}

#[derive(Serialize)]
struct PageMeta {
    title: String,
    description: String,
    /// Site-relative URL of this page.
    url: String,
    canonical: String,
    kind: &'static str,
    og_type: &'static str,
    og_image: String,
    noindex: bool,
    /// An admin's preview of an unpublished page.
    preview: bool,
}

struct Renderer<'a> {
    catalog: &'a Catalog,
    theme: &'a Theme,
    tera: Tera,
    /// The small, shared `site` value every page sees.
    site: Value,
    /// Each product's card HTML with a lazily loaded image, by product index.
    lazy_cards: Vec<String>,
    /// The header: `[plain, home, category 0, category 1, …]`.
    headers: Vec<Arc<[u8]>>,
}

impl<'a> Renderer<'a> {
    fn new(
        catalog: &'a Catalog,
        theme: &'a Theme,
        assets: BTreeMap<String, String>,
    ) -> Result<Self, RenderError> {
        for name in REQUIRED_TEMPLATES {
            if !theme.templates.contains_key(name) {
                return Err(RenderError::MissingTemplate { name });
            }
        }
        let mut tera = Tera::default();
        tera.autoescape_on(vec![".html", ".xml"]);
        tera.set_escape_fn(escape_html);
        tera.add_raw_templates(
            theme
                .templates
                .iter()
                .map(|(n, s)| (n.as_str(), s.as_str())),
        )
        .map_err(|e| template_error(theme, &e))?;
        let s = &catalog.settings;
        let site = json!({
            "title": s.title,
            "tagline": s.tagline,
            "description": s.description,
            "base_url": s.base_url,
            "lang": s.locale,
            "currency": s.currency.as_str(),
            "product_count": catalog.products.len(),
            "category_count": catalog.categories.len(),
            "assets": assets,
            "urls": {"home": urls::home(1), "search": urls::SEARCH, "products_json": urls::PRODUCTS_JSON, "merchant_feed": urls::MERCHANT_FEED},
        });
        let mut renderer = Self {
            catalog,
            theme,
            tera,
            site,
            lazy_cards: Vec::new(),
            headers: Vec::new(),
        };

        let categories = views::category_links(catalog);
        let mut variants: Vec<(bool, Option<&str>)> = vec![(false, None), (true, None)];
        variants.extend(
            catalog
                .categories
                .iter()
                .map(|c| (false, Some(c.slug.as_str()))),
        );
        renderer.headers = variants
            .par_iter()
            .map(|(is_home, category)| {
                let mut ctx = renderer.context();
                ctx.insert("categories", &categories);
                ctx.insert("is_home", is_home);
                ctx.insert("current_category", category);
                renderer
                    .tera
                    .render(HEADER_TEMPLATE, &ctx)
                    .map(|h| Arc::from(h.into_bytes()))
                    .map_err(|e| renderer.page_error(HEADER_TEMPLATE, "(every page)", &e))
            })
            .collect::<Result<_, _>>()?;
        Ok(renderer)
    }

    /// Renders every product's card once, for the listings to share.
    fn prepare_cards(&mut self, cards: &[ProductCard]) -> Result<(), RenderError> {
        self.lazy_cards = cards
            .par_iter()
            .map(|c| self.card(c, true, false))
            .collect::<Result<_, _>>()?;
        Ok(())
    }

    fn context(&self) -> Context {
        let mut ctx = Context::new();
        ctx.insert("site", &self.site);
        ctx
    }

    /// A card's HTML; `lazy` loads its image lazily, `first` (the listing's
    /// first card, its likely largest paint) fetches it first.
    fn card(&self, card: &ProductCard, lazy: bool, first: bool) -> Result<String, RenderError> {
        let mut ctx = self.context();
        ctx.insert("p", card);
        ctx.insert("lazy", &lazy);
        ctx.insert("first", &first);
        self.tera
            .render(CARD_TEMPLATE, &ctx)
            .map_err(|e| self.page_error(CARD_TEMPLATE, &card.url, &e))
    }

    fn meta(
        &self,
        title: String,
        description: String,
        url: String,
        kind: &'static str,
    ) -> PageMeta {
        let s = &self.catalog.settings;
        let default_image = self.site["assets"][PLACEHOLDER_IMAGE]
            .as_str()
            .unwrap_or("");
        PageMeta {
            title,
            description,
            canonical: urls::absolute(&s.base_url, &url),
            url,
            kind,
            og_type: "website",
            og_image: urls::absolute(&s.base_url, default_image),
            noindex: false,
            preview: false,
        }
    }

    /// Renders one page; `cards` are the products' cards, in catalog order.
    fn render(&self, job: &Job<'_>, cards: &[ProductCard]) -> Result<(String, Body), RenderError> {
        let s = &self.catalog.settings;
        let mut ctx = self.context();
        let mut header = &self.headers[PLAIN_HEADER];
        let (template, url) = match job {
            Job::Product(index, product) => {
                let url = self.product_context(&mut ctx, product, &cards[*index], false);
                ("product.html", url)
            }
            Job::Listing {
                category,
                indexes,
                page,
                header: variant,
            } => {
                header = &self.headers[*variant];
                let per_page = s.products_per_page;
                let total = views::page_count(indexes.len(), per_page);
                let shown = indexes.iter().skip((page - 1) * per_page).take(per_page);
                let mut html = Vec::with_capacity(per_page);
                for (position, &i) in shown.enumerate() {
                    if position < EAGER_CARDS {
                        html.push(self.card(&cards[i], false, position == 0)?);
                    } else {
                        html.push(self.lazy_cards[i].clone());
                    }
                }
                let (heading, url, pagination, links, description) = match category {
                    None => {
                        let p = Pagination::new(*page, total, urls::home);
                        let links = views::page_links(&p, urls::home);
                        (
                            s.title.clone(),
                            urls::home(*page),
                            p,
                            links,
                            s.description.clone(),
                        )
                    }
                    Some(c) => {
                        let to = |n| urls::category(&c.slug, n);
                        let p = Pagination::new(*page, total, to);
                        let links = views::page_links(&p, to);
                        let description = format!(
                            "{} from {}: {} products.",
                            c.name.as_str(),
                            s.title,
                            c.products.len()
                        );
                        (
                            c.name.as_str().to_owned(),
                            urls::category(&c.slug, *page),
                            p,
                            links,
                            description,
                        )
                    }
                };
                let mut title = heading.clone();
                if *page > 1 {
                    title = format!("{title} — page {page} of {total}");
                }
                if category.is_some() {
                    title = format!("{title} — {}", s.title);
                }
                let kind = if category.is_some() {
                    "category"
                } else {
                    "home"
                };
                ctx.insert("page", &self.meta(title, description, url.clone(), kind));
                ctx.insert(
                    "listing",
                    &json!({
                        "heading": heading,
                        "category": category.map(|c| c.slug.as_str()),
                        "cards": html,
                        "count": indexes.len(),
                        "pagination": pagination,
                        "page_links": links,
                    }),
                );
                ("listing.html", url)
            }
            Job::Search => {
                let meta = self.meta(
                    format!("Search — {}", s.title),
                    format!("Search the {} catalog.", s.title),
                    urls::SEARCH.to_owned(),
                    "search",
                );
                ctx.insert("page", &meta);
                ctx.insert("categories", &views::category_links(self.catalog));
                ("search.html", urls::SEARCH.to_owned())
            }
            Job::NotFound => {
                let mut meta = self.meta(
                    format!("Page not found — {}", s.title),
                    "This page does not exist.".into(),
                    urls::NOT_FOUND.to_owned(),
                    "404",
                );
                meta.noindex = true;
                ctx.insert("page", &meta);
                ctx.insert("categories", &views::category_links(self.catalog));
                ("404.html", urls::NOT_FOUND.to_owned())
            }
        };
        ctx.insert("header_html", HEADER_MARKER);
        let html = self
            .tera
            .render(template, &ctx)
            .map_err(|e| self.page_error(template, &url, &e))?;
        let body = match html
            .match_indices(HEADER_MARKER)
            .map(|(at, _)| at)
            .collect::<Vec<_>>()[..]
        {
            [at] => {
                let mut own = html.into_bytes();
                own.drain(at..at + HEADER_MARKER.len());
                // Tera grows its output by doubling; keep only what the page needs.
                own.shrink_to_fit();
                Body::spliced(own, at, Arc::clone(header))
            }
            _ => {
                let header = String::from_utf8_lossy(header);
                html.replace(HEADER_MARKER, &header).into_bytes().into()
            }
        };
        Ok((urls::key_for(&url), body))
    }

    /// Fills `ctx` for a product's page; returns the page's URL. A
    /// `preview` page is for the admin: not indexed, and it says so.
    fn product_context(
        &self,
        ctx: &mut Context,
        product: &Product,
        card: &ProductCard,
        preview: bool,
    ) -> String {
        let s = &self.catalog.settings;
        let m = &product.merchandising;
        let url = urls::product(&product.slug);
        let summary = card.summary.as_str();
        // The page's photo: the largest variant for search engines,
        // the 1200×630 crop for link previews.
        let (image, og_image) = match &card.picture {
            Some(p) => (p.largest.clone(), p.og.clone()),
            None => (card.image.clone(), card.image.clone()),
        };
        let category_slug = product.category.slug();
        let crumbs = vec![
            Link {
                name: "Home".into(),
                url: urls::home(1),
            },
            Link {
                name: product.category.as_str().into(),
                url: urls::category(&category_slug, 1),
            },
            Link {
                name: product.name.as_str().into(),
                url: url.clone(),
            },
        ];
        let json_ld = views::json_for_script(&(
            views::product_json_ld(
                self.catalog,
                product,
                &std::iter::once(image.as_str())
                    .chain(card.more_images.iter().map(|i| i.largest.as_str()))
                    .collect::<Vec<_>>(),
                summary,
            ),
            views::breadcrumbs_json_ld(&s.base_url, &crumbs),
        ));
        // Search-result text: the owner's, else the name and a summary.
        let title = m.seo_title.clone().unwrap_or_else(|| {
            format!("{}{}", product.name.as_str(), views::title_suffix(&s.title))
        });
        let description = match &m.seo_description {
            Some(d) => d.clone(),
            None if summary.is_empty() => product.name.as_str().to_owned(),
            None => summary.to_owned(),
        };
        let mut meta = self.meta(title, description, url.clone(), "product");
        meta.og_type = "product";
        meta.og_image = urls::absolute(&s.base_url, &og_image);
        meta.noindex = preview;
        meta.preview = preview;
        ctx.insert("page", &meta);
        ctx.insert("product", card);
        ctx.insert(
            "description_html",
            &markdown::to_safe_html(&product.description),
        );
        ctx.insert("breadcrumbs", &crumbs);
        ctx.insert("json_ld", &json_ld);
        ctx.insert("price_amount", &product.price.to_string());
        ctx.insert("sku", &product.id.get().to_string());
        ctx.insert("call_to_action", &views::CallToActionView::of(s, product));
        url
    }

    fn page_error(&self, template: &str, url: &str, e: &tera::Error) -> RenderError {
        let detail = error_chain(e);
        // Tera names the variable or filter in backticks; find it in the
        // template sources to point at a line.
        let (origin, line) = detail
            .split('`')
            .skip(1)
            .step_by(2)
            .find_map(|needle| {
                self.theme.templates.iter().find_map(|(name, source)| {
                    source
                        .lines()
                        .position(|l| l.contains(needle))
                        .map(|i| (name.clone(), i + 1))
                })
            })
            .map_or_else(
                || (template.to_owned(), None),
                |(name, line)| (name, Some(line)),
            );
        let origin = self.theme.origins.get(&origin).cloned().unwrap_or(origin);
        RenderError::Page {
            url: url.to_owned(),
            template: template.to_owned(),
            origin,
            line,
            detail,
        }
    }
}

#[cfg(test)]
mod tests;
