//! Integration tests of the import and the views over it, on SQLite always and on
//! PostgreSQL when `ARREARS_TEST_PG` holds an admin URL.

mod idempotence;
mod rejections;
mod support;
mod views;
