//! What a publish must do, decided without a network: compare the new site's
//! manifest (key → SHA-256, type, cache policy) with the live one, order the
//! uploads so the live site stays consistent, and apply the delete guards.
//!
//! "What changed" is decided by content hash only: never by mtime or size,
//! and never by trusting an ETag.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use render::site::{CachePolicy, Site};
use render::urls;

/// One object as the manifest records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub sha256: String,
    pub content_type: String,
    pub cache_control: String,
}

/// Every object of a published site. Written last by a publish, so a manifest
/// only ever describes objects that are all there. A publish that stops part
/// way writes what did change, and the CDN paths it still owes an
/// invalidation, so the next one picks up exactly where it stopped.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub objects: BTreeMap<String, Entry>,
    /// CDN paths changed by a publish that stopped before invalidating them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pending_invalidation: Vec<String>,
    /// Keys of `objects` the site no longer uses but keeps for one more
    /// publish: old fingerprinted assets, which pages cached before this
    /// publish may still link to.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub retired: BTreeSet<String>,
}

/// The SHA-256 of a page's bytes, in hex.
pub fn sha256_hex(parts: [&[u8]; 3]) -> String {
    let mut h = Sha256::new();
    for part in parts {
        h.update(part);
    }
    catalog::hex(&h.finalize())
}

impl Manifest {
    pub fn of(site: &Site) -> Self {
        let objects = site
            .iter()
            .map(|(key, page)| {
                let entry = Entry {
                    sha256: page.body.sha256(),
                    content_type: page.content_type.to_owned(),
                    cache_control: page.cache.header().to_owned(),
                };
                (key.to_owned(), entry)
            })
            .collect();
        Self {
            objects,
            ..Self::default()
        }
    }
}

/// Upload waves, in the order they must go up: nothing is linked before it
/// exists. Keys new to the bucket go before changed ones: nothing live links
/// to them yet, and the changed pages may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Fingerprinted assets and images, which pages link to.
    Assets,
    /// New product pages, which listings link to.
    NewProducts,
    /// New listings and feeds.
    NewListings,
    /// Changed product pages.
    Products,
    /// Changed listings, search, 404, and the feeds (products.json, sitemaps,
    /// robots.txt).
    Listings,
}

impl Stage {
    /// Every stage, in upload order.
    pub const ALL: [Stage; 5] = [
        Self::Assets,
        Self::NewProducts,
        Self::NewListings,
        Self::Products,
        Self::Listings,
    ];

    /// The stage of `key`, which is new to the bucket or changed.
    pub fn of(key: &str, new: bool) -> Self {
        match (
            key.starts_with("assets/") || key.starts_with("images/"),
            key.starts_with("products/"),
            new,
        ) {
            (true, ..) => Self::Assets,
            (false, true, true) => Self::NewProducts,
            (false, false, true) => Self::NewListings,
            (false, true, false) => Self::Products,
            (false, false, false) => Self::Listings,
        }
    }
}

/// Which CloudFront paths to invalidate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Invalidation {
    None,
    /// Exact paths: both `/x/` and `/x/index.html` for a directory page.
    Paths(Vec<String>),
    /// Too many paths: `/*` costs as one.
    Everything,
}

impl Invalidation {
    /// The paths to send to the CDN.
    pub fn paths(&self) -> Vec<String> {
        match self {
            Self::None => Vec::new(),
            Self::Paths(paths) => paths.clone(),
            Self::Everything => vec!["/*".to_owned()],
        }
    }
}

/// The guards' settings.
#[derive(Debug, Clone, Copy)]
pub struct Guards {
    /// Refuse to delete more than this many objects (`--max-deletes`).
    pub max_deletes: Option<usize>,
    /// Refuse to delete more than this percentage of the live objects.
    pub max_delete_percent: usize,
    /// Past this many paths, invalidate `/*` instead.
    pub max_invalidation_paths: usize,
    /// Publish even if a guard objects (`--force`).
    pub force: bool,
}

impl Default for Guards {
    fn default() -> Self {
        Self {
            max_deletes: None,
            max_delete_percent: 50,
            max_invalidation_paths: 300,
            force: false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error(
        "this publish would delete {deletes} of the {live} live objects, more than {limit}; check the catalog, or pass --force (or a higher --max-deletes) if this is intended"
    )]
    TooManyDeletes {
        deletes: usize,
        live: usize,
        limit: String,
    },
    #[error(
        "this publish has no products but the live site has {live_products} product pages; refusing to empty the shop. Pass --force if this is intended"
    )]
    EmptyCatalog { live_products: usize },
}

/// What a publish will do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Plan {
    /// Keys to upload, in upload order (by stage, then key).
    pub uploads: Vec<(Stage, String)>,
    pub unchanged: usize,
    /// Keys to delete, after every upload.
    pub deletes: Vec<String>,
    /// Old fingerprinted assets kept for one more publish (see
    /// [`Manifest::retired`]).
    pub retired: Vec<String>,
    pub invalidation: Invalidation,
}

fn is_product_page(key: &str) -> bool {
    key.starts_with("products/") && key.ends_with("/index.html")
}

/// Compares the new manifest with the live one (none: nothing is live).
pub fn plan(new: &Manifest, live: Option<&Manifest>, guards: &Guards) -> Result<Plan, PlanError> {
    let empty = Manifest::default();
    let live = live.unwrap_or(&empty);
    let mut uploads = Vec::new();
    let mut unchanged = 0;
    let mut changed_live = Vec::new();
    for (key, entry) in &new.objects {
        match live.objects.get(key) {
            Some(old) if old == entry => unchanged += 1,
            Some(_) => {
                uploads.push((Stage::of(key, false), key.clone()));
                changed_live.push(key.as_str());
            }
            None => uploads.push((Stage::of(key, true), key.clone())),
        }
    }
    uploads.sort();
    // Old assets stay one publish longer, for pages cached before this one.
    let (retired, deletes): (Vec<String>, Vec<String>) = live
        .objects
        .keys()
        .filter(|k| !new.objects.contains_key(*k))
        .cloned()
        .partition(|k| k.starts_with("assets/") && !live.retired.contains(k));

    if !guards.force {
        let live_products = live.objects.keys().filter(|k| is_product_page(k)).count();
        let new_products = new.objects.keys().filter(|k| is_product_page(k)).count();
        if new_products == 0 && live_products > 0 {
            return Err(PlanError::EmptyCatalog { live_products });
        }
        let share_limit = live.objects.len() * guards.max_delete_percent / 100;
        let (limit, text) = match guards.max_deletes {
            Some(n) => (n, format!("--max-deletes {n}")),
            None => (
                share_limit,
                format!("{} % of them", guards.max_delete_percent),
            ),
        };
        if deletes.len() > limit {
            return Err(PlanError::TooManyDeletes {
                deletes: deletes.len(),
                live: live.objects.len(),
                limit: text,
            });
        }
    }

    // Only objects that were live and changed or went away can be stale in a
    // cache; new keys were never cached, and fingerprinted assets never change.
    // Paths a stopped publish still owes are added.
    let mut paths: Vec<String> = changed_live
        .into_iter()
        .chain(deletes.iter().map(String::as_str))
        .filter(|k| CachePolicy::for_key(k) != CachePolicy::Immutable)
        .flat_map(urls::urls_for_key)
        .map(|url| cdn_path(&url))
        .chain(live.pending_invalidation.iter().cloned())
        .collect();
    paths.sort();
    paths.dedup();
    let invalidation = if paths.is_empty() {
        Invalidation::None
    } else if paths.len() > guards.max_invalidation_paths || paths.iter().any(|p| p == "/*") {
        Invalidation::Everything
    } else {
        Invalidation::Paths(paths)
    };
    Ok(Plan {
        uploads,
        unchanged,
        deletes,
        retired,
        invalidation,
    })
}

/// A URL path as CloudFront takes it in an invalidation: percent-encoded but
/// for the unreserved characters and `/`, so `*` is never a wildcard by
/// accident.
fn cdn_path(url: &str) -> String {
    let mut out = String::with_capacity(url.len());
    for &b in url.as_bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl Manifest {
    /// What the bucket holds once `plan` is carried out in full: the new site
    /// and the retired assets.
    pub fn after(new: &Manifest, live: Option<&Manifest>, plan: &Plan) -> Manifest {
        let mut done = new.clone();
        if let Some(live) = live {
            for key in &plan.retired {
                done.objects.insert(key.clone(), live.objects[key].clone());
                done.retired.insert(key.clone());
            }
        }
        done
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site(pages: &[(&str, &str)]) -> Manifest {
        let mut s = Site::new();
        for (k, body) in pages {
            s.insert((*k).to_owned(), body.as_bytes().to_vec());
        }
        Manifest::of(&s)
    }

    fn shop(price: &str) -> Manifest {
        site(&[
            ("assets/site.0123456789.css", "css"),
            ("images/mug.svg", "<svg/>"),
            ("index.html", &format!("home {price}")),
            ("products/mug/index.html", &format!("mug {price}")),
            ("products/cup/index.html", "cup"),
            ("products.json", &format!("[{price}]")),
            ("sitemap.xml", "<urlset/>"),
        ])
    }

    #[test]
    fn first_publish_uploads_everything_in_order() {
        let p = plan(&shop("1"), None, &Guards::default()).unwrap();
        let keys: Vec<_> = p.uploads.iter().map(|(_, k)| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "assets/site.0123456789.css",
                "images/mug.svg",
                "products/cup/index.html",
                "products/mug/index.html",
                "index.html",
                "products.json",
                "sitemap.xml"
            ]
        );
        assert_eq!(p.invalidation, Invalidation::None, "nothing was cached yet");
        assert!(p.deletes.is_empty());
    }

    #[test]
    fn an_unchanged_site_costs_nothing() {
        let p = plan(&shop("1"), Some(&shop("1")), &Guards::default()).unwrap();
        assert!(p.uploads.is_empty() && p.deletes.is_empty());
        assert_eq!(p.unchanged, 7);
        assert_eq!(p.invalidation, Invalidation::None);
    }

    #[test]
    fn one_edit_uploads_and_invalidates_exactly_what_changed() {
        let p = plan(&shop("2"), Some(&shop("1")), &Guards::default()).unwrap();
        let keys: Vec<_> = p.uploads.iter().map(|(_, k)| k.as_str()).collect();
        assert_eq!(
            keys,
            ["products/mug/index.html", "index.html", "products.json"]
        );
        assert_eq!(
            p.invalidation,
            Invalidation::Paths(
                [
                    "/",
                    "/index.html",
                    "/products.json",
                    "/products/mug/",
                    "/products/mug/index.html"
                ]
                .map(String::from)
                .to_vec()
            )
        );
    }

    #[test]
    fn deletes_come_last_and_are_invalidated() {
        let mut new = shop("1");
        new.objects.remove("products/cup/index.html");
        let p = plan(&new, Some(&shop("1")), &Guards::default()).unwrap();
        assert_eq!(p.deletes, ["products/cup/index.html"]);
        assert_eq!(
            p.invalidation,
            Invalidation::Paths(vec![
                "/products/cup/".into(),
                "/products/cup/index.html".into()
            ])
        );
    }

    #[test]
    fn guards_refuse_mass_deletes_and_an_empty_shop_unless_forced() {
        let live = shop("1");
        let empty = site(&[("index.html", "no products"), ("products.json", "[]")]);
        assert_eq!(
            plan(&empty, Some(&live), &Guards::default()),
            Err(PlanError::EmptyCatalog { live_products: 2 })
        );
        let forced = Guards {
            force: true,
            ..Guards::default()
        };
        let p = plan(&empty, Some(&live), &forced).unwrap();
        assert_eq!(p.deletes.len(), 4);
        assert_eq!(p.retired, ["assets/site.0123456789.css"]);

        let mut fewer = shop("1");
        fewer.objects.remove("products/cup/index.html");
        let strict = Guards {
            max_deletes: Some(0),
            ..Guards::default()
        };
        let err = plan(&fewer, Some(&live), &strict).unwrap_err();
        assert_eq!(
            err.to_string(),
            "this publish would delete 1 of the 7 live objects, more than --max-deletes 0; check the catalog, or pass --force (or a higher --max-deletes) if this is intended"
        );
    }

    #[test]
    fn by_default_at_most_half_of_the_live_objects_may_go() {
        let live = shop("1");
        let mut new = site(&[("products/mug/index.html", "mug 1")]);
        new.objects
            .insert("index.html".into(), live.objects["index.html"].clone());
        let err = plan(&new, Some(&live), &Guards::default()).unwrap_err();
        assert!(
            err.to_string().starts_with(
                "this publish would delete 4 of the 7 live objects, more than 50 % of them"
            ),
            "{err}"
        );
    }

    #[test]
    fn many_paths_fall_back_to_everything() {
        let guards = Guards {
            max_invalidation_paths: 3,
            ..Guards::default()
        };
        let p = plan(&shop("2"), Some(&shop("1")), &guards).unwrap();
        assert_eq!(p.invalidation, Invalidation::Everything);
    }

    #[test]
    fn paths_a_stopped_publish_owes_are_invalidated_next_time() {
        let mut live = shop("1");
        live.pending_invalidation = vec!["/products/cup/".into(), "/".into()];
        let p = plan(&shop("1"), Some(&live), &Guards::default()).unwrap();
        assert!(p.uploads.is_empty());
        assert_eq!(
            p.invalidation.paths(),
            ["/", "/products/cup/"].map(String::from)
        );
        live.pending_invalidation = vec!["/*".into()];
        let p = plan(&shop("1"), Some(&live), &Guards::default()).unwrap();
        assert_eq!(p.invalidation, Invalidation::Everything);
    }

    #[test]
    fn old_assets_are_kept_one_publish_and_never_invalidated() {
        let mut new = shop("1");
        new.objects.remove("assets/site.0123456789.css");
        let live = shop("1");
        let p = plan(&new, Some(&live), &Guards::default()).unwrap();
        assert_eq!(p.retired, ["assets/site.0123456789.css"]);
        assert!(p.deletes.is_empty());
        assert_eq!(p.invalidation, Invalidation::None);

        let after = Manifest::after(&new, Some(&live), &p);
        assert!(after.objects.contains_key("assets/site.0123456789.css"));
        let p = plan(&new, Some(&after), &Guards::default()).unwrap();
        assert_eq!(p.deletes, ["assets/site.0123456789.css"]);
        assert!(p.retired.is_empty());
        assert_eq!(Manifest::after(&new, Some(&after), &p), new);
    }

    #[test]
    fn new_keys_go_up_before_changed_pages_link_to_them() {
        let mut new = shop("2");
        new.objects.insert(
            "products/pot/index.html".into(),
            new.objects["products/cup/index.html"].clone(),
        );
        new.objects.insert(
            "page/2/index.html".into(),
            new.objects["products/cup/index.html"].clone(),
        );
        let p = plan(&new, Some(&shop("1")), &Guards::default()).unwrap();
        assert_eq!(
            p.uploads,
            [
                (Stage::NewProducts, "products/pot/index.html".into()),
                (Stage::NewListings, "page/2/index.html".into()),
                (Stage::Products, "products/mug/index.html".into()),
                (Stage::Listings, "index.html".into()),
                (Stage::Listings, "products.json".into()),
            ]
        );
    }

    #[test]
    fn invalidation_paths_are_percent_encoded() {
        let mut live = shop("1");
        live.objects.insert(
            "images/mug *big*.svg".into(),
            live.objects["images/mug.svg"].clone(),
        );
        let p = plan(&shop("1"), Some(&live), &Guards::default()).unwrap();
        assert_eq!(p.invalidation.paths(), ["/images/mug%20%2Abig%2A.svg"]);
    }

    #[test]
    fn hashes_ignore_how_a_body_is_split() {
        assert_eq!(
            sha256_hex([b"ab", b"c", b""]),
            sha256_hex([b"abc", b"", b""])
        );
        assert_eq!(
            sha256_hex([b"", b"", b""]),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
