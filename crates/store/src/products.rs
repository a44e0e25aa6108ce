//! Products' collection rules: arrears tolerance, bucket scheme, five-class thresholds.

use crate::{Db, StoreError, Tx, on_pool, on_tx};

/// A product's stored rules; `None` fields mean the defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductRules {
    /// Product code.
    pub product: String,
    /// Tolerance in minor units.
    pub tolerance_minor: i64,
    /// Bucket scheme as written (`BucketScheme::spec`).
    pub buckets: Option<String>,
    /// Five-class thresholds as written (`ClassThresholds::spec`).
    pub five_class: Option<String>,
    /// Contact-policy pack id; `None` picks by the borrower's time zone.
    pub contact_pack: Option<String>,
    /// Months a restructuring's five-class floor holds; `None`: the default (12).
    pub observation_months: Option<i64>,
    /// Days an arrangement instalment may be late before it breaks; `None`: the default.
    pub arrangement_grace_days: Option<i64>,
    /// The longest extension or instalment plan in months; `None`: the default.
    pub max_arrangement_months: Option<i64>,
}

type ProductTuple =
    (String, i64, Option<String>, Option<String>, Option<String>, Option<i64>, Option<i64>, Option<i64>);

fn product_row(r: ProductTuple) -> ProductRules {
    ProductRules {
        product: r.0,
        tolerance_minor: r.1,
        buckets: r.2,
        five_class: r.3,
        contact_pack: r.4,
        observation_months: r.5,
        arrangement_grace_days: r.6,
        max_arrangement_months: r.7,
    }
}

/// Every product, by code.
pub async fn list(db: &Db) -> Result<Vec<ProductRules>, StoreError> {
    type Row = ProductTuple;
    let rows: Vec<Row> = on_pool!(db, pool => {
        sqlx::query_as(
            "SELECT product, tolerance_minor, buckets, five_class, contact_pack, observation_months, arrangement_grace_days, \
             max_arrangement_months FROM products ORDER BY product",
        )
            .fetch_all(pool)
            .await?
    });
    Ok(rows.into_iter().map(product_row).collect())
}

/// One product's rules, `None` if there is no such product.
pub async fn get_tx(tx: &mut Tx, product: &str) -> Result<Option<ProductRules>, StoreError> {
    type Row = ProductTuple;
    let row: Option<Row> = on_tx!(tx, conn => {
        sqlx::query_as(
            "SELECT product, tolerance_minor, buckets, five_class, contact_pack, observation_months, arrangement_grace_days, \
             max_arrangement_months FROM products WHERE product = $1",
        )
        .bind(product)
        .fetch_optional(conn)
        .await?
    });
    Ok(row.map(product_row))
}

/// Creates or replaces a product's rules (already validated by the caller), in the caller's
/// transaction so that its audit entry commits with it.
pub async fn put_tx(tx: &mut Tx, p: &ProductRules) -> Result<(), StoreError> {
    on_tx!(tx, pool => {
        sqlx::query(
            "INSERT INTO products (product, tolerance_minor, buckets, five_class, contact_pack, observation_months, \
             arrangement_grace_days, max_arrangement_months) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (product) DO UPDATE SET tolerance_minor = excluded.tolerance_minor, \
             buckets = excluded.buckets, five_class = excluded.five_class, contact_pack = excluded.contact_pack, \
             observation_months = excluded.observation_months, arrangement_grace_days = excluded.arrangement_grace_days, \
             max_arrangement_months = excluded.max_arrangement_months",
        )
        .bind(&p.product)
        .bind(p.tolerance_minor)
        .bind(p.buckets.as_deref())
        .bind(p.five_class.as_deref())
        .bind(p.contact_pack.as_deref())
        .bind(p.observation_months)
        .bind(p.arrangement_grace_days)
        .bind(p.max_arrangement_months)
        .execute(pool)
        .await?;
    });
    Ok(())
}

/// Makes sure every product named by this import's loans has a row (default tolerance 0).
pub async fn ensure_for_import(tx: &mut Tx, import_id: i64) -> Result<(), StoreError> {
    on_tx!(tx, conn => {
        sqlx::query(
            "INSERT INTO products (product) SELECT DISTINCT product FROM loans WHERE import_id = $1 \
             ON CONFLICT (product) DO NOTHING",
        )
        .bind(import_id)
        .execute(conn)
        .await?
        .rows_affected()
    });
    Ok(())
}
