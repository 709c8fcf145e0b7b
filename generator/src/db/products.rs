//! The write API's product SQL: list with filters, get, create, update with a
//! version check, delete. Values arrive validated (see `catalog::types`).

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use tokio_postgres::Client;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;

use super::{DbError, Target};
use crate::catalog::types::{CategoryName, ImageUrl, Price, ProductName, Slug, StockQuantity};

/// A product row as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub product_id: i64,
    pub slug: String,
    pub name: String,
    pub description: String,
    pub price: Decimal,
    pub image_url: Option<String>,
    pub category: Option<String>,
    pub stock_quantity: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
}

/// The fields a write sets, every one already valid.
#[derive(Debug, Clone)]
pub struct Fields {
    pub slug: Slug,
    pub name: ProductName,
    pub description: String,
    pub price: Price,
    pub image_url: Option<ImageUrl>,
    pub category: CategoryName,
    pub stock_quantity: StockQuantity,
}

/// The written columns as SQL values, in the order the write statements
/// bind them: slug, name, description, price, image_url, category,
/// stock_quantity.
struct Bind<'a> {
    slug: &'a str,
    name: &'a str,
    description: &'a str,
    price: Decimal,
    image_url: Option<&'a str>,
    category: &'a str,
    stock_quantity: i32,
}

impl<'a> Bind<'a> {
    fn of(f: &'a Fields) -> Self {
        Self {
            slug: f.slug.as_str(),
            name: f.name.as_str(),
            description: &f.description,
            price: f.price.amount(),
            image_url: f.image_url.as_ref().map(|u| u.as_str()),
            category: f.category.as_str(),
            stock_quantity: f.stock_quantity.get(),
        }
    }

    fn params(&self) -> [&(dyn ToSql + Sync); 7] {
        [
            &self.slug,
            &self.name,
            &self.description,
            &self.price,
            &self.image_url,
            &self.category,
            &self.stock_quantity,
        ]
    }
}

/// Which products to list.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub category: Option<String>,
    pub in_stock: Option<bool>,
    /// Matched against the name and the slug, case-insensitively.
    pub text: Option<String>,
    pub limit: i64,
    pub offset: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("no product has the id {0}")]
    NotFound(i64),
    #[error(
        "product {id} is at version {current}, not {expected}; reload it and apply the change again"
    )]
    Stale {
        id: i64,
        expected: i64,
        current: i64,
    },
    #[error("another product already has the slug {0:?}")]
    DuplicateSlug(String),
    #[error(transparent)]
    Db(#[from] DbError),
}

const COLUMNS: &str = "product_id, slug, name, description, price, image_url, category, stock_quantity, created_at, updated_at, version";

fn record(row: &tokio_postgres::Row) -> Record {
    Record {
        product_id: row.get(0),
        slug: row.get(1),
        name: row.get(2),
        description: row.get(3),
        price: row.get(4),
        image_url: row.get(5),
        category: row.get(6),
        stock_quantity: row.get(7),
        created_at: row.get(8),
        updated_at: row.get(9),
        version: row.get(10),
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

/// One page of the products that match, by name then id, and how many match.
pub async fn list(
    client: &Client,
    target: &Target,
    filter: &Filter,
) -> Result<(Vec<Record>, i64), DbError> {
    let pattern = filter.text.as_deref().map(like_pattern);
    let rows = client
        .query(
            &format!(
                "SELECT {COLUMNS}, count(*) OVER () FROM products
                 WHERE ($1::text IS NULL OR category = $1)
                   AND ($2::bool IS NULL OR (stock_quantity > 0) = $2)
                   AND ($3::text IS NULL OR name ILIKE $3 OR slug ILIKE $3)
                 ORDER BY name, product_id LIMIT $4 OFFSET $5"
            ),
            &[
                &filter.category,
                &filter.in_stock,
                &pattern,
                &filter.limit,
                &filter.offset,
            ],
        )
        .await
        .map_err(target.query_error("listing products"))?;
    let total = match rows.first() {
        Some(row) => row.get(11),
        None => client
            .query_one(
                "SELECT count(*) FROM products
                 WHERE ($1::text IS NULL OR category = $1)
                   AND ($2::bool IS NULL OR (stock_quantity > 0) = $2)
                   AND ($3::text IS NULL OR name ILIKE $3 OR slug ILIKE $3)",
                &[&filter.category, &filter.in_stock, &pattern],
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
            WriteError::DuplicateSlug(slug.as_str().to_owned())
        } else {
            WriteError::Db(target.query_error(operation)(e))
        }
    }
}

pub async fn create(client: &Client, target: &Target, f: &Fields) -> Result<Record, WriteError> {
    let row = client
        .query_one(
            &format!(
                "INSERT INTO products (slug, name, description, price, image_url, category, stock_quantity)
                 VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {COLUMNS}"
            ),
            &Bind::of(f).params(),
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
    id: i64,
    expected: i64,
    f: &Fields,
) -> Result<Record, WriteError> {
    let row = client
        .query_opt(
            &format!(
                "UPDATE products SET slug = $3, name = $4, description = $5, price = $6, image_url = $7,
                        category = $8, stock_quantity = $9
                 WHERE product_id = $1 AND version = $2 RETURNING {COLUMNS}"
            ),
            &[&[&id as &(dyn ToSql + Sync), &expected][..], &Bind::of(f).params()].concat(),
        )
        .await
        .map_err(write_error(target, "updating a product", &f.slug))?;
    if let Some(row) = row {
        return Ok(record(&row));
    }
    match get(client, target, id).await? {
        None => Err(WriteError::NotFound(id)),
        Some(current) if current.version == expected => Ok(current), // a no-op update
        Some(current) => Err(WriteError::Stale {
            id,
            expected,
            current: current.version,
        }),
    }
}

/// Deletes a product; with `expected`, only if it is still at that version.
pub async fn delete(
    client: &Client,
    target: &Target,
    id: i64,
    expected: Option<i64>,
) -> Result<(), WriteError> {
    let deleted = client
        .execute(
            "DELETE FROM products WHERE product_id = $1 AND ($2::bigint IS NULL OR version = $2)",
            &[&id, &expected],
        )
        .await
        .map_err(target.query_error("deleting a product"))?;
    if deleted == 1 {
        return Ok(());
    }
    match (get(client, target, id).await?, expected) {
        (Some(current), Some(expected)) => Err(WriteError::Stale {
            id,
            expected,
            current: current.version,
        }),
        _ => Err(WriteError::NotFound(id)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_patterns_match_the_text_literally() {
        assert_eq!(like_pattern("50%_off\\"), "%50\\%\\_off\\\\%");
    }
}
