//! `generator serve`: serves the site, reloads on change, survives a bad edit.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;

/// Kills the server when the test ends, pass or fail.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn get(port: u16, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

fn poll(port: u16, since: u64) -> serde_json::Value {
    let (status, body) = get(port, &format!("/__shopfront/poll?since={since}"));
    assert_eq!(status, 200, "{body}");
    // tiny_http may use chunked encoding; take the JSON object.
    let start = body.find('{').unwrap();
    let end = body.rfind('}').unwrap();
    serde_json::from_str(&body[start..=end]).unwrap()
}

#[test]
fn serves_reloads_and_survives_a_bad_edit() {
    let shop = Shop::new(&[p(1, "Walnut Tray", "Home Office")], 10);
    let port = free_port();
    let themes = repo_root().join("themes");
    let child = generator_cmd()
        .args([
            "serve",
            "--content",
            "content",
            "--themes",
            themes.to_str().unwrap(),
            "--port",
            &port.to_string(),
        ])
        .current_dir(shop.dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut server = Server(child);
    let mut line = String::new();
    BufReader::new(server.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(
        line.starts_with(&format!("serving http://127.0.0.1:{port}/")),
        "{line}"
    );

    let (status, home) = get(port, "/");
    assert_eq!(status, 200);
    assert!(
        home.contains("<script src=\"/__shopfront/live.js\" defer></script></body>"),
        "live reload is injected"
    );
    let (status, _) = get(port, "/products/walnut-tray");
    assert_eq!(status, 301, "a directory URL without its slash redirects");
    let (status, missing) = get(port, "/nope/");
    assert_eq!(status, 404);
    assert!(missing.contains("Page not found"));
    let (_, js) = get(port, "/__shopfront/live.js");
    assert!(js.contains("location.reload()"));

    let generation = poll(port, u64::MAX)["generation"].as_u64().unwrap();

    // An edit is picked up and rebuilt.
    let mut edited = p(1, "Walnut Tray", "Home Office");
    edited.price = "55.00".into();
    shop.write_product(&edited);
    let state = poll(port, generation);
    assert!(state["error"].is_null(), "{state}");
    let generation = state["generation"].as_u64().unwrap();
    let (_, page) = get(port, "/products/walnut-tray/");
    assert!(page.contains("€55.00"), "the new price is served");

    // A bad edit is reported, and the last good site keeps being served.
    edited.price = "-1".into();
    shop.write_product(&edited);
    let started = Instant::now();
    let mut state = poll(port, generation);
    while state["error"].is_null() && started.elapsed() < Duration::from_secs(60) {
        state = poll(port, state["generation"].as_u64().unwrap());
    }
    let error = state["error"]
        .as_str()
        .expect("the error is reported to the page");
    assert!(
        error.contains("walnut-tray.md:5: field `price`: \"-1\" is negative"),
        "{error}"
    );
    let (status, page) = get(port, "/products/walnut-tray/");
    assert_eq!(status, 200);
    assert!(
        page.contains("€55.00"),
        "the last good site is still served"
    );

    // Fixing it recovers: the watcher kept running.
    edited.price = "60.00".into();
    shop.write_product(&edited);
    let mut state = poll(port, state["generation"].as_u64().unwrap());
    while !state["error"].is_null() && started.elapsed() < Duration::from_secs(60) {
        state = poll(port, state["generation"].as_u64().unwrap());
    }
    assert!(state["error"].is_null(), "{state}");
    assert!(get(port, "/products/walnut-tray/").1.contains("€60.00"));
}
