//! The `generator` binary: build, serve and publish the storefront. The work
//! is done by the workspace's library crates; this is the command line over
//! them (`cli`) and the dev server (`serve`).

use std::process::ExitCode;

mod cli;
mod serve;

fn main() -> ExitCode {
    match cli::run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
