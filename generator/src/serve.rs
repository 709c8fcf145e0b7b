//! `generator serve`: build, serve the site from memory on 127.0.0.1, watch the
//! content and theme folders, rebuild on change and reload open pages.
//!
//! A failed rebuild never stops the server: the last good site keeps being
//! served, the error is printed and shown on every open page, and the watcher
//! keeps running.

use std::path::PathBuf;
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use notify_debouncer_full::notify::RecursiveMode;
use notify_debouncer_full::{DebounceEventResult, new_debouncer};
use tiny_http::{Header, Request, Response, Server};

use pipeline::{self, BuildConfig};
use render::site::Site;
use render::urls;

/// Where the live-reload client lives; only the dev server answers it.
pub const LIVE_RELOAD_JS: &str = "/__shopfront/live.js";
const POLL: &str = "/__shopfront/poll";
/// How long a poll waits for a change before answering anyway.
const POLL_WAIT: Duration = Duration::from_secs(25);

#[derive(Debug, Clone)]
pub struct ServeConfig {
    pub build: BuildConfig,
    pub port: u16,
}

#[derive(Default)]
struct State {
    site: Option<Arc<Site>>,
    /// Bumped after every build attempt, good or bad.
    generation: u64,
    error: Option<String>,
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    changed: Condvar,
}

impl Shared {
    fn rebuild(&self, config: &BuildConfig) {
        let started = Instant::now();
        let result = pipeline::build_from_content(config);
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.generation += 1;
        match result {
            Ok(built) => {
                eprintln!(
                    "rebuilt {} pages from {} products in {} ms",
                    built.site.html_pages(),
                    built.catalog.products.len(),
                    started.elapsed().as_millis()
                );
                state.site = Some(Arc::new(built.site));
                state.error = None;
            }
            Err(e) => {
                let message = format!("{e}");
                eprintln!("build failed (still serving the last good site):\n{message}");
                state.error = Some(message);
            }
        }
        self.changed.notify_all();
    }
}

/// Runs until the process is stopped.
pub fn serve(config: &ServeConfig) -> anyhow::Result<()> {
    let shared = Arc::new(Shared::default());
    shared.rebuild(&config.build);

    let (tx, rx) = mpsc::channel::<DebounceEventResult>();
    let mut debouncer = new_debouncer(Duration::from_millis(120), None, tx)
        .context("cannot start the file watcher")?;
    for dir in watched_dirs(&config.build) {
        debouncer
            .watch(&dir, RecursiveMode::Recursive)
            .with_context(|| format!("cannot watch {}", dir.display()))?;
    }
    let watcher_shared = Arc::clone(&shared);
    let build = config.build.clone();
    std::thread::spawn(move || {
        for result in rx {
            match result {
                Ok(events) if events.iter().any(|e| !e.kind.is_access()) => {
                    watcher_shared.rebuild(&build)
                }
                Ok(_) => {}
                Err(errors) => errors
                    .iter()
                    .for_each(|e| tracing::warn!("file watcher: {e}")),
            }
        }
    });

    let server = Server::http(("127.0.0.1", config.port)).map_err(|e| {
        anyhow::anyhow!(
            "cannot listen on 127.0.0.1:{}: {e}; pick another --port",
            config.port
        )
    })?;
    println!(
        "serving http://127.0.0.1:{}/ (Ctrl-C to stop); watching for changes",
        config.port
    );
    for request in server.incoming_requests() {
        let shared = Arc::clone(&shared);
        std::thread::spawn(move || {
            if let Err(e) = respond(&shared, request) {
                tracing::debug!("response not sent: {e}");
            }
        });
    }
    drop(debouncer);
    Ok(())
}

fn watched_dirs(config: &BuildConfig) -> Vec<PathBuf> {
    let mut dirs = vec![config.content_dir.clone()];
    if config.themes_dir.is_dir() {
        dirs.push(config.themes_dir.clone());
    }
    dirs
}

fn header(name: &str, value: &str) -> Header {
    Header::from_bytes(name.as_bytes(), value.as_bytes()).expect("valid header")
}

fn respond(shared: &Shared, request: Request) -> std::io::Result<()> {
    let raw = request.url().to_owned();
    let (path, query) = raw.split_once('?').unwrap_or((&raw, ""));
    let path = percent_decode(path);
    if path == LIVE_RELOAD_JS {
        let body = include_str!("serve/live.js");
        return request.respond(
            Response::from_string(body)
                .with_header(header("Content-Type", "text/javascript; charset=utf-8"))
                .with_header(header("Cache-Control", "no-store")),
        );
    }
    if path == POLL {
        let since: Option<u64> = query
            .split('&')
            .find_map(|kv| kv.strip_prefix("since="))
            .and_then(|v| v.parse().ok());
        let guard = shared.state.lock().unwrap_or_else(PoisonError::into_inner);
        let (state, _) = shared
            .changed
            .wait_timeout_while(
                guard,
                if since.is_some() {
                    POLL_WAIT
                } else {
                    Duration::ZERO
                },
                |s| Some(s.generation) == since,
            )
            .unwrap_or_else(PoisonError::into_inner);
        let body =
            serde_json::json!({"generation": state.generation, "error": state.error}).to_string();
        drop(state);
        return request.respond(
            Response::from_string(body)
                .with_header(header("Content-Type", "application/json"))
                .with_header(header("Cache-Control", "no-store")),
        );
    }

    let (site, error) = {
        let state = shared.state.lock().unwrap_or_else(PoisonError::into_inner);
        (state.site.clone(), state.error.clone())
    };
    let Some(site) = site else {
        let message = error.unwrap_or_else(|| "the site is still building".into());
        let body = inject(format!("<!doctype html><meta charset=utf-8><title>Build failed</title><body><h1>Build failed</h1><pre>{}</pre></body>", render::escape_html(&message)).as_bytes());
        return request.respond(
            Response::from_data(body)
                .with_status_code(500)
                .with_header(header("Content-Type", "text/html; charset=utf-8")),
        );
    };
    let key = urls::key_for(&path);
    if let Some(page) = site.get(&key) {
        let bytes = match page.body.read() {
            Ok(bytes) => bytes,
            // A photo's variant whose file left the image cache.
            Err(e) => {
                return request.respond(
                    Response::from_string(format!(
                        "cannot read {key}: {e}; save a file to rebuild"
                    ))
                    .with_status_code(500),
                );
            }
        };
        let body = if page.content_type.starts_with("text/html") {
            inject(&bytes)
        } else {
            bytes.into_owned()
        };
        return request.respond(
            Response::from_data(body)
                .with_header(header("Content-Type", page.content_type))
                .with_header(header("Cache-Control", "no-cache")),
        );
    }
    if !path.ends_with('/') && site.get(&format!("{key}/index.html")).is_some() {
        return request
            .respond(Response::empty(301).with_header(header("Location", &format!("{path}/"))));
    }
    let body = site
        .get(&urls::key_for(urls::NOT_FOUND))
        .and_then(|p| p.body.read().ok().map(|b| inject(&b)))
        .unwrap_or_else(|| b"not found".to_vec());
    request.respond(
        Response::from_data(body)
            .with_status_code(404)
            .with_header(header("Content-Type", "text/html; charset=utf-8")),
    )
}

/// Adds the live-reload client before `</body>`. Only the dev server does this;
/// built and published pages never carry it.
fn inject(html: &[u8]) -> Vec<u8> {
    let tag = format!("<script src=\"{LIVE_RELOAD_JS}\" defer></script>");
    let text = String::from_utf8_lossy(html);
    match text.rfind("</body>") {
        Some(at) => format!("{}{tag}{}", &text[..at], &text[at..]).into_bytes(),
        None => format!("{text}{tag}").into_bytes(),
    }
}

fn percent_decode(path: &str) -> String {
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Some(b) = std::str::from_utf8(&bytes[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn injects_before_body_end() {
        assert_eq!(
            String::from_utf8(inject(b"<html><body>x</body></html>")).unwrap(),
            format!("<html><body>x<script src=\"{LIVE_RELOAD_JS}\" defer></script></body></html>")
        );
    }

    #[test]
    fn decodes_paths() {
        assert_eq!(percent_decode("/products/caf%C3%A9/"), "/products/café/");
        assert_eq!(percent_decode("/a%2"), "/a%2");
        assert_eq!(percent_decode("/%zz"), "/%zz");
        assert_eq!(percent_decode("/%é"), "/%é");
    }
}
