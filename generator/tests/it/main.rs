//! Integration tests for the generator: one binary, one module per capability.

mod common;

mod cli;
mod db;
mod proxy;
mod publish;
mod replica;
mod serve;
mod site_set;
mod snapshots;
mod xss;
