//! The write API's product SQL: list with filters, get, create, update with a
//! version check, delete. Values arrive validated (see `catalog::types`).

use rust_decimal::Decimal;
use tokio_postgres::Client;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;

use super::{DbError, Target};
use catalog::Slug;
use catalog::records::{AuditRow, Fields, Filter, ImportPlan, Record, Sort, WriteRefused};

/// The written columns as SQL values, in the order the write statements
/// bind them: [`WRITTEN`], with images as JSON text, cast to `jsonb` by the
/// statement.
struct Bind<'a> {
    slug: &'a str,
    name: &'a str,
    description: &'a str,
    price: Decimal,
    image_url: Option<&'a str>,
    category: &'a str,
    stock_quantity: i32,
    images: String,
    status: &'static str,
    compare_at_price: Option<Decimal>,
    seo_title: Option<&'a str>,
    seo_description: Option<&'a str>,
    gtin: Option<&'a str>,
    mpn: Option<&'a str>,
    buy_url: Option<&'a str>,
}

/// The columns a write sets, in [`Bind::params`]'s order.
const WRITTEN: [&str; 15] = [
    "slug",
    "name",
    "description",
    "price",
    "image_url",
    "category",
    "stock_quantity",
    "images",
    "status",
    "compare_at_price",
    "seo_title",
    "seo_description",
    "gtin",
    "mpn",
    "buy_url",
];

/// Each written column's type, for the casts of `INSERT … SELECT $n::type`.
fn cast(column: &str) -> &'static str {
    match column {
        "price" | "compare_at_price" => "numeric",
        "stock_quantity" => "int",
        "images" => "text::jsonb",
        "description" | "status" => "text",
        _ => "varchar",
    }
}

/// `$from::type, …` for every written column.
fn values(from: usize) -> String {
    WRITTEN
        .iter()
        .enumerate()
        .map(|(i, c)| format!("${}::{}", from + i, cast(c)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `column = $from::type, …` for every written column.
fn assignments(from: usize) -> String {
    WRITTEN
        .iter()
        .enumerate()
        .map(|(i, c)| format!("{c} = ${}::{}", from + i, cast(c)))
        .collect::<Vec<_>>()
        .join(", ")
}

impl<'a> Bind<'a> {
    fn of(f: &'a Fields) -> Self {
        Self {
            slug: f.slug.as_str(),
            name: f.name.as_str(),
            description: &f.description,
            price: f.price.amount(),
            image_url: f.images.first().map(|i| i.url.as_str()),
            category: f.category.as_str(),
            stock_quantity: f.stock_quantity.get(),
            images: super::images_json(&f.images),
            status: f.merchandising.status.as_str(),
            compare_at_price: f.merchandising.compare_at_price.map(|p| p.amount()),
            seo_title: f.merchandising.seo_title.as_deref(),
            seo_description: f.merchandising.seo_description.as_deref(),
            gtin: f.merchandising.gtin.as_ref().map(catalog::Gtin::as_str),
            mpn: f.merchandising.mpn.as_deref(),
            buy_url: f
                .merchandising
                .buy_url
                .as_ref()
                .map(catalog::BuyUrl::as_str),
        }
    }

    fn params(&self) -> [&(dyn ToSql + Sync); 15] {
        [
            &self.slug,
            &self.name,
            &self.description,
            &self.price,
            &self.image_url,
            &self.category,
            &self.stock_quantity,
            &self.images,
            &self.status,
            &self.compare_at_price,
            &self.seo_title,
            &self.seo_description,
            &self.gtin,
            &self.mpn,
            &self.buy_url,
        ]
    }
}

/// A list's `ORDER BY`; ties go by name, then id.
fn order_by(sort: Sort) -> &'static str {
    match sort {
        Sort::Name => "name, product_id",
        Sort::PriceUp => "price, name, product_id",
        Sort::PriceDown => "price DESC, name, product_id",
        Sort::Updated => "updated_at DESC, name, product_id",
    }
}

/// Why a write failed: the catalog's rules refused it, or the database did
/// not answer.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error(transparent)]
    Refused(#[from] WriteRefused),
    #[error(transparent)]
    Db(#[from] DbError),
}

const COLUMNS: &str = "product_id, slug, name, description, price, image_url, category, stock_quantity, created_at, updated_at, version, images::text, status, compare_at_price, seo_title, seo_description, gtin, mpn, buy_url";

/// The column after [`COLUMNS`] (a list's `count(*) OVER ()`).
const AFTER_COLUMNS: usize = 19;

fn record(row: &tokio_postgres::Row) -> Record {
    Record {
        product_id: row.get(0),
        slug: row.get(1),
        name: row.get(2),
        description: row.get(3),
        price: row.get(4),
        images: super::images_of(row.get(5), row.get(11)),
        category: row.get(6),
        stock_quantity: row.get(7),
        created_at: row.get(8),
        updated_at: row.get(9),
        version: row.get(10),
        // The column's CHECK allows only the three; anything else stays
        // off the storefront.
        status: catalog::Status::parse(row.get(12)).unwrap_or(catalog::Status::Draft),
        compare_at_price: row.get(13),
        seo_title: row.get(14),
        seo_description: row.get(15),
        gtin: row.get(16),
        mpn: row.get(17),
        buy_url: row.get(18),
    }
}

/// `%`, `_` and `\` match themselves in a LIKE pattern.
fn like_pattern(text: &str) -> String {
    let mut out = String::from("%");
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

/// A list's filter: category, in stock, text, status.
const MATCHES: &str = "($1::text IS NULL OR category = $1)
                   AND ($2::bool IS NULL OR (stock_quantity > 0) = $2)
                   AND ($3::text IS NULL OR name ILIKE $3 OR slug ILIKE $3)
                   AND ($4::text IS NULL OR status = $4)";

/// One page of the products that match, by name then id, and how many match.
pub async fn list(
    client: &Client,
    target: &Target,
    filter: &Filter,
) -> Result<(Vec<Record>, i64), DbError> {
    let pattern = filter.text.as_deref().map(like_pattern);
    let status = filter.status.map(catalog::Status::as_str);
    let rows = client
        .query(
            &format!(
                "SELECT {COLUMNS}, count(*) OVER () FROM products
                 WHERE {MATCHES}
                 ORDER BY {} LIMIT $5 OFFSET $6",
                order_by(filter.sort)
            ),
            &[
                &filter.category,
                &filter.in_stock,
                &pattern,
                &status,
                &filter.limit,
                &filter.offset,
            ],
        )
        .await
        .map_err(target.query_error("listing products"))?;
    let total = match rows.first() {
        Some(row) => row.get(AFTER_COLUMNS),
        None => client
            .query_one(
                &format!("SELECT count(*) FROM products WHERE {MATCHES}"),
                &[&filter.category, &filter.in_stock, &pattern, &status],
            )
            .await
            .map_err(target.query_error("counting products"))?
            .get(0),
    };
    Ok((rows.iter().map(record).collect(), total))
}

pub async fn get(client: &Client, target: &Target, id: i64) -> Result<Option<Record>, DbError> {
    let row = client
        .query_opt(
            &format!("SELECT {COLUMNS} FROM products WHERE product_id = $1"),
            &[&id],
        )
        .await
        .map_err(target.query_error("reading a product"))?;
    Ok(row.as_ref().map(record))
}

fn write_error(
    target: &Target,
    operation: &'static str,
    slug: &Slug,
) -> impl FnOnce(tokio_postgres::Error) -> WriteError {
    move |e| {
        if e.code() == Some(&SqlState::UNIQUE_VIOLATION) {
            WriteRefused::DuplicateSlug(slug.as_str().to_owned()).into()
        } else {
            WriteError::Db(target.query_error(operation)(e))
        }
    }
}

/// Names who writes, for the audit log (see the V4 migration), in the
/// statement that writes.
const ACTOR: &str = "(SELECT set_config('shopfront.actor', $actor::text, true)) AS actor";

/// `actor` is who asked, for the audit log.
pub async fn create(
    client: &Client,
    target: &Target,
    actor: &str,
    f: &Fields,
) -> Result<Record, WriteError> {
    let row = client
        .query_one(
            &format!(
                "INSERT INTO products ({}) SELECT {} FROM {} RETURNING {COLUMNS}",
                WRITTEN.join(", "),
                values(1),
                ACTOR.replace("$actor", &format!("${}", WRITTEN.len() + 1))
            ),
            &[&Bind::of(f).params()[..], &[&actor]].concat(),
        )
        .await
        .map_err(write_error(target, "creating a product", &f.slug))?;
    Ok(record(&row))
}

/// Replaces a product's fields if it is still at `expected` version. An update
/// that changes nothing keeps the version (the schema skips it).
pub async fn update(
    client: &Client,
    target: &Target,
    actor: &str,
    id: i64,
    expected: i64,
    f: &Fields,
) -> Result<Record, WriteError> {
    let row = client
        .query_opt(
            &format!(
                "UPDATE products SET {} FROM {}
                 WHERE product_id = $1 AND version = $2 RETURNING {COLUMNS}",
                assignments(3),
                ACTOR.replace("$actor", &format!("${}", WRITTEN.len() + 3))
            ),
            &[
                &[&id as &(dyn ToSql + Sync), &expected][..],
                &Bind::of(f).params(),
                &[&actor],
            ]
            .concat(),
        )
        .await
        .map_err(write_error(target, "updating a product", &f.slug))?;
    if let Some(row) = row {
        return Ok(record(&row));
    }
    match get(client, target, id).await? {
        None => Err(WriteRefused::NotFound(id).into()),
        Some(current) if current.version == expected => Ok(current), // a no-op update
        Some(current) => Err(WriteRefused::Stale {
            id,
            expected,
            current: current.version,
        }
        .into()),
    }
}

/// Deletes a product; with `expected`, only if it is still at that version.
pub async fn delete(
    client: &Client,
    target: &Target,
    actor: &str,
    id: i64,
    expected: Option<i64>,
) -> Result<(), WriteError> {
    let deleted = client
        .execute(
            &format!(
                "DELETE FROM products USING {}
                 WHERE product_id = $1 AND ($2::bigint IS NULL OR version = $2)",
                ACTOR.replace("$actor", "$3")
            ),
            &[&id, &expected, &actor],
        )
        .await
        .map_err(target.query_error("deleting a product"))?;
    if deleted == 1 {
        return Ok(());
    }
    match (get(client, target, id).await?, expected) {
        (Some(current), Some(expected)) => Err(WriteRefused::Stale {
            id,
            expected,
            current: current.version,
        }
        .into()),
        _ => Err(WriteRefused::NotFound(id).into()),
    }
}

/// Applies an import in one transaction: all of it, or (on any conflict,
/// such as a product changed since the preview) none of it.
pub async fn apply_import(
    client: &mut Client,
    target: &Target,
    actor: &str,
    plan: &ImportPlan,
) -> Result<(), WriteError> {
    let tx = client
        .transaction()
        .await
        .map_err(target.query_error("starting the import"))?;
    tx.execute("SELECT set_config('shopfront.actor', $1, true)", &[&actor])
        .await
        .map_err(target.query_error("starting the import"))?;
    for f in &plan.creates {
        tx.execute(
            &format!(
                "INSERT INTO products ({}) VALUES ({})",
                WRITTEN.join(", "),
                values(1)
            ),
            &Bind::of(f).params(),
        )
        .await
        .map_err(write_error(target, "importing a product", &f.slug))?;
    }
    for (id, expected, f) in &plan.updates {
        let n = tx
            .execute(
                &format!(
                    "UPDATE products SET {} WHERE product_id = $1 AND version = $2",
                    assignments(3)
                ),
                &[
                    &[id as &(dyn ToSql + Sync), expected][..],
                    &Bind::of(f).params(),
                ]
                .concat(),
            )
            .await
            .map_err(write_error(target, "importing a product", &f.slug))?;
        if n == 0 {
            let current: Option<i64> = tx
                .query_opt("SELECT version FROM products WHERE product_id = $1", &[id])
                .await
                .map_err(target.query_error("importing a product"))?
                .map(|r| r.get(0));
            match current {
                // A no-op update leaves the version where it was.
                Some(c) if c == *expected => {}
                Some(current) => {
                    return Err(WriteRefused::Stale {
                        id: *id,
                        expected: *expected,
                        current,
                    }
                    .into());
                }
                None => return Err(WriteRefused::NotFound(*id).into()),
            }
        }
    }
    tx.commit()
        .await
        .map_err(target.query_error("committing the import"))?;
    Ok(())
}

/// A product's changes, newest first.
pub async fn history(
    client: &Client,
    target: &Target,
    product_id: i64,
    limit: i64,
) -> Result<Vec<AuditRow>, DbError> {
    let rows = client
        .query(
            "SELECT at, actor, product_id, action, changes::text FROM audit_log
             WHERE product_id = $1 ORDER BY audit_id DESC LIMIT $2",
            &[&product_id, &limit],
        )
        .await
        .map_err(target.query_error("reading the audit log"))?;
    Ok(rows
        .iter()
        .map(|r| AuditRow {
            at: r.get(0),
            actor: r.get(1),
            product_id: r.get(2),
            action: r.get(3),
            changes: serde_json::from_str(r.get::<_, &str>(4)).unwrap_or_default(),
        })
        .collect())
}

/// Stores an uploaded image under its digest (once).
pub async fn put_image(
    client: &Client,
    target: &Target,
    sha256: &str,
    extension: &str,
    bytes: &[u8],
) -> Result<(), DbError> {
    client
        .execute(
            "INSERT INTO product_images (sha256, extension, bytes) VALUES ($1, $2, $3)
             ON CONFLICT (sha256) DO NOTHING",
            &[&sha256, &extension, &bytes],
        )
        .await
        .map_err(target.query_error("storing an image"))?;
    Ok(())
}

/// An uploaded image's bytes by its file name, `<sha256>.<extension>`.
pub async fn image(
    client: &Client,
    target: &Target,
    file: &str,
) -> Result<Option<Vec<u8>>, DbError> {
    let Some((sha256, extension)) = file.split_once('.') else {
        return Ok(None);
    };
    let row = client
        .query_opt(
            "SELECT bytes FROM product_images WHERE sha256 = $1 AND extension = $2",
            &[&sha256, &extension],
        )
        .await
        .map_err(target.query_error("reading an image"))?;
    Ok(row.map(|r| r.get(0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_written_columns_are_bound_in_order() {
        assert_eq!(values(1).matches('$').count(), WRITTEN.len());
        assert!(values(1).starts_with("$1::varchar, $2::varchar, $3::text, $4::numeric"));
        assert!(assignments(3).starts_with("slug = $3::varchar"));
        assert!(assignments(3).ends_with("buy_url = $17::varchar"));
        assert_eq!(COLUMNS.split(", ").count(), AFTER_COLUMNS);
    }

    #[test]
    fn like_patterns_match_the_text_literally() {
        assert_eq!(like_pattern("50%_off\\"), "%50\\%\\_off\\\\%");
    }
}
