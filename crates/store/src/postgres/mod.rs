//! PostgreSQL-only fast paths: what a server database does its own way, because parsing
//! literal rows as SQL was the loan phase's bottleneck there.

pub(crate) mod arrays;
pub(crate) mod outbox;
