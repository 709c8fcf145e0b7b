//! Integration tests for the generator: one binary, one module per capability.
//! The PostgreSQL and S3 tests need the binary's `postgres` and `s3`
//! features; the test command builds with `--all-features`, and
//! `features::default_build_has_no_database_or_aws` checks what the default
//! build leaves out.

mod common;

mod cli;
#[cfg(feature = "postgres")]
mod db;
mod features;
mod merchant;
mod photos;
#[cfg(all(feature = "postgres", feature = "s3"))]
mod proxy;
#[cfg(all(feature = "postgres", feature = "s3"))]
mod publish;
#[cfg(feature = "postgres")]
mod replica;
mod serve;
mod site_set;
mod snapshots;
#[cfg(feature = "postgres")]
mod tls;
mod xss;
