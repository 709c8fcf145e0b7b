//! Catalog sources. Each one produces the same [`crate::catalog::Catalog`].

pub mod content;
pub mod postgres;
