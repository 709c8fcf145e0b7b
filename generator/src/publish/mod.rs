//! Publish targets: where a rendered [`crate::site::Site`] goes.

pub mod dir;
pub mod plan;
