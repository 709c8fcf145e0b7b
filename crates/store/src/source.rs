//! The catalog from PostgreSQL, read from the replica without ever building a
//! catalog older than the newest write (the rebuild protocol in DESIGN.md):
//!
//! 1. read the target `wanted_version` from the primary;
//! 2. wait, up to a timeout, until the replica has replayed it, then read there;
//! 3. if the replica is still behind, or down, read from the primary and say why;
//! 4. if the primary is down, read from the replica and say that freshness
//!    could not be checked;
//! 5. if both are down, fail: nothing is built.

use std::time::{Duration, Instant};

use crate::{DbError, ProductRow, Snapshot, Target, Upload};
use catalog::draft::{Amount, Draft, FieldProblem};
use catalog::{Catalog, CatalogErrors, Origin, Product, ProductId, SiteSettings};

/// Where to read and how long to wait for the replica.
#[derive(Debug, Clone)]
pub struct PgSource {
    pub primary: Option<Target>,
    pub replica: Option<Target>,
    /// How long to wait for the replica to replay the wanted version.
    pub replica_wait: Duration,
}

/// Which server the catalog was read from, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadFrom {
    /// The replica had replayed the wanted version (after waiting this long).
    Replica { waited: Duration },
    /// No replica is configured.
    PrimaryOnly,
    /// The replica was behind or down; the message says which.
    PrimaryFallback { reason: String },
    /// The primary was down, so freshness could not be checked.
    ReplicaUnchecked { reason: String },
}

#[derive(Debug, thiserror::Error)]
pub enum PgSourceError {
    #[error("no database is configured; set DATABASE_URL (and DATABASE_REPLICA_URL)")]
    NotConfigured,
    #[error("cannot read the catalog from either server: {primary}; and {replica}")]
    BothDown { primary: String, replica: String },
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("the database holds products the storefront cannot render:\n  {}", .0.join("\n  "))]
    BadRows(Vec<String>),
    #[error("the database catalog has problems:\n{0}")]
    Catalog(CatalogErrors),
    #[error(
        "the uploaded images {} are not in product_images on {server}; upload them again",
        .missing.join(", ")
    )]
    MissingUploads {
        missing: Vec<String>,
        server: String,
    },
}

/// A catalog read from PostgreSQL.
#[derive(Debug)]
pub struct Loaded {
    pub catalog: Catalog,
    /// The uploaded images products show, published (as their variants)
    /// under `images/<sha256>.<extension>`; without their bytes, which
    /// [`fetch_images`] reads for those a build must encode.
    pub uploads: Vec<Upload>,
    /// `catalog_state.wanted_version` in the snapshot that was read.
    pub version: i64,
    pub from: ReadFrom,
}

/// Reads the catalog by the protocol above and validates every row.
pub async fn load(source: &PgSource, settings: SiteSettings) -> Result<Loaded, PgSourceError> {
    let (snapshot, from) = read(source).await?;
    match &from {
        ReadFrom::Replica { waited } => {
            tracing::info!(
                version = snapshot.version,
                waited_ms = waited.as_millis() as u64,
                "read the catalog from the replica"
            )
        }
        ReadFrom::PrimaryOnly => tracing::info!(
            version = snapshot.version,
            "read the catalog from the primary (no replica configured)"
        ),
        ReadFrom::PrimaryFallback { reason } => {
            tracing::warn!("{reason}; read the catalog from the primary instead")
        }
        ReadFrom::ReplicaUnchecked { reason } => {
            tracing::warn!(
                "{reason}; read the catalog from the replica, whose freshness could not be checked"
            )
        }
    }
    let catalog = to_catalog(settings, snapshot.rows)?;
    Ok(Loaded {
        catalog,
        uploads: snapshot.images,
        version: snapshot.version,
        from,
    })
}

/// The bytes of the uploads with these digests (those whose variants the
/// image cache lacks), by digest, read from the server the catalog was read
/// from (uploads never change, so the other one will do if it is down).
pub async fn fetch_images(
    source: &PgSource,
    from: &ReadFrom,
    sha256: &[String],
) -> Result<std::collections::BTreeMap<String, Vec<u8>>, PgSourceError> {
    if sha256.is_empty() {
        return Ok(Default::default());
    }
    let read_on_replica = matches!(
        from,
        ReadFrom::Replica { .. } | ReadFrom::ReplicaUnchecked { .. }
    );
    let servers = if read_on_replica {
        [&source.replica, &source.primary]
    } else {
        [&source.primary, &source.replica]
    };
    let mut servers = servers.into_iter().flatten();
    let first = servers.next().ok_or(PgSourceError::NotConfigured)?;
    let (target, client) = match first.connect().await {
        Ok(client) => (first, client),
        Err(e) => match servers.next() {
            Some(other) => {
                tracing::warn!(
                    "{e}; reading the uploaded images from {} instead",
                    other.server()
                );
                (other, other.connect().await?)
            }
            None => return Err(e.into()),
        },
    };
    let bytes = crate::image_bytes(&client, target, sha256).await?;
    let missing: Vec<String> = sha256
        .iter()
        .filter(|d| !bytes.contains_key(*d))
        .cloned()
        .collect();
    if missing.is_empty() {
        Ok(bytes)
    } else {
        Err(PgSourceError::MissingUploads {
            missing,
            server: target.server(),
        })
    }
}

async fn read(source: &PgSource) -> Result<(Snapshot, ReadFrom), PgSourceError> {
    let (primary, replica) = match (&source.primary, &source.replica) {
        (None, None) => return Err(PgSourceError::NotConfigured),
        (Some(p), None) => {
            let mut client = p.connect().await?;
            return Ok((
                crate::read_snapshot(&mut client, p).await?,
                ReadFrom::PrimaryOnly,
            ));
        }
        (None, Some(r)) => {
            let mut client = r.connect().await?;
            let reason = "no primary is configured".to_owned();
            return Ok((
                crate::read_snapshot(&mut client, r).await?,
                ReadFrom::ReplicaUnchecked { reason },
            ));
        }
        (Some(p), Some(r)) => (p, r),
    };

    // 1. The version the build must reach.
    let mut primary_client = match primary.connect().await {
        Ok(c) => c,
        Err(primary_error) => {
            let mut client =
                replica
                    .connect()
                    .await
                    .map_err(|replica_error| PgSourceError::BothDown {
                        primary: primary_error.to_string(),
                        replica: replica_error.to_string(),
                    })?;
            let reason = format!("{primary_error}");
            return Ok((
                crate::read_snapshot(&mut client, replica).await?,
                ReadFrom::ReplicaUnchecked { reason },
            ));
        }
    };
    let target = crate::wanted_version(&primary_client, primary).await?;

    // 2. Wait for the replica to replay it.
    let started = Instant::now();
    let reason = match replica.connect().await {
        Err(e) => format!("{e}"),
        Ok(mut client) => loop {
            match crate::wanted_version(&client, replica).await {
                Ok(v) if v >= target => {
                    let snapshot = crate::read_snapshot(&mut client, replica).await?;
                    if snapshot.version >= target {
                        return Ok((
                            snapshot,
                            ReadFrom::Replica {
                                waited: started.elapsed(),
                            },
                        ));
                    }
                }
                Ok(v) if started.elapsed() >= source.replica_wait => {
                    break format!(
                        "the replica at {} has replayed catalog version {v} but the primary wants {target}, after waiting {} ms",
                        replica.server(),
                        started.elapsed().as_millis()
                    );
                }
                Ok(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                // A replica that has not replayed the schema yet is behind too.
                Err(e) if started.elapsed() >= source.replica_wait => break format!("{e}"),
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        },
    };
    // 3. Fall back to the primary.
    let snapshot = crate::read_snapshot(&mut primary_client, primary).await?;
    Ok((snapshot, ReadFrom::PrimaryFallback { reason }))
}

/// Validates rows with the same rules as the content folder; every problem
/// names its product_id.
pub fn to_catalog(settings: SiteSettings, rows: Vec<ProductRow>) -> Result<Catalog, PgSourceError> {
    let mut problems = Vec::new();
    let mut products = Vec::with_capacity(rows.len());
    for row in rows {
        match to_product(&row) {
            Ok(p) => {
                let origin = Origin::Row(p.id);
                products.push((p, origin));
            }
            Err(bad) => problems.extend(bad.into_iter().map(|p| {
                format!(
                    "product_id {}: field `{}`: {}",
                    row.product_id, p.field, p.invalid
                )
            })),
        }
    }
    if !problems.is_empty() {
        return Err(PgSourceError::BadRows(problems));
    }
    Catalog::assemble(settings, products).map_err(PgSourceError::Catalog)
}

/// A row as a product, by the catalog's rules; every problem, by field.
fn to_product(row: &ProductRow) -> Result<Product, Vec<FieldProblem>> {
    let fields = Draft {
        slug: Some(&row.slug),
        name: Some(&row.name),
        description: &row.description,
        price: Some(Amount::Exact(row.price)),
        image_url: None,
        images: Some(
            row.images
                .iter()
                .map(|i| (i.url.as_str(), i.alt.as_str()))
                .collect(),
        ),
        category: row.category.as_deref(),
        stock_quantity: Some(i64::from(row.stock_quantity)),
        status: Some(&row.status),
        compare_at_price: row.compare_at_price.map(Amount::Exact),
        seo_title: row.seo_title.as_deref(),
        seo_description: row.seo_description.as_deref(),
        gtin: row.gtin.as_deref(),
        mpn: row.mpn.as_deref(),
        buy_url: row.buy_url.as_deref(),
    }
    .validate();
    let id = ProductId::new(row.product_id).map_err(|invalid| FieldProblem {
        field: "product_id",
        invalid,
    });
    match (id, fields) {
        (Ok(id), Ok(fields)) => Ok(fields.into_product(id, row.created_at, row.updated_at)),
        (id, fields) => Err(id
            .err()
            .into_iter()
            .chain(fields.err().into_iter().flatten())
            .collect()),
    }
}
