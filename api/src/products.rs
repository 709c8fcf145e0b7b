//! The JSON API: products (reads from the replica, writes to the primary) and
//! rebuilds. Every write and every rebuild route needs an API token.

use std::sync::Arc;

use catalog::Status;
use catalog::draft::{Amount, Draft};
use catalog::records::{Fields, Filter, Record};
use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::param::{Header, Path, Query};
use poem_openapi::payload::{Binary, Json};
use poem_openapi::{ApiResponse, Enum, Object, OpenApi, Tags};

use crate::auth::{Admin, Reader};
use crate::cache::JsonBytes;
use crate::error::ApiError;
use crate::problem::{FieldError, Problem};
use crate::state::State;

#[derive(Tags)]
enum Tag {
    /// The catalog.
    Products,
    /// Publishing the storefront.
    Rebuilds,
}

/// A product, with the database's column names. Prices are decimal strings.
#[derive(Debug, Clone, Object)]
pub struct Product {
    pub product_id: i64,
    pub slug: String,
    pub name: String,
    /// Markdown.
    pub description: String,
    /// An exact decimal string with two places, like "49.90".
    pub price: String,
    /// The main image: the first of `images`.
    #[oai(skip_serializing_if_is_none)]
    pub image_url: Option<String>,
    /// Every image, in order; the first is the main image.
    pub images: Vec<ProductImage>,
    #[oai(skip_serializing_if_is_none)]
    pub category: Option<String>,
    pub stock_quantity: i32,
    /// Only `active` products are on the storefront.
    pub status: ProductStatus,
    /// The price before a sale, above `price`, as an exact decimal string
    /// with two places.
    #[oai(skip_serializing_if_is_none)]
    pub compare_at_price: Option<String>,
    /// The search-result title; the name when absent.
    #[oai(skip_serializing_if_is_none)]
    pub seo_title: Option<String>,
    /// The search-result description; a summary of the description when absent.
    #[oai(skip_serializing_if_is_none)]
    pub seo_description: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub gtin: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub mpn: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub buy_url: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Bumped by every change; send it back in `If-Match` to update.
    pub version: i64,
}

/// Where a product is: `draft` (being written, not on the storefront),
/// `active` (on sale) or `archived` (no longer sold, not on the storefront).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
pub enum ProductStatus {
    Draft,
    Active,
    Archived,
}

impl From<Status> for ProductStatus {
    fn from(s: Status) -> Self {
        match s {
            Status::Draft => Self::Draft,
            Status::Active => Self::Active,
            Status::Archived => Self::Archived,
        }
    }
}

impl From<ProductStatus> for Status {
    fn from(s: ProductStatus) -> Self {
        match s {
            ProductStatus::Draft => Self::Draft,
            ProductStatus::Active => Self::Active,
            ProductStatus::Archived => Self::Archived,
        }
    }
}

/// One of a product's images.
#[derive(Debug, Clone, Object)]
pub struct ProductImage {
    /// `https://...` or a site-relative path such as `/images/mug.webp`
    /// (an upload's `url`, from `POST /api/images`), without spaces, quotes
    /// or angle brackets.
    #[oai(validator(
        max_length = 512,
        pattern = r#"^(/|/[^/\s"'<>\\`\x00-\x1f\x7f][^\s"'<>\\`\x00-\x1f\x7f]*|https://[^/\s"'<>\\`\x00-\x1f\x7f][^\s"'<>\\`\x00-\x1f\x7f]*)$"#
    ))]
    pub url: String,
    /// What the image shows, for people who cannot see it; at most 300
    /// characters. Pages use the product's name while it is empty.
    #[oai(default)]
    pub alt: String,
}

impl From<Record> for Product {
    fn from(r: Record) -> Self {
        Self {
            image_url: r.image_url().map(str::to_owned),
            images: r
                .images
                .into_iter()
                .map(|i| ProductImage {
                    url: i.url,
                    alt: i.alt,
                })
                .collect(),
            product_id: r.product_id,
            slug: r.slug,
            name: r.name,
            description: r.description,
            price: format!("{:.2}", r.price),
            category: r.category,
            stock_quantity: r.stock_quantity,
            status: r.status.into(),
            compare_at_price: r.compare_at_price.map(|c| format!("{c:.2}")),
            seo_title: r.seo_title,
            seo_description: r.seo_description,
            gtin: r.gtin,
            mpn: r.mpn,
            buy_url: r.buy_url,
            created_at: r.created_at,
            updated_at: r.updated_at,
            version: r.version,
        }
    }
}

/// What a create or an update sends.
#[derive(Debug, Clone, Object)]
#[oai(example)]
pub struct ProductInput {
    /// Lowercase letters and digits joined by single hyphens; made from the
    /// name when omitted.
    pub slug: Option<String>,
    /// 1 to 255 characters.
    pub name: String,
    /// Markdown, at most 20,000 characters.
    #[oai(default)]
    pub description: String,
    /// A decimal string with at most two places, from "0.00" to "99999999.99".
    pub price: String,
    /// The main image alone: `https://...` or a site-relative path such as
    /// `/images/mug.webp`. Without `images`, the product has this one image;
    /// with it, this must be the first image's url.
    pub image_url: Option<String>,
    /// Every image, in order (the first is the main one); at most 20.
    #[oai(validator(max_items = 20))]
    pub images: Option<Vec<ProductImage>>,
    /// The category's display name; a new name makes a new category.
    pub category: String,
    /// 0 or more.
    pub stock_quantity: i64,
    /// `active` when a new product omits it. An update that omits it, or
    /// any of the fields below, keeps the product's current value, so a
    /// client that does not know these fields changes none of them; send
    /// an empty string to clear one.
    pub status: Option<ProductStatus>,
    /// The price before a sale: a decimal string like `price`, greater than
    /// it; empty (or, on a create, omitted) for none.
    pub compare_at_price: Option<String>,
    /// The search-result title, at most 70 characters on one line; the name
    /// is used without it.
    pub seo_title: Option<String>,
    /// The search-result description, at most 160 characters on one line; a
    /// summary of the description is used without it.
    pub seo_description: Option<String>,
    /// A GTIN (EAN, UPC or ISBN-13): 8, 12, 13 or 14 digits ending in their
    /// check digit.
    pub gtin: Option<String>,
    /// The manufacturer's part number, at most 70 characters on one line.
    pub mpn: Option<String>,
    /// Where a shopper can pay for it: an `https://` address.
    pub buy_url: Option<String>,
}

impl ProductInput {
    /// Whether any status, sale, search, identifier or buy field is left out.
    fn lacks_merchandising(&self) -> bool {
        self.status.is_none()
            || [
                &self.compare_at_price,
                &self.seo_title,
                &self.seo_description,
                &self.gtin,
                &self.mpn,
                &self.buy_url,
            ]
            .iter()
            .any(|f| f.is_none())
    }

    /// Fills each of those fields left out with the product's current value.
    fn keep_merchandising(&mut self, current: &Record) {
        self.status.get_or_insert(current.status.into());
        for name in catalog::Merchandising::FIELDS {
            if let Some(field) = self.text_field(name).filter(|f| f.is_none()) {
                *field = Some(current.merchandising_text(name).unwrap_or_default());
            }
        }
    }

    /// A merchandising field held as text, by its name; `None` for
    /// `status` (an enum here) and any other name.
    pub fn text_field(&mut self, name: &str) -> Option<&mut Option<String>> {
        match name {
            "compare_at_price" => Some(&mut self.compare_at_price),
            "seo_title" => Some(&mut self.seo_title),
            "seo_description" => Some(&mut self.seo_description),
            "gtin" => Some(&mut self.gtin),
            "mpn" => Some(&mut self.mpn),
            "buy_url" => Some(&mut self.buy_url),
            _ => None,
        }
    }
}

impl poem_openapi::types::Example for ProductInput {
    fn example() -> Self {
        Self {
            slug: Some("walnut-desk-tray".into()),
            name: "Walnut Desk Tray".into(),
            description: "Oiled walnut, **hand finished**.\n\n- 32 x 18 cm".into(),
            price: "49.90".into(),
            image_url: Some("/images/walnut-desk-tray.webp".into()),
            images: Some(vec![
                ProductImage {
                    url: "/images/walnut-desk-tray.webp".into(),
                    alt: "The tray from above, holding pens and a notebook".into(),
                },
                ProductImage {
                    url: "/images/walnut-desk-tray-side.webp".into(),
                    alt: "The tray's dovetailed corner".into(),
                },
            ]),
            category: "Home Office".into(),
            stock_quantity: 12,
            status: Some(ProductStatus::Active),
            compare_at_price: Some("59.90".into()),
            seo_title: Some("Walnut desk tray, hand oiled".into()),
            seo_description: Some(
                "A dovetailed tray of oiled walnut for pens, cards and a notebook.".into(),
            ),
            gtin: Some("4006381333931".into()),
            mpn: Some("WDT-32".into()),
            buy_url: Some("https://buy.example.com/walnut-desk-tray".into()),
        }
    }
}

/// Validates every field by the catalog's rules; all problems at once.
pub fn validate(input: &ProductInput) -> Result<Fields, Vec<FieldError>> {
    validate_with_status(input, input.status.map(|s| Status::from(s).as_str()))
}

/// [`validate`], with the status as text (a form's or a CSV cell's, checked
/// by the same rules) in place of `input.status`; `None` is `active`.
pub fn validate_with_status(
    input: &ProductInput,
    status: Option<&str>,
) -> Result<Fields, Vec<FieldError>> {
    Draft {
        slug: input.slug.as_deref(),
        name: Some(&input.name),
        description: &input.description,
        price: Some(Amount::Text(&input.price)),
        image_url: input.image_url.as_deref(),
        images: input.images.as_ref().map(|list| {
            list.iter()
                .map(|i| (i.url.as_str(), i.alt.as_str()))
                .collect()
        }),
        category: Some(&input.category),
        stock_quantity: Some(input.stock_quantity),
        status,
        compare_at_price: input.compare_at_price.as_deref().map(Amount::Text),
        seo_title: input.seo_title.as_deref(),
        seo_description: input.seo_description.as_deref(),
        gtin: input.gtin.as_deref(),
        mpn: input.mpn.as_deref(),
        buy_url: input.buy_url.as_deref(),
    }
    .validate()
    .map_err(|problems| {
        problems
            .into_iter()
            .map(|p| FieldError {
                field: p.field.into(),
                message: p.invalid.to_string(),
            })
            .collect()
    })
}

#[derive(Debug, Clone, Object)]
pub struct ProductPage {
    pub items: Vec<Product>,
    /// Products that match, on every page.
    pub total: i64,
    pub page: i64,
    pub per_page: i64,
}

#[derive(ApiResponse)]
pub enum OneProduct {
    #[oai(status = 200)]
    Ok(Json<Product>, #[oai(header = "ETag")] String),
}

#[derive(ApiResponse)]
pub enum Created {
    #[oai(status = 201)]
    Created(
        Json<Product>,
        #[oai(header = "Location")] String,
        #[oai(header = "ETag")] String,
    ),
}

/// An image kept for products to use.
#[derive(Debug, Clone, Object)]
pub struct UploadedImage {
    /// What a product's `images` name it by: `/images/<sha256>.<extension>`.
    pub url: String,
    /// Upright, in pixels.
    pub width: u32,
    pub height: u32,
    /// The file's size in bytes.
    pub bytes: u64,
}

#[derive(ApiResponse)]
pub enum ImageCreated {
    #[oai(status = 201)]
    Created(Json<UploadedImage>),
}

#[derive(ApiResponse)]
pub enum Deleted {
    #[oai(status = 204)]
    Deleted,
}

/// The `ETag` of a product version.
pub fn etag(version: i64) -> String {
    format!("\"{version}\"")
}

/// The version an `If-Match` header names, or the 412/428 to answer.
fn expected_version(if_match: Option<&str>, required: bool) -> Result<Option<i64>, ApiError> {
    let Some(value) = if_match else {
        return if required {
            Err(ApiError::PreconditionRequired(Json(Problem::new(
                428,
                "Precondition Required",
                "send If-Match with the ETag of the version you are changing (GET the product first)",
            ))))
        } else {
            Ok(None)
        };
    };
    value
        .trim()
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .and_then(|v| v.parse::<i64>().ok())
        .map(Some)
        .ok_or_else(|| {
            ApiError::PreconditionFailed(Json(Problem::new(
                412,
                "Precondition Failed",
                format!("If-Match {value:?} is not the ETag of any version of this product"),
            )))
        })
}

/// An upload's refusal over HTTP. The server's own failure to keep it (its
/// text names the upload folder) is logged, not sent.
fn refused_upload(e: crate::admin::image::Refused) -> ApiError {
    use crate::admin::image::Refused;
    match e {
        Refused::TooLarge(_) => {
            ApiError::TooLarge(Json(Problem::new(413, "Content Too Large", e.to_string())))
        }
        Refused::Unusable(ref text) if text.contains(crate::BODY_OVER_LIMIT) => {
            ApiError::TooLarge(Json(Problem::new(
                413,
                "Content Too Large",
                Refused::TooLarge("The image".into()).to_string(),
            )))
        }
        Refused::Unusable(_) => {
            ApiError::unprocessable(Problem::new(422, "Unprocessable Content", e.to_string()))
        }
        Refused::Spool(_) => {
            tracing::error!("{e}");
            ApiError::Unavailable(Json(Problem::new(
                503,
                "Service Unavailable",
                "the upload could not be kept for checking; the server's log says why",
            )))
        }
    }
}

fn invalid(errors: Vec<FieldError>) -> ApiError {
    ApiError::unprocessable(Problem::invalid(errors))
}

pub struct ProductsApi;

#[OpenApi(prefix_path = "/api")]
impl ProductsApi {
    /// List products, by name, with filters and pages. Public (without
    /// credentials, only active products: drafts and archived ones are for
    /// admins); reads the replica.
    #[oai(path = "/products", method = "get", tag = "Tag::Products")]
    #[expect(
        clippy::too_many_arguments,
        reason = "each query parameter is an argument"
    )]
    async fn list(
        &self,
        state: Data<&Arc<State>>,
        req: &poem::Request,
        /// Only this category (its display name).
        category: Query<Option<String>>,
        /// Only products in stock (true) or out of stock (false).
        in_stock: Query<Option<bool>>,
        /// Text to find in the name or the slug.
        q: Query<Option<String>>,
        /// Only products with this status; every status an admin may see
        /// when omitted.
        status: Query<Option<ProductStatus>>,
        #[oai(
            default = "first_page",
            validator(minimum(value = "1"), maximum(value = "100000"))
        )]
        page: Query<i64>,
        #[oai(
            default = "default_per_page",
            validator(minimum(value = "1"), maximum(value = "100"))
        )]
        per_page: Query<i64>,
        reader: Reader,
    ) -> Result<JsonBytes<ProductPage>, ApiError> {
        let nul = [("category", &category.0), ("q", &q.0)]
            .into_iter()
            .filter(|(_, v)| v.as_deref().is_some_and(|v| v.contains('\0')))
            .map(|(field, _)| FieldError {
                field: field.into(),
                message: "contains a NUL character".into(),
            })
            .collect::<Vec<_>>();
        if !nul.is_empty() {
            return Err(invalid(nul));
        }
        // Anyone but an admin sees active products only, and finds no
        // drafts when asking for them.
        let admin = reader.is_admin();
        let asked = status.0.map(Status::from);
        let hidden = !admin && asked.is_some_and(|s| s != Status::Active);
        let filter = Filter {
            category: category.0.filter(|c| !c.is_empty()),
            in_stock: in_stock.0,
            status: if admin { asked } else { Some(Status::Active) },
            text: q.0.filter(|t| !t.trim().is_empty()),
            limit: per_page.0,
            offset: (page.0 - 1) * per_page.0,
            ..Filter::default()
        };
        let key = format!("{filter:?} hidden={hidden}");
        let read = async {
            let (items, total) = match hidden {
                true => (Vec::new(), 0),
                false => state.store.list(&filter, false).await?,
            };
            Ok::<_, ApiError>(ProductPage {
                items: items.into_iter().map(Product::from).collect(),
                total,
                page: page.0,
                per_page: per_page.0,
            })
        };
        state
            .lists
            .get_or_fill(key, crate::cache::accepts_gzip(req), read)
            .await
    }

    /// One product, with its version as the `ETag`. Public for an active
    /// product; a draft or an archived one only for admins (404 to anyone
    /// else). Reads the replica.
    #[oai(path = "/products/:id", method = "get", tag = "Tag::Products")]
    async fn get(
        &self,
        state: Data<&Arc<State>>,
        id: Path<i64>,
        reader: Reader,
    ) -> Result<OneProduct, ApiError> {
        let record = state
            .store
            .get(id.0, false)
            .await?
            .filter(|r| reader.is_admin() || r.status == Status::Active)
            .ok_or_else(|| ApiError::not_found(format!("no product has the id {}", id.0)))?;
        let tag = etag(record.version);
        Ok(OneProduct::Ok(Json(record.into()), tag))
    }

    /// Create a product. The storefront is republished in the background.
    /// Upload a product image: the body is the file itself, a JPEG, PNG or
    /// WebP of at most 25 MiB (a phone's photo is fine). It is spooled to
    /// disk, decoded whole and checked (a corrupt, cut-short or oversized
    /// image gets 422 and nothing is kept), then kept by its content, so the
    /// same file twice is kept once. Put the answer's `url` in a product's
    /// `images`; the build makes its sizes and formats.
    #[oai(path = "/images", method = "post", tag = "Tag::Products")]
    async fn upload_image(
        &self,
        state: Data<&Arc<State>>,
        _admin: Admin,
        body: Binary<poem::Body>,
    ) -> Result<ImageCreated, ApiError> {
        use crate::admin::image;
        let spooled = image::spool(body.0.into_async_read(), "", &state.upload_dir)
            .await
            .map_err(refused_upload)?;
        let upload = image::check(&spooled).await.map_err(refused_upload)?;
        let bytes = spooled.bytes().await.map_err(refused_upload)?;
        state
            .store
            .put_image(&upload.sha256, upload.extension, &bytes)
            .await?;
        Ok(ImageCreated::Created(Json(UploadedImage {
            url: upload.url(),
            width: upload.width,
            height: upload.height,
            bytes: upload.bytes,
        })))
    }

    #[oai(path = "/products", method = "post", tag = "Tag::Products")]
    async fn create(
        &self,
        state: Data<&Arc<State>>,
        admin: Admin,
        body: Json<ProductInput>,
    ) -> Result<Created, ApiError> {
        let fields = validate(&body.0).map_err(invalid)?;
        let record = state.store.create(&admin.user().email, &fields).await?;
        state.catalog_written();
        let (location, tag) = (
            format!("/api/products/{}", record.product_id),
            etag(record.version),
        );
        Ok(Created::Created(Json(record.into()), location, tag))
    }

    /// Replace a product's fields. Needs `If-Match` with its current `ETag`;
    /// a stale one gets 412. The status, sale, search, identifier and buy
    /// fields that the body omits keep their current values.
    #[oai(path = "/products/:id", method = "put", tag = "Tag::Products")]
    async fn update(
        &self,
        state: Data<&Arc<State>>,
        admin: Admin,
        id: Path<i64>,
        #[oai(name = "If-Match")] if_match: Header<Option<String>>,
        body: Json<ProductInput>,
    ) -> Result<OneProduct, ApiError> {
        let expected = expected_version(if_match.0.as_deref(), true)?.unwrap_or_default();
        let mut input = body.0;
        if input.lacks_merchandising() {
            // From the primary: the version the update will check.
            if let Some(current) = state.store.get(id.0, true).await? {
                input.keep_merchandising(&current);
            }
        }
        let fields = validate(&input).map_err(invalid)?;
        let record = state
            .store
            .update(&admin.user().email, id.0, expected, &fields)
            .await?;
        state.catalog_written();
        let tag = etag(record.version);
        Ok(OneProduct::Ok(Json(record.into()), tag))
    }

    /// Delete a product; with `If-Match`, only if it is still at that version.
    #[oai(path = "/products/:id", method = "delete", tag = "Tag::Products")]
    async fn delete(
        &self,
        state: Data<&Arc<State>>,
        admin: Admin,
        id: Path<i64>,
        #[oai(name = "If-Match")] if_match: Header<Option<String>>,
    ) -> Result<Deleted, ApiError> {
        let expected = expected_version(if_match.0.as_deref(), false)?;
        state
            .store
            .delete(&admin.user().email, id.0, expected)
            .await?;
        state.catalog_written();
        Ok(Deleted::Deleted)
    }

    /// Ask for a rebuild now. It runs in the background, on whichever
    /// instance holds the build lock.
    #[oai(path = "/rebuilds", method = "post", tag = "Tag::Rebuilds")]
    async fn trigger(&self, state: Data<&Arc<State>>, _admin: Admin) -> Result<Accepted, ApiError> {
        let (wanted, published) = state.store.catalog_state().await?;
        state.request_rebuild();
        Ok(Accepted::Accepted(Json(CatalogState {
            wanted_version: wanted,
            published_version: published,
        })))
    }

    /// The latest builds, newest first.
    #[oai(path = "/rebuilds", method = "get", tag = "Tag::Rebuilds")]
    async fn history(
        &self,
        state: Data<&Arc<State>>,
        _admin: Admin,
        #[oai(
            default = "default_per_page",
            validator(minimum(value = "1"), maximum(value = "100"))
        )]
        limit: Query<i64>,
    ) -> Result<Json<Vec<Build>>, ApiError> {
        let rows = state.store.recent_builds(limit.0).await?;
        Ok(Json(rows.into_iter().map(Build::from).collect()))
    }

    /// One build.
    #[oai(path = "/rebuilds/:id", method = "get", tag = "Tag::Rebuilds")]
    async fn build(
        &self,
        state: Data<&Arc<State>>,
        _admin: Admin,
        id: Path<i64>,
    ) -> Result<Json<Build>, ApiError> {
        state
            .store
            .build(id.0)
            .await?
            .map(|b| Json(b.into()))
            .ok_or_else(|| ApiError::not_found(format!("no build has the id {}", id.0)))
    }
}

fn first_page() -> i64 {
    1
}

fn default_per_page() -> i64 {
    50
}

#[derive(Debug, Clone, Object)]
pub struct CatalogState {
    pub wanted_version: i64,
    pub published_version: i64,
}

#[derive(ApiResponse)]
pub enum Accepted {
    #[oai(status = 202)]
    Accepted(Json<CatalogState>),
}

/// A row of `site_builds`.
#[derive(Debug, Clone, Object)]
pub struct Build {
    pub build_id: i64,
    pub started_at: DateTime<Utc>,
    #[oai(skip_serializing_if_is_none)]
    pub finished_at: Option<DateTime<Utc>>,
    /// `api`, `notify`, `tick`, `cli`, `publish`, ...
    pub trigger: String,
    #[oai(skip_serializing_if_is_none)]
    pub catalog_version: Option<i64>,
    /// `replica`, `primary` or `content`.
    #[oai(skip_serializing_if_is_none)]
    pub source: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub pages_uploaded: Option<i32>,
    #[oai(skip_serializing_if_is_none)]
    pub pages_deleted: Option<i32>,
    #[oai(skip_serializing_if_is_none)]
    pub paths_invalidated: Option<i32>,
    #[oai(skip_serializing_if_is_none)]
    pub duration_ms: Option<i64>,
    #[oai(skip_serializing_if_is_none)]
    pub error: Option<String>,
}

impl From<catalog::records::BuildRow> for Build {
    fn from(b: catalog::records::BuildRow) -> Self {
        Self {
            build_id: b.build_id,
            started_at: b.started_at,
            finished_at: b.finished_at,
            trigger: b.trigger,
            catalog_version: b.catalog_version,
            source: b.source,
            pages_uploaded: b.pages_uploaded,
            pages_deleted: b.pages_deleted,
            paths_invalidated: b.paths_invalidated,
            duration_ms: b.duration_ms,
            error: b.error,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> ProductInput {
        ProductInput {
            slug: None,
            name: "Walnut Tray".into(),
            description: String::new(),
            price: "49.90".into(),
            image_url: None,
            images: None,
            category: "Home Office".into(),
            stock_quantity: 3,
            status: None,
            compare_at_price: None,
            seo_title: None,
            seo_description: None,
            gtin: None,
            mpn: None,
            buy_url: None,
        }
    }

    #[test]
    fn an_upload_the_server_could_not_keep_answers_without_its_folder() {
        use crate::admin::image::Refused;
        let e = Refused::Spool("/secret/place/uploads: No space left on device".into());
        let api = refused_upload(e);
        let problem = api.problem();
        assert_eq!(problem.status, 503);
        assert!(!problem.detail.contains("/secret"), "{}", problem.detail);
        assert!(
            problem.detail.contains("the server's log"),
            "{}",
            problem.detail
        );
    }

    #[test]
    fn every_bad_field_is_named() {
        let bad = ProductInput {
            name: "x".repeat(300),
            price: "-1".into(),
            image_url: Some("javascript:alert(1)".into()),
            stock_quantity: -2,
            ..input()
        };
        let errors = validate(&bad).unwrap_err();
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["name", "price", "image_url", "stock_quantity"]);
        assert!(validate(&input()).is_ok());
    }

    #[test]
    fn every_bad_merchandising_field_is_named() {
        let bad = ProductInput {
            compare_at_price: Some("49.90".into()),
            seo_title: Some("x".repeat(71)),
            seo_description: Some("y".repeat(161)),
            gtin: Some("4006381333932".into()),
            mpn: Some("a\u{7}b".into()),
            buy_url: Some("http://pay.example.com/tray".into()),
            ..input()
        };
        let errors = validate(&bad).unwrap_err();
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "compare_at_price",
                "seo_title",
                "seo_description",
                "gtin",
                "mpn",
                "buy_url"
            ]
        );
        let errors = validate_with_status(&input(), Some("live")).unwrap_err();
        assert_eq!(errors[0].field, "status");
        assert!(errors[0].message.contains("draft"), "{}", errors[0].message);

        let good = ProductInput {
            status: Some(ProductStatus::Draft),
            compare_at_price: Some("59.90".into()),
            seo_title: Some("  ".into()),
            gtin: Some("4006381333931".into()),
            buy_url: Some("https://pay.example.com/tray".into()),
            ..input()
        };
        let m = validate(&good).unwrap().merchandising;
        assert_eq!(m.status, Status::Draft);
        assert_eq!(m.compare_at_price.unwrap().to_string(), "59.90");
        assert_eq!(m.seo_title, None, "blank is none");
        assert_eq!(
            validate(&input()).unwrap().merchandising.status,
            Status::Active,
            "active when not given"
        );
    }

    #[test]
    fn if_match_names_a_version() {
        assert_eq!(expected_version(Some("\"7\""), true).unwrap(), Some(7));
        assert!(matches!(
            expected_version(None, true),
            Err(ApiError::PreconditionRequired(_))
        ));
        assert_eq!(expected_version(None, false).unwrap(), None);
        assert!(matches!(
            expected_version(Some("7"), true),
            Err(ApiError::PreconditionFailed(_))
        ));
    }
}
