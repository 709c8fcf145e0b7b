//! `generator publish` against the local S3 + CloudFront stand-in (moto),
//! through a fault-injecting proxy that also logs every request in order.
//! Each test has a bucket and a distribution of its own.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Output;

use pipeline::{BuildConfig, build_from_content};
use publish::plan::sha256_hex;
use publish::s3::{self, AwsSettings, Clients};
use render::site::Site;
use serde_json::Value;

use crate::common::{FreshDb, FreshDbExt, generator_cmd, repo_root};
use crate::proxy::{Fault, Proxy, Rule};

fn moto_endpoint() -> String {
    std::env::var("AWS_ENDPOINT_URL").unwrap_or_else(|_| {
        panic!(
            "AWS_ENDPOINT_URL is not set. Run ./scripts/test.sh, or start the local S3 + CloudFront \
             stand-in first: eval \"$(infra/local/moto.sh start)\""
        )
    })
}

/// One object as the bucket holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Held {
    content_type: String,
    cache_control: String,
    sha256_meta: String,
    sha256: String,
}

/// A bucket and distribution of the test's own, a copy of the shop's content
/// and themes to edit, and a proxy in front of moto.
struct Stack {
    rt: tokio::runtime::Runtime,
    clients: Clients,
    bucket: String,
    distribution: String,
    dir: tempfile::TempDir,
    proxy: Proxy,
}

fn copy_tree(from: &Path, to: &Path) {
    for entry in walkdir::WalkDir::new(from) {
        let entry = entry.unwrap();
        let dest = to.join(entry.path().strip_prefix(from).unwrap());
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&dest).unwrap();
        } else {
            std::fs::copy(entry.path(), &dest).unwrap();
        }
    }
}

impl Stack {
    fn new(name: &str) -> Self {
        use aws_sdk_cloudfront::types::{
            CookiePreference, DefaultCacheBehavior, DistributionConfig, ForwardedValues,
            ItemSelection, Origin, Origins, S3OriginConfig, TrustedSigners, ViewerProtocolPolicy,
        };
        let endpoint = moto_endpoint();
        let rt = pipeline::settings::runtime().unwrap();
        let clients = rt
            .block_on(s3::clients(&AwsSettings {
                region: Some("us-east-1".into()),
                endpoint_url: Some(endpoint.clone()),
            }))
            .unwrap();
        let bucket = format!(
            "t-{name}-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .subsec_nanos()
        );
        let distribution = rt.block_on(async {
            clients
                .s3
                .create_bucket()
                .bucket(&bucket)
                .send()
                .await
                .unwrap();
            // moto's model wants the legacy TTL and forwarding fields.
            #[allow(deprecated)]
            let config = DistributionConfig::builder()
                .caller_reference(&bucket)
                .comment(&bucket)
                .enabled(true)
                .origins(
                    Origins::builder()
                        .quantity(1)
                        .items(
                            Origin::builder()
                                .id("site")
                                .domain_name(format!("{bucket}.s3.us-east-1.amazonaws.com"))
                                .s3_origin_config(
                                    S3OriginConfig::builder().origin_access_identity("").build(),
                                )
                                .build()
                                .unwrap(),
                        )
                        .build()
                        .unwrap(),
                )
                .default_cache_behavior(
                    DefaultCacheBehavior::builder()
                        .target_origin_id("site")
                        .viewer_protocol_policy(ViewerProtocolPolicy::RedirectToHttps)
                        .min_ttl(0)
                        .trusted_signers(
                            TrustedSigners::builder()
                                .enabled(false)
                                .quantity(0)
                                .build()
                                .unwrap(),
                        )
                        .forwarded_values(
                            ForwardedValues::builder()
                                .query_string(false)
                                .cookies(
                                    CookiePreference::builder()
                                        .forward(ItemSelection::None)
                                        .build()
                                        .unwrap(),
                                )
                                .build()
                                .unwrap(),
                        )
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap();
            clients
                .cloudfront
                .create_distribution()
                .distribution_config(config)
                .send()
                .await
                .unwrap()
                .distribution()
                .unwrap()
                .id()
                .to_owned()
        });
        let dir = tempfile::tempdir().unwrap();
        copy_tree(&repo_root().join("content"), &dir.path().join("content"));
        copy_tree(&repo_root().join("themes"), &dir.path().join("themes"));
        let upstream = endpoint
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_owned();
        let proxy = Proxy::start(&upstream);
        Self {
            rt,
            clients,
            bucket,
            distribution,
            dir,
            proxy,
        }
    }

    fn content(&self) -> PathBuf {
        self.dir.path().join("content")
    }

    fn edit(&self, rel: &str, from: &str, to: &str) {
        let path = self.dir.path().join(rel);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(from), "{rel} has no {from:?}");
        std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
    }

    fn remove(&self, rel: &str) {
        std::fs::remove_file(self.dir.path().join(rel)).unwrap();
    }

    /// The site as `publish` renders it now.
    fn site(&self) -> Site {
        build_from_content(&BuildConfig {
            content_dir: self.content(),
            themes_dir: self.dir.path().join("themes"),
            generated_at: None,
            progress: false,
            image_cache: None,
        })
        .unwrap()
        .site
    }

    /// Runs `generator publish` through the proxy.
    fn publish(&self, args: &[&str]) -> Output {
        generator_cmd()
            .arg("publish")
            .arg("--content")
            .arg(self.content())
            .arg("--themes")
            .arg(self.dir.path().join("themes"))
            .args(["--bucket", &self.bucket])
            .args(["--distribution-id", &self.distribution])
            .args(["--endpoint-url", &self.proxy.url])
            .args(["--region", "us-east-1"])
            .arg("--json")
            .args(args)
            .env_remove("S3_PREFIX")
            .env_remove("DATABASE_URL")
            .env_remove("PUBLISH_MAX_DELETES")
            .output()
            .unwrap()
    }

    /// Publishes and returns the summary; panics if the publish fails.
    fn publish_ok(&self, args: &[&str]) -> Value {
        let out = self.publish(args);
        assert!(
            out.status.success(),
            "publish {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// Every object in the bucket, with its metadata and the hash of its bytes.
    fn objects(&self) -> BTreeMap<String, Held> {
        self.rt.block_on(async {
            let mut keys = Vec::new();
            let mut token = None;
            loop {
                let page = self
                    .clients
                    .s3
                    .list_objects_v2()
                    .bucket(&self.bucket)
                    .set_continuation_token(token)
                    .send()
                    .await
                    .unwrap();
                keys.extend(
                    page.contents()
                        .iter()
                        .filter_map(|o| o.key())
                        .map(str::to_owned),
                );
                token = page.next_continuation_token().map(str::to_owned);
                if token.is_none() {
                    break;
                }
            }
            let mut held = BTreeMap::new();
            for key in keys {
                let got = self
                    .clients
                    .s3
                    .get_object()
                    .bucket(&self.bucket)
                    .key(&key)
                    .send()
                    .await
                    .unwrap();
                let entry = Held {
                    content_type: got.content_type().unwrap_or_default().to_owned(),
                    cache_control: got.cache_control().unwrap_or_default().to_owned(),
                    sha256_meta: got
                        .metadata()
                        .and_then(|m| m.get("sha256"))
                        .cloned()
                        .unwrap_or_default(),
                    sha256: String::new(),
                };
                let bytes = got.body.collect().await.unwrap().into_bytes();
                let sha256 = sha256_hex([&bytes, b"", b""]);
                held.insert(key, Held { sha256, ..entry });
            }
            held
        })
    }

    /// The paths of every invalidation made on the distribution, oldest first.
    fn invalidations(&self) -> Vec<BTreeSet<String>> {
        self.rt.block_on(async {
            let cf = &self.clients.cloudfront;
            let list = cf
                .list_invalidations()
                .distribution_id(&self.distribution)
                .send()
                .await
                .unwrap();
            let ids: Vec<String> = list
                .invalidation_list()
                .map(|l| l.items().iter().map(|i| i.id().to_owned()).collect())
                .unwrap_or_default();
            let mut all = Vec::new();
            for id in ids {
                let got = cf
                    .get_invalidation()
                    .distribution_id(&self.distribution)
                    .id(&id)
                    .send()
                    .await
                    .unwrap();
                let inv = got.invalidation().unwrap();
                assert!(
                    inv.status().eq_ignore_ascii_case("completed")
                        || inv.status().eq_ignore_ascii_case("inprogress"),
                    "{}",
                    inv.status()
                );
                let paths = inv.invalidation_batch().unwrap().paths().unwrap();
                all.push(paths.items().iter().cloned().collect());
            }
            // moto lists them in the order they were made.
            all
        })
    }

    /// The site keys the proxy saw PUT, in order (the manifest left out).
    fn puts(&self) -> Vec<String> {
        let prefix = format!("/{}/", self.bucket);
        self.proxy
            .log()
            .into_iter()
            .filter(|s| s.method == "PUT" && s.fault.is_none())
            .filter_map(|s| {
                let path = s.path.split('?').next().unwrap().to_owned();
                path.strip_prefix(&prefix).map(str::to_owned)
            })
            .filter(|k| !k.starts_with(".shopfront/"))
            .collect()
    }

    /// Requests that change something: PUT, DELETE, POST (deletes, invalidations).
    fn writes(&self) -> Vec<String> {
        self.proxy
            .log()
            .into_iter()
            .filter(|s| s.method != "GET" && s.method != "HEAD")
            .map(|s| format!("{} {}", s.method, s.path))
            .collect()
    }
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect()
}

/// The keys whose bytes differ between two builds, or that only `after` has.
fn changed(before: &Site, after: &Site) -> BTreeSet<String> {
    after
        .iter()
        .filter(|(k, p)| before.get(k).map(|b| &b.body) != Some(&p.body))
        .map(|(k, _)| k.to_owned())
        .collect()
}

/// The keys only `before` has, in order.
fn gone(before: &Site, after: &Site) -> Vec<String> {
    before
        .iter()
        .filter(|(k, _)| after.get(k).is_none())
        .map(|(k, _)| k.to_owned())
        .collect()
}

/// The bucket holds exactly the site, each object with its type, cache policy
/// and hash (in its bytes and its metadata), plus the manifest.
fn assert_bucket_holds(stack: &Stack, site: &Site) {
    assert_bucket_holds_and(stack, site, &[]);
}

/// As [`assert_bucket_holds`], and old assets kept for one more publish.
fn assert_bucket_holds_and(stack: &Stack, site: &Site, retired: &[String]) {
    let held = stack.objects();
    let keys: BTreeSet<_> = held.keys().cloned().collect();
    let mut expected: BTreeSet<_> = site.iter().map(|(k, _)| k.to_owned()).collect();
    expected.insert(".shopfront/manifest.json".into());
    expected.extend(retired.iter().cloned());
    assert_eq!(keys, expected);
    for (key, page) in site.iter() {
        let h = &held[key];
        let sha = page.body.sha256();
        assert_eq!(h.content_type, page.content_type, "{key}");
        assert_eq!(h.cache_control, page.cache.header(), "{key}");
        assert_eq!(h.sha256, sha, "{key}: bytes");
        assert_eq!(h.sha256_meta, sha, "{key}: metadata");
    }
}

/// Every page in the bucket links only to objects in the bucket.
fn assert_no_dangling_links(stack: &Stack) {
    let held = stack.objects();
    let bodies: BTreeMap<String, String> = stack.rt.block_on(async {
        let mut out = BTreeMap::new();
        for key in held.keys().filter(|k| k.ends_with(".html")) {
            let got = stack
                .clients
                .s3
                .get_object()
                .bucket(&stack.bucket)
                .key(key)
                .send()
                .await
                .unwrap();
            let bytes = got.body.collect().await.unwrap().into_bytes();
            out.insert(key.clone(), String::from_utf8(bytes.to_vec()).unwrap());
        }
        out
    });
    for (key, html) in &bodies {
        for attr in ["href=\"/", "src=\"/"] {
            for (i, _) in html.match_indices(attr) {
                let rest = &html[i + attr.len() - 1..];
                let url = &rest[..rest.find('"').unwrap()];
                let url = url.split(['?', '#']).next().unwrap();
                let target = render::urls::key_for(url);
                assert!(
                    held.contains_key(&target),
                    "{key} links to {url}, which the bucket does not hold"
                );
            }
        }
    }
}

#[test]
fn first_publish_uploads_every_object_then_a_second_changes_nothing() {
    let stack = Stack::new("first");
    let site = stack.site();
    assert!(site.len() > 200, "the 100-product shop");

    let first = stack.publish_ok(&[]);
    assert_eq!(first["compared_with"], "nothing");
    assert_eq!(strings(&first["uploads"]).len(), site.len());
    assert_bucket_holds(&stack, &site);
    // New keys were never cached: nothing to invalidate.
    assert_eq!(first["invalidation"], "none");
    assert!(stack.invalidations().is_empty());

    stack.proxy.clear_log();
    let second = stack.publish_ok(&[]);
    assert_eq!(second["compared_with"], "manifest");
    assert_eq!(second["unchanged"], site.len());
    assert_eq!(strings(&second["uploads"]), Vec::<String>::new());
    assert_eq!(strings(&second["deletes"]), Vec::<String>::new());
    assert_eq!(second["invalidation"], "none");
    assert_eq!(
        stack.writes(),
        Vec::<String>::new(),
        "no PUT, DELETE or POST"
    );
    assert!(stack.invalidations().is_empty());
}

#[test]
fn one_price_edit_uploads_and_invalidates_exactly_what_changed() {
    let stack = Stack::new("edit");
    let before = stack.site();
    stack.publish_ok(&[]);

    stack.edit(
        "content/products/alpaca-blend-scarf.md",
        "price = \"69.00\"",
        "price = \"64.50\"",
    );
    let after = stack.site();
    let expected = changed(&before, &after);
    assert!(expected.contains("products/alpaca-blend-scarf/index.html"));
    assert!(expected.contains("products.json"));

    stack.proxy.clear_log();
    let summary = stack.publish_ok(&[]);
    let uploads: BTreeSet<String> = strings(&summary["uploads"]).into_iter().collect();
    assert_eq!(uploads, expected);
    let puts: BTreeSet<String> = stack.puts().into_iter().collect();
    assert_eq!(puts, expected, "the PUTs on the wire");
    assert!(
        !puts.iter().any(|k| k.starts_with("assets/")),
        "no asset goes up again"
    );
    assert!(strings(&summary["deletes"]).is_empty());

    let paths: BTreeSet<String> = expected
        .iter()
        .flat_map(|k| render::urls::urls_for_key(k))
        .collect();
    assert!(paths.contains("/products/alpaca-blend-scarf/"));
    assert!(paths.contains("/products/alpaca-blend-scarf/index.html"));
    assert_eq!(stack.invalidations(), vec![paths]);
    assert_bucket_holds(&stack, &after);
}

#[test]
fn a_deleted_product_goes_after_the_listings_and_the_delete_guard_holds() {
    let stack = Stack::new("delete");
    stack.publish_ok(&[]);

    let before = stack.site();
    stack.remove("content/products/ash-writing-desk.md");
    let site = stack.site();
    let gone = gone(&before, &site);
    assert!(gone.contains(&"products/ash-writing-desk/index.html".to_owned()));
    stack.proxy.clear_log();
    let summary = stack.publish_ok(&[]);
    assert_eq!(strings(&summary["deletes"]), gone);
    // The instrumented order: product pages, then listings and feeds, then
    // the delete, then the invalidation.
    let log: Vec<String> = stack.writes();
    let delete_at = log
        .iter()
        .position(|w| w.starts_with("POST") && w.contains("?delete"))
        .expect("a DeleteObjects request");
    let invalidate_at = log
        .iter()
        .position(|w| w.contains("/invalidation"))
        .expect("an invalidation");
    let last_put = log
        .iter()
        .rposition(|w| w.starts_with("PUT") && !w.contains(".shopfront/"))
        .unwrap();
    assert!(last_put < delete_at, "{log:#?}");
    assert!(delete_at < invalidate_at, "{log:#?}");
    let puts = stack.puts();
    for listing in ["index.html", "products.json", "sitemap.xml"] {
        assert!(puts.iter().any(|k| k == listing), "{listing} went up");
    }
    let first_listing = puts.iter().position(|k| !k.starts_with("products/"));
    let last_product = puts.iter().rposition(|k| k.starts_with("products/"));
    if let (Some(l), Some(p)) = (first_listing, last_product) {
        assert!(p < l, "product pages before listings: {puts:?}");
    }
    let invalidated = stack.invalidations().pop().unwrap();
    assert!(invalidated.contains("/products/ash-writing-desk/"));
    assert!(invalidated.contains("/products/ash-writing-desk/index.html"));
    assert_bucket_holds(&stack, &site);

    // One more delete, past --max-deletes 0: refused, nothing changes.
    stack.remove("content/products/bamboo-tea-tray.md");
    let held = stack.objects();
    let invalidations = stack.invalidations();
    stack.proxy.clear_log();
    let out = stack.publish(&["--max-deletes", "0"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("this publish would delete")
            && stderr(&out).contains("more than --max-deletes 0"),
        "{}",
        stderr(&out)
    );
    assert_eq!(stack.writes(), Vec::<String>::new());
    assert_eq!(stack.objects(), held);
    assert_eq!(stack.invalidations(), invalidations);
}

#[test]
fn dry_run_prints_the_plan_and_changes_nothing() {
    let stack = Stack::new("dry");
    let before = stack.site();
    stack.publish_ok(&[]);
    stack.edit(
        "content/products/alpaca-blend-scarf.md",
        "price = \"69.00\"",
        "price = \"70.00\"",
    );
    stack.remove("content/products/ash-writing-desk.md");
    let after = stack.site();
    let held = stack.objects();
    let invalidations = stack.invalidations();

    stack.proxy.clear_log();
    let plan = stack.publish_ok(&["--dry-run"]);
    assert_eq!(plan["dry_run"], true);
    let uploads: BTreeSet<String> = strings(&plan["uploads"]).into_iter().collect();
    assert_eq!(uploads, changed(&before, &after));
    assert_eq!(strings(&plan["deletes"]), gone(&before, &after));
    assert!(plan["invalidation"]["paths"].as_array().unwrap().len() > 2);
    assert_eq!(stack.writes(), Vec::<String>::new());
    assert_eq!(stack.objects(), held);
    assert_eq!(stack.invalidations(), invalidations);

    // The text form lists the plan.
    let out = generator_cmd()
        .args(["publish", "--dry-run", "--content"])
        .arg(stack.content())
        .arg("--themes")
        .arg(stack.dir.path().join("themes"))
        .args([
            "--bucket",
            &stack.bucket,
            "--endpoint-url",
            &stack.proxy.url,
        ])
        .args(["--region", "us-east-1"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("nothing was changed"), "{text}");
    assert!(
        text.contains("  delete      products/ash-writing-desk/index.html"),
        "{text}"
    );
    assert_eq!(stack.objects(), held);
}

#[test]
fn transient_faults_are_retried_and_the_publish_succeeds() {
    let stack = Stack::new("flaky");
    stack.proxy.set_rules(vec![
        Rule::new("PUT", "/assets/site.", Fault::SlowDown, 2),
        Rule::new("PUT", "/products/ash-writing-desk/", Fault::Reset, 2),
        Rule::new("PUT", "/index.html", Fault::SlowDown, 1),
        Rule::new(
            "PUT",
            "/products.json",
            Fault::Delay(std::time::Duration::from_millis(300)),
            1,
        ),
        Rule::new("GET", "/.shopfront/manifest.json", Fault::SlowDown, 1),
    ]);
    let summary = stack.publish_ok(&[]);
    let faults = stack
        .proxy
        .log()
        .iter()
        .filter(|s| s.fault.is_some())
        .count();
    assert_eq!(faults, 7, "every rule fired");
    assert_eq!(strings(&summary["uploads"]).len(), stack.site().len());
    assert_bucket_holds(&stack, &stack.site());
}

#[test]
fn a_persistent_fault_stops_before_any_delete_and_a_rerun_completes() {
    let stack = Stack::new("outage");
    let before = stack.site();
    stack.publish_ok(&[]);

    // A new stylesheet (a new fingerprinted asset every page links to), a
    // price edit, and a product gone.
    stack.edit("themes/default/static/site.css", "", "/* v2 */\n");
    stack.edit(
        "content/products/alpaca-blend-scarf.md",
        "price = \"69.00\"",
        "price = \"59.00\"",
    );
    stack.remove("content/products/ash-writing-desk.md");
    let after = stack.site();
    let new_css = after
        .iter()
        .map(|(k, _)| k)
        .find(|k| k.starts_with("assets/site.") && before.get(k).is_none())
        .unwrap()
        .to_owned();

    stack.proxy.clear_log();
    stack
        .proxy
        .set_rules(vec![Rule::always("PUT", &new_css, Fault::SlowDown)]);
    let out = stack.publish(&[]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains(&format!("uploading s3://{}/{new_css} failed", stack.bucket)),
        "{err}"
    );
    assert!(err.contains("stopped before any delete"), "{err}");
    assert!(err.contains("Run the publish again"), "{err}");
    let partial: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(strings(&partial["deletes"]).is_empty());
    assert!(
        !stack.writes().iter().any(|w| w.contains("?delete")),
        "nothing deleted"
    );
    let held = stack.objects();
    assert!(held.contains_key("products/ash-writing-desk/index.html"));
    assert!(!held.contains_key(&new_css));
    assert_no_dangling_links(&stack);
    assert!(
        stack.puts().iter().all(|k| k.starts_with("assets/")),
        "no page went up before its stylesheet: {:?}",
        stack.puts()
    );

    // The outage ends; running it again completes the publish. The old
    // stylesheet stays one more publish, for pages cached before this one.
    stack.proxy.set_rules(Vec::new());
    let rerun = stack.publish_ok(&[]);
    let old_css: Vec<String> = before
        .iter()
        .map(|(k, _)| k.to_owned())
        .filter(|k| k.starts_with("assets/site.") && after.get(k).is_none())
        .collect();
    assert_eq!(strings(&rerun["retired"]), old_css);
    assert_bucket_holds_and(&stack, &after, &old_css);
    assert_no_dangling_links(&stack);
    // The paths the stopped publish owed are invalidated now.
    let invalidated = stack.invalidations().pop().unwrap();
    for path in [
        "/",
        "/products/ash-writing-desk/",
        "/products/alpaca-blend-scarf/",
    ] {
        assert!(invalidated.contains(path), "{path}");
    }
    // The next publish deletes it.
    let next = stack.publish_ok(&[]);
    assert_eq!(strings(&next["deletes"]), old_css);
    assert_bucket_holds(&stack, &after);
}

#[test]
fn a_stopped_publish_never_leaves_a_mixed_site_even_if_the_change_is_undone() {
    let stack = Stack::new("undo");
    let original = stack.site();
    stack.publish_ok(&[]);
    let file = "content/products/alpaca-blend-scarf.md";
    stack.edit(file, "price = \"69.00\"", "price = \"99.00\"");
    stack
        .proxy
        .set_rules(vec![Rule::always("PUT", "/products.json", Fault::SlowDown)]);
    let out = stack.publish(&[]);
    assert!(!out.status.success());
    let partial: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        strings(&partial["uploads"]).contains(&"products/alpaca-blend-scarf/index.html".into()),
        "the product page went up before products.json failed"
    );

    // The edit is undone before the next publish: the pages that went up
    // with the new price must go back, although the content now matches the
    // manifest of the last complete publish.
    stack.edit(file, "price = \"99.00\"", "price = \"69.00\"");
    stack.proxy.set_rules(Vec::new());
    stack.publish_ok(&[]);
    assert_bucket_holds(&stack, &original);
}

#[test]
fn the_empty_catalog_guard_refuses_to_empty_a_live_shop_unless_forced() {
    let stack = Stack::new("empty");
    stack.publish_ok(&[]);
    std::fs::remove_dir_all(stack.content().join("products")).unwrap();
    std::fs::create_dir(stack.content().join("products")).unwrap();
    let held = stack.objects();

    stack.proxy.clear_log();
    let out = stack.publish(&[]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("has no products but the live site has 100 product pages"),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("--force"), "{}", stderr(&out));
    assert_eq!(stack.writes(), Vec::<String>::new());
    assert_eq!(stack.objects(), held);

    let forced = stack.publish_ok(&["--force"]);
    assert!(strings(&forced["deletes"]).len() >= 100);
    assert_bucket_holds(&stack, &stack.site());
}

#[test]
fn verify_compares_against_the_bucket_itself() {
    let stack = Stack::new("verify");
    let site = stack.site();
    stack.publish_ok(&[]);
    // Someone overwrites a page by hand; the manifest does not know.
    stack.rt.block_on(async {
        stack
            .clients
            .s3
            .put_object()
            .bucket(&stack.bucket)
            .key("products/alpaca-blend-scarf/index.html")
            .body(b"tampered".to_vec().into())
            .send()
            .await
            .unwrap();
    });
    let trusting = stack.publish_ok(&[]);
    assert_eq!(strings(&trusting["uploads"]), Vec::<String>::new());

    let verified = stack.publish_ok(&["--verify"]);
    assert_eq!(verified["compared_with"], "listing");
    assert_eq!(
        strings(&verified["uploads"]),
        ["products/alpaca-blend-scarf/index.html"]
    );
    assert_bucket_holds(&stack, &site);
}

/// A `site_builds` row: trigger, source, catalog_version, pages_uploaded,
/// error, finished.
type BuildRow = (
    String,
    Option<String>,
    Option<i64>,
    Option<i32>,
    Option<String>,
    bool,
);

#[test]
fn rebuild_publishes_from_the_database_and_records_each_build() {
    use store::{Role, Target};
    let stack = Stack::new("rebuild");
    let db = stack.rt.block_on(FreshDb::migrated());
    let primary = Target::parse(&db.url, Role::Primary).unwrap();
    let catalog = content::load(&stack.content()).unwrap();
    stack
        .rt
        .block_on(store::import(&primary, &catalog))
        .unwrap();
    let rebuild = || {
        generator_cmd()
            .current_dir(stack.dir.path())
            .args(["rebuild", "--json", "--trigger", "test"])
            .args(["--bucket", &stack.bucket])
            .args(["--distribution-id", &stack.distribution])
            .args(["--endpoint-url", &stack.proxy.url])
            .args(["--region", "us-east-1"])
            .env("DATABASE_URL", &db.url)
            .env_remove("DATABASE_REPLICA_URL")
            .env_remove("S3_PREFIX")
            .output()
            .unwrap()
    };
    let builds = || {
        stack.rt.block_on(async {
            let client = db.client().await;
            let rows = client
                .query(
                    "SELECT trigger, source, catalog_version, pages_uploaded, error, finished_at IS NOT NULL
                     FROM site_builds ORDER BY build_id",
                    &[],
                )
                .await
                .unwrap();
            let published: i64 = client
                .query_one("SELECT published_version FROM catalog_state", &[])
                .await
                .unwrap()
                .get(0);
            let rows: Vec<BuildRow> = rows
                .iter()
                    .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4), r.get(5)))
                    .collect();
            (rows, published)
        })
    };

    let out = rebuild();
    assert!(out.status.success(), "{}", stderr(&out));
    let outcome: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(outcome["read_from"], "primary");
    assert_eq!(outcome["catalog_version"], 1);
    assert_eq!(outcome["products"], 100);
    // The database gives the same bytes as the content folder.
    assert_bucket_holds(&stack, &stack.site());
    let (rows, published) = builds();
    let uploaded = i32::try_from(stack.site().len()).unwrap();
    assert_eq!(
        rows,
        [(
            "test".into(),
            Some("primary".into()),
            Some(1),
            Some(uploaded),
            None,
            true
        )]
    );
    assert_eq!(published, 1);

    // A build the guard refuses is recorded with its error; nothing moves.
    stack.rt.block_on(async {
        db.client()
            .await
            .execute("DELETE FROM products", &[])
            .await
            .unwrap();
    });
    let held = stack.objects();
    let out = rebuild();
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("refusing to empty the shop"),
        "{}",
        stderr(&out)
    );
    let (rows, published) = builds();
    assert_eq!(rows.len(), 2);
    assert!(
        rows[1]
            .4
            .as_deref()
            .unwrap()
            .contains("refusing to empty the shop")
    );
    assert_eq!(published, 1);
    assert_eq!(stack.objects(), held);
}

#[test]
fn a_draft_stays_off_the_site_until_activated_and_archiving_it_deletes_its_page() {
    use store::{Role, Target};
    const SLUG: &str = "alpaca-blend-scarf";
    const PAGE: &str = "products/alpaca-blend-scarf/index.html";
    let stack = Stack::new("status");
    let db = stack.rt.block_on(FreshDb::migrated());
    let replica = testkit::with_database(
        &std::env::var("DATABASE_REPLICA_URL")
            .expect("DATABASE_REPLICA_URL: the test command starts the replica and sets it"),
        db.name(),
    );
    // The content source: the product is a draft there, and goes to the
    // database as one.
    let file = format!("content/products/{SLUG}.md");
    stack.edit(&file, "price = ", "status = \"draft\"\nprice = ");
    let with_draft = stack.site();
    let primary = Target::parse(&db.url, Role::Primary).unwrap();
    let catalog = content::load(&stack.content()).unwrap();
    assert_eq!(catalog.products.len(), 99);
    assert_eq!(catalog.unlisted.len(), 1);
    stack
        .rt
        .block_on(store::import(&primary, &catalog))
        .unwrap();
    let rebuild = || {
        let out = generator_cmd()
            .current_dir(stack.dir.path())
            .args(["rebuild", "--json", "--trigger", "test"])
            .args(["--bucket", &stack.bucket])
            .args(["--distribution-id", &stack.distribution])
            .args(["--endpoint-url", &stack.proxy.url])
            .args(["--region", "us-east-1"])
            .env("DATABASE_URL", &db.url)
            .env("DATABASE_REPLICA_URL", &replica)
            .env_remove("S3_PREFIX")
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        let outcome: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(outcome["read_from"], "replica", "{outcome}");
        outcome
    };
    // The same change in the database and in the content folder, at the
    // same time, so the two sources still render the same bytes.
    let set_status = |status: &str, at: &str| {
        stack.rt.block_on(async {
            let n = db
                .client()
                .await
                .execute(
                    "UPDATE products SET status = $1, updated_at = $3::text::timestamptz WHERE slug = $2",
                    &[&status, &SLUG, &at],
                )
                .await
                .unwrap();
            assert_eq!(n, 1);
        });
        let path = stack.dir.path().join(&file);
        let text = std::fs::read_to_string(&path).unwrap();
        let text: String = text
            .lines()
            .filter(|l| !l.starts_with("status = "))
            .map(|l| match l.starts_with("updated_at = ") {
                true => format!("updated_at = {at}\n"),
                false if l.starts_with("price = ") && status != "active" => {
                    format!("status = \"{status}\"\n{l}\n")
                }
                false => format!("{l}\n"),
            })
            .collect();
        std::fs::write(&path, text).unwrap();
    };

    // 1. A draft is in no output: no page, listing, search index,
    // products.json, sitemap or feed names it, from either source.
    let first = rebuild();
    assert_eq!(first["products"], 99);
    assert_bucket_holds(&stack, &with_draft);
    for (key, page) in with_draft.iter() {
        assert!(!key.contains(SLUG), "{key}");
        let bytes = page.body.read().unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            !text.contains(SLUG) && !text.contains("Alpaca Blend Scarf"),
            "{key} names the draft"
        );
    }

    // 2. Activating it publishes its page and exactly the listings and
    // feeds that change; no other product's page moves.
    set_status("active", "2026-06-01T09:00:00Z");
    let active = stack.site();
    let expected = changed(&with_draft, &active);
    assert!(expected.contains(PAGE), "{expected:?}");
    for key in ["products.json", "index.html", "sitemap.xml"] {
        assert!(expected.contains(key), "{key} lists it: {expected:?}");
    }
    let pages: Vec<&String> = expected
        .iter()
        .filter(|k| k.starts_with("products/"))
        .collect();
    assert_eq!(pages, [PAGE], "only its own product page goes up");
    stack.proxy.clear_log();
    let second = rebuild();
    assert_eq!(second["products"], 100);
    let uploads: BTreeSet<String> = strings(&second["publish"]["uploads"]).into_iter().collect();
    assert_eq!(uploads, expected);
    assert!(strings(&second["publish"]["deletes"]).is_empty());
    assert_bucket_holds(&stack, &active);

    // 3. Archiving it deletes its page (and its image, which nothing else
    // shows) after the listings stop linking to it; the URL is then the
    // 404 page's.
    set_status("archived", "2026-06-02T09:00:00Z");
    let archived = stack.site();
    assert_eq!(archived.len(), with_draft.len());
    let third = rebuild();
    let deletes = strings(&third["publish"]["deletes"]);
    assert!(deletes.contains(&PAGE.to_owned()), "{deletes:?}");
    assert!(
        deletes.iter().all(|k| k.contains(SLUG)),
        "only what was its own goes: {deletes:?}"
    );
    assert_eq!(deletes, gone(&active, &archived));
    assert_bucket_holds(&stack, &archived);
    assert_no_dangling_links(&stack);
}
