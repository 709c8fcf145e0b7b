//! What every request and the rebuild worker share.

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

use std::sync::Arc;

use tokio::sync::{Notify, Semaphore};

use crate::cache::ListCache;
use crate::session::Sessions;
use crate::store::Store;

/// An address block, as in `TRUSTED_PROXIES=10.40.0.0/16,127.0.0.1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Network {
    base: IpAddr,
    prefix: u8,
}

impl Network {
    pub fn parse(text: &str) -> Result<Self, String> {
        let (ip, prefix) = match text.trim().split_once('/') {
            Some((ip, p)) => (ip, Some(p)),
            None => (text.trim(), None),
        };
        let base: IpAddr = ip
            .parse()
            .map_err(|_| format!("{text:?} is not an address or CIDR block"))?;
        let max = if base.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("{text:?} has a bad prefix length"))?,
        };
        Ok(Self { base, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let bits = |ip: IpAddr| -> u128 {
            match ip {
                IpAddr::V4(v4) => u128::from(u32::from(v4)) << 96,
                IpAddr::V6(v6) => u128::from(v6),
            }
        };
        if self.base.is_ipv4() != ip.is_ipv4() {
            return false;
        }
        let shift = u32::from(if self.base.is_ipv4() { 32 } else { 128 } - self.prefix);
        let mask = if self.prefix == 0 {
            0
        } else {
            u128::MAX << (shift + if self.base.is_ipv4() { 96 } else { 0 })
        };
        bits(self.base) & mask == bits(ip) & mask
    }
}

pub struct State {
    /// The catalog, the accounts and the build history.
    pub store: Store,
    /// `site.toml` (currency, base URL) and the shipped `images/`.
    pub content_dir: PathBuf,
    /// The folder of theme folders, for the admin's previews (the embedded
    /// default theme when the shop's is not there).
    pub themes_dir: PathBuf,
    /// Wakes the rebuild worker: a local write, or a rebuild asked for.
    worker: Notify,
    /// A rebuild was asked for, whether or not the catalog changed.
    forced: AtomicBool,
    /// SIGTERM arrived: `/readyz` fails while requests drain.
    pub draining: AtomicBool,
    pub sessions: Sessions,
    /// Proxies whose `X-Forwarded-For` and `X-Forwarded-Proto` are believed.
    pub trusted_proxies: Vec<Network>,
    /// Recent `GET /api/products` answers.
    pub lists: ListCache,
    /// Where uploads are spooled while they are checked (on disk: `/tmp`
    /// may be memory).
    pub upload_dir: PathBuf,
    /// The rebuild worker's image cache, where the admin finds small
    /// variants of uploads for its thumbnails.
    pub image_cache: Option<images::Cache>,
    /// The password checkers (`LOGIN_VERIFIES` of them).
    pub checkers: crate::login::Checkers,
    /// Requests that may be in flight at once (`API_MAX_IN_FLIGHT`).
    pub in_flight: Arc<Semaphore>,
}

/// Requests in flight at once unless `API_MAX_IN_FLIGHT` says.
pub const DEFAULT_IN_FLIGHT: usize = 512;

impl State {
    pub fn new(
        store: Store,
        content_dir: PathBuf,
        sessions: Sessions,
        trusted_proxies: Vec<Network>,
    ) -> Self {
        Self {
            store,
            content_dir,
            themes_dir: PathBuf::from("themes"),
            worker: Notify::new(),
            forced: AtomicBool::new(false),
            draining: AtomicBool::new(false),
            sessions,
            trusted_proxies,
            lists: ListCache::default(),
            upload_dir: std::env::temp_dir(),
            image_cache: None,
            checkers: crate::login::Checkers::new(crate::login::DEFAULT_VERIFIES),
            in_flight: Arc::new(Semaphore::new(DEFAULT_IN_FLIGHT)),
        }
    }

    /// At most `verifies` password checks, and `in_flight` requests, at once.
    pub fn with_limits(mut self, verifies: usize, in_flight: usize) -> Self {
        self.checkers = crate::login::Checkers::new(verifies);
        self.in_flight = Arc::new(Semaphore::new(in_flight.max(1)));
        self
    }

    /// Thumbnails come from the image cache in `dir` when it has them.
    pub fn with_image_cache(mut self, dir: PathBuf) -> Self {
        self.image_cache = Some(images::Cache::new(dir));
        self
    }

    /// Previews find the shop's theme in `dir`, as the builds do.
    pub fn with_themes_dir(mut self, dir: PathBuf) -> Self {
        self.themes_dir = dir;
        self
    }

    /// Spools uploads in `dir` rather than the system's temporary folder.
    pub fn with_upload_dir(mut self, dir: PathBuf) -> Self {
        self.upload_dir = dir;
        self
    }

    /// The client's address and whether it reached the load balancer over
    /// HTTPS: from `X-Forwarded-For` and `X-Forwarded-Proto` when the peer is
    /// a trusted proxy, else the peer itself.
    pub fn client(&self, req: &poem::Request) -> (Option<IpAddr>, bool) {
        let peer = req.remote_addr().as_socket_addr().map(|a| a.ip());
        let trusted = peer.is_some_and(|ip| self.trusted_proxies.iter().any(|n| n.contains(ip)));
        if !trusted {
            return (peer, false);
        }
        // The proxy's own entry is the last: of the last header line, after
        // any the client sent.
        let last = |name: &str| {
            req.headers()
                .get_all(name)
                .iter()
                .next_back()
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.rsplit(',').next())
                .map(str::trim)
        };
        let forwarded = last("x-forwarded-for").and_then(|v| v.parse().ok());
        let https = last("x-forwarded-proto").is_some_and(|p| p.eq_ignore_ascii_case("https"));
        (forwarded.or(peer), https)
    }

    /// This instance changed the catalog: forget cached lists, wake the worker.
    pub fn catalog_written(&self) {
        self.lists.clear();
        self.worker.notify_one();
    }

    pub fn request_rebuild(&self) {
        self.forced.store(true, Ordering::SeqCst);
        self.worker.notify_one();
    }

    pub async fn worker_woken(&self) {
        self.worker.notified().await;
    }

    /// Whether a rebuild was asked for since the last call.
    pub fn take_forced(&self) -> bool {
        self.forced.swap(false, Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trusted_proxy_s_own_entry_is_believed() {
        use poem::http::uri::Scheme;
        use poem::web::{LocalAddr, RemoteAddr};
        let (parts, ()) = poem::http::Request::builder()
            .header("x-forwarded-for", "6.6.6.6")
            .header("x-forwarded-for", "7.7.7.7, 192.0.2.7")
            .header("x-forwarded-proto", "https")
            .body(())
            .unwrap()
            .into_parts();
        let peer = RemoteAddr(poem::Addr::SocketAddr("10.40.0.9:80".parse().unwrap()));
        let parts = poem::RequestParts::from((parts, LocalAddr::default(), peer, Scheme::HTTP));
        let req = poem::Request::from_parts(parts, poem::Body::empty());
        let content = std::path::PathBuf::from("content");
        let store = Store::Files(crate::files::Files::new(&content, &content));
        let sessions = Sessions::new(&[7u8; 32]).unwrap();
        let behind = State::new(
            store,
            content.clone(),
            sessions,
            vec![Network::parse("10.40.0.0/16").unwrap()],
        );
        assert_eq!(
            behind.client(&req),
            (Some("192.0.2.7".parse().unwrap()), true)
        );
        let store = Store::Files(crate::files::Files::new(&content, &content));
        let direct = State::new(
            store,
            content,
            Sessions::new(&[7u8; 32]).unwrap(),
            Vec::new(),
        );
        assert_eq!(
            direct.client(&req),
            (Some("10.40.0.9".parse().unwrap()), false),
            "an untrusted peer"
        );
    }

    #[test]
    fn networks_contain_their_addresses() {
        let net = Network::parse("10.40.0.0/16").unwrap();
        assert!(net.contains("10.40.3.7".parse().unwrap()));
        assert!(!net.contains("10.41.0.1".parse().unwrap()));
        assert!(!net.contains("::1".parse().unwrap()));
        let one = Network::parse("127.0.0.1").unwrap();
        assert!(one.contains("127.0.0.1".parse().unwrap()));
        assert!(!one.contains("127.0.0.2".parse().unwrap()));
        assert!(
            Network::parse("::/0")
                .unwrap()
                .contains("2001:db8::1".parse().unwrap())
        );
        assert!(Network::parse("10.0.0.0/33").is_err());
        assert!(Network::parse("nonsense").is_err());
    }
}
