//! What the default build compiles: `generator serve` and `build` from
//! `content/` need neither the AWS SDK nor a PostgreSQL client, so the
//! default features must not pull them in (a newcomer's first run compiles
//! what is listed here and nothing else).

use std::process::Command;

use crate::common::repo_root;

/// The packages of `cargo tree -p generator` for these feature flags, one
/// name a line, without versions.
fn normal_dependencies(flags: &[&str]) -> Vec<String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(cargo)
        .current_dir(repo_root())
        .args(["tree", "--locked", "-p", "generator", "-e", "normal"])
        .args(["--prefix", "none", "--format", "{p}"])
        .args(flags)
        .output()
        .expect("cargo runs");
    assert!(
        output.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut names: Vec<String> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_owned)
        .collect();
    names.sort();
    names.dedup();
    names
}

fn heavy(names: &[String]) -> Vec<&String> {
    names
        .iter()
        .filter(|n| {
            n.starts_with("aws-")
                || n.starts_with("tokio-postgres")
                || n.starts_with("postgres-")
                || n.starts_with("deadpool-postgres")
                || n.starts_with("refinery")
        })
        .collect()
}

#[test]
fn default_build_has_no_database_or_aws() {
    let names = normal_dependencies(&["--no-default-features"]);
    assert!(names.iter().any(|n| n == "render"), "{names:?}");
    assert_eq!(heavy(&names), Vec::<&String>::new());
    // The default features are the same build.
    assert_eq!(normal_dependencies(&[]), names);
}

#[test]
fn full_build_has_both() {
    let names = normal_dependencies(&["--features", "full"]);
    for wanted in ["aws-sdk-s3", "aws-sdk-cloudfront", "tokio-postgres"] {
        assert!(
            names.iter().any(|n| n == wanted),
            "no {wanted} in {names:?}"
        );
    }
}

/// The PostgreSQL and S3 tests are compiled only with those features; a run
/// without them fails here rather than pass having skipped them.
#[cfg(not(all(feature = "postgres", feature = "s3")))]
#[test]
fn the_database_and_s3_tests_are_compiled_in() {
    panic!(
        "the PostgreSQL and S3 integration tests need the postgres and s3 features; run `cargo test --all-features` (as ./scripts/test.sh does)"
    );
}
