//! The api read as an attacker would: sessions that must end, a login
//! under a burst of guesses, bodies far over their limit, forged logins,
//! HSTS, and the embedded default's secrets and errors. Each against the
//! real binary (and the real local PostgreSQL where there is a database).

use std::collections::HashMap;
use std::io::{Read as _, Write as _};
use std::path::Path;

use super::*;

/// Password checks that may run at once in these tests.
const VERIFIES: usize = 2;

/// An api on a fresh database of its own that believes 127.0.0.1 as its
/// proxy (so a test can speak for many client addresses, and for HTTPS).
fn start(log: Option<std::path::PathBuf>) -> Api {
    let db = fresh_shop_db();
    let mut api = Api::start_with(&Setup {
        primary: db.url.clone(),
        env: vec![
            ("TRUSTED_PROXIES", "127.0.0.1".into()),
            ("LOGIN_VERIFIES", VERIFIES.to_string()),
            ("RUST_LOG", "info,api=debug".into()),
        ],
        log,
        ..Setup::default()
    });
    api._db = Some(db);
    api
}

fn db_i64(api: &Api, sql: &str, key: &str) -> i64 {
    runtime().block_on(async {
        let target = Target::parse(&api._db.as_ref().unwrap().url, Role::Primary).unwrap();
        let client = target.connect().await.unwrap();
        client
            .query_opt(sql, &[&key])
            .await
            .unwrap()
            .map_or(0, |r| r.get(0))
    })
}

/// Attempts counted under a key.
fn attempts(api: &Api, key: &str) -> i64 {
    db_i64(
        api,
        "SELECT attempts::bigint FROM login_attempts WHERE key = $1",
        key,
    )
}

/// `name=value` of a `Set-Cookie`.
fn pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().to_owned()
}

fn status_with_cookie(api: &Api, method: &str, path: &str, cookie: &str, csrf: &str) -> u16 {
    call(
        ureq::request(method, &format!("{}{path}", api.url))
            .set("Cookie", cookie)
            .set("X-CSRF-Token", csrf)
            .call(),
    )
    .0
}

/// Logs in through the admin's form, as a browser: the session's cookie.
fn form_login(api: &Api, password: &str, headers: &[(&str, &str)]) -> (u16, Option<String>) {
    let agent = ureq::AgentBuilder::new().redirects(0).build();
    let with = |mut r: ureq::Request| {
        for (n, v) in headers {
            r = r.set(n, v);
        }
        r
    };
    let page = with(agent.get(&format!("{}/admin/login", api.url)))
        .call()
        .unwrap();
    let login_cookie = pair(page.header("set-cookie").unwrap());
    let html = page.into_string().unwrap();
    let at = html.find("name=\"csrf\" value=\"").unwrap() + 19;
    let csrf = &html[at..at + html[at..].find('"').unwrap()];
    let form = format!(
        "email=owner%40shop.example&password={}&csrf={}&next=%2Fadmin%2Fproducts",
        password.replace(' ', "+"),
        csrf.replace('=', "%3D")
            .replace('+', "%2B")
            .replace('/', "%2F")
    );
    let response = match with(agent.post(&format!("{}/admin/login", api.url)))
        .set("Cookie", &login_cookie)
        .set("Content-Type", "application/x-www-form-urlencoded")
        .send_string(&form)
    {
        Ok(r) | Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{e}"),
    };
    let session = response
        .all("set-cookie")
        .into_iter()
        .find(|c| c.contains("shopfront_session=") && !c.contains("Max-Age=0"))
        .map(str::to_owned);
    (response.status(), session)
}

fn run_cli(setup: &Setup, args: &[&str], stdin: &str) {
    let mut child = api_cmd(setup)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn sessions_end_at_logout_a_new_password_and_everywhere_else() {
    let api = start(None);
    let setup = Setup {
        primary: api._db.as_ref().unwrap().url.clone(),
        ..Setup::default()
    };
    let (status, a, a_cookie) = login(&api, "a long enough password");
    assert_eq!(status, 200, "{a}");
    let (_, b, b_cookie) = login(&api, "a long enough password");
    let (a_cookie, b_cookie) = (pair(&a_cookie.unwrap()), pair(&b_cookie.unwrap()));
    let (a_csrf, b_csrf) = (
        a["csrf_token"].as_str().unwrap(),
        b["csrf_token"].as_str().unwrap(),
    );
    let live =
        |cookie: &str, csrf: &str| status_with_cookie(&api, "GET", "/api/rebuilds", cookie, csrf);
    assert_eq!(
        (live(&a_cookie, a_csrf), live(&b_cookie, b_csrf)),
        (200, 200)
    );

    // 1. A cookie copied before logout is refused after it.
    let copied = a_cookie.clone();
    assert_eq!(
        status_with_cookie(&api, "DELETE", "/api/session", &a_cookie, a_csrf),
        204
    );
    assert_eq!(live(&copied, a_csrf), 401, "a cookie copied before logout");
    assert_eq!(live(&b_cookie, b_csrf), 200, "the other session lives on");

    // "Log out everywhere else", from the admin: B ends, this one stays.
    let (status, c_cookie) = form_login(
        &api,
        "a long enough password",
        &[("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0")],
    );
    assert_eq!(status, 303);
    let browser = Browser {
        api: &api,
        agent: ureq::AgentBuilder::new().redirects(0).build(),
        cookie: pair(&c_cookie.unwrap()),
    };
    let (status, page, _) = browser.get("/admin/sessions");
    assert_eq!(status, 200);
    assert!(page.contains("Chrome on Linux"), "{page}");
    assert!(page.contains("(this one)"), "{page}");
    assert!(page.contains("127.0.0.1"), "where from: {page}");
    let at = page.find("name=\"csrf\" value=\"").unwrap() + 19;
    let csrf = page[at..at + page[at..].find('"').unwrap()].to_owned();
    let (status, _, location) = browser.post(
        "/admin/sessions/end",
        "application/x-www-form-urlencoded",
        format!("csrf={}", csrf.replace('=', "%3D")).as_bytes(),
    );
    assert_eq!(status, 303);
    assert_eq!(
        location.as_deref(),
        Some("/admin/sessions?done=sessions-ended&count=1")
    );
    assert_eq!(live(&b_cookie, b_csrf), 401, "logged out everywhere else");
    assert_eq!(browser.get("/admin/sessions").0, 200, "but here");

    // A new password ends every session, whoever set it and wherever.
    let copied = browser.cookie.clone();
    run_cli(
        &setup,
        &["admin", "set-password", "--email", "owner@shop.example"],
        "another long password\n",
    );
    assert_eq!(
        live(&copied, ""),
        401,
        "a cookie copied before a password change"
    );
    let (status, page, _) = browser.get("/admin/sessions");
    assert_eq!(status, 303, "the admin asks to log in again: {page}");

    // Removing the user ends theirs too.
    let (status, _, d_cookie) = login(&api, "another long password");
    assert_eq!(status, 200);
    let d_cookie = pair(&d_cookie.unwrap());
    assert_eq!(live(&d_cookie, ""), 200);
    run_cli(
        &setup,
        &["admin", "remove-user", "--email", "owner@shop.example"],
        "",
    );
    assert_eq!(live(&d_cookie, ""), 401, "a removed user's session");
}

/// Sends `n` wrong-password logins for `email` at once, each from the
/// address `from(i)`: the statuses.
fn burst(api: &Api, n: usize, email: &str, from: impl Fn(usize) -> String) -> Vec<u16> {
    let token = api.login_token();
    let go = std::sync::Barrier::new(n);
    std::thread::scope(|scope| {
        let threads: Vec<_> = (0..n)
            .map(|i| {
                let (token, go, address) = (&token, &go, from(i));
                scope.spawn(move || {
                    go.wait();
                    let sent = ureq::post(&format!("{}/api/session", api.url))
                        .set("Cookie", &token.cookie)
                        .set("X-CSRF-Token", &token.token)
                        .set("X-Forwarded-For", &address)
                        .send_json(json!({"email": email, "password": "not the password at all"}));
                    match sent {
                        Ok(r) | Err(ureq::Error::Status(_, r)) => r.status(),
                        Err(e) => panic!("a login of the burst got no answer: {e}"),
                    }
                })
            })
            .collect();
        threads.into_iter().map(|t| t.join().unwrap()).collect()
    })
}

fn tally(statuses: &[u16]) -> HashMap<u16, usize> {
    let mut counts = HashMap::new();
    for s in statuses {
        *counts.entry(*s).or_insert(0) += 1;
    }
    counts
}

#[test]
fn a_burst_of_guesses_is_bounded_counted_and_does_not_lock_the_owner_out() {
    let log = tempfile::NamedTempFile::new().unwrap();
    let api = start(Some(log.path().to_owned()));
    let owner = "owner@shop.example";

    // 4. An e-mail address of 10 KB: refused before any work, and counted.
    let long = format!("{}@shop.example", "a".repeat(10_000));
    let (status, problem, _) = login_as(
        &api,
        &api.login_token(),
        &long,
        "x",
        &[("X-Forwarded-For", "192.0.2.200")],
    );
    assert_eq!(status, 422, "{problem}");
    assert_eq!(attempts(&api, "address:192.0.2.200"), 1, "counted");

    // 2. 300 at once for one account from one address.
    let statuses = burst(&api, 300, owner, |_| "203.0.113.9".into());
    let counts = tally(&statuses);
    eprintln!("one address: {counts:?}");
    let checked = counts.get(&401).copied().unwrap_or(0);
    assert!(
        checked as i64 <= api::login::PER_PAIR,
        "{checked} passwords were checked: {counts:?}"
    );
    assert!(
        statuses.iter().all(|s| [401, 429, 503].contains(s)),
        "{counts:?}"
    );
    // Every attempt is counted against its address; those that found a
    // free password check against the account and address too (a 503 costs
    // nothing there).
    assert_eq!(
        attempts(&api, "address:203.0.113.9"),
        300,
        "every attempt is counted"
    );
    let pair = attempts(&api, &format!("pair:{owner}|203.0.113.9"));
    let refused_at_once = counts.get(&503).copied().unwrap_or(0) as i64;
    assert!(
        pair <= 300 - refused_at_once && pair >= checked as i64,
        "{pair}"
    );

    // 3. Right after, the owner at another address logs in.
    let owner_logs_in = || {
        login_as(
            &api,
            &api.login_token(),
            owner,
            "a long enough password",
            &[("X-Forwarded-For", "198.51.100.4")],
        )
    };
    let (status, body, _) = owner_logs_in();
    assert_eq!(status, 200, "the owner is not locked out: {body}");

    // 300 at once from 300 addresses: at most VERIFIES checks at a time,
    // the rest answered at once; the owner's known address still works.
    let statuses = burst(&api, 300, owner, |i| {
        format!("10.77.{}.{}", i / 200, i % 200 + 1)
    });
    let counts = tally(&statuses);
    eprintln!("300 addresses: {counts:?}");
    assert!(
        statuses.iter().all(|s| [401, 429, 503].contains(s)),
        "{counts:?}"
    );
    assert!(counts.get(&503).copied().unwrap_or(0) > 0, "{counts:?}");
    let counted: i64 = (0..300)
        .map(|i| attempts(&api, &format!("address:10.77.{}.{}", i / 200, i % 200 + 1)))
        .sum();
    assert_eq!(counted, 300, "every attempt is counted");
    let rss = api.peak_rss();
    eprintln!("peak RSS after 600 guesses: {} MiB", rss >> 20);
    assert!(rss < 300 << 20, "peak RSS {} MiB", rss >> 20);

    // The server's own account of its checks: never more than VERIFIES at once.
    let log = std::fs::read_to_string(log.path()).unwrap();
    let running: Vec<usize> = log
        .lines()
        .filter(|l| l.contains("checking a password"))
        .filter_map(|l| l.split("running=").nth(1))
        .filter_map(|v| v.split_whitespace().next()?.parse().ok())
        .collect();
    assert!(!running.is_empty(), "the log says when it checks");
    assert!(
        running.iter().all(|r| *r <= VERIFIES),
        "{:?}",
        running.iter().max()
    );
    assert_eq!(
        running.len(),
        checked + 1 + counts.get(&401).copied().unwrap_or(0),
        "each 401 and the owner's login were checked, nothing else"
    );

    let (status, body, _) = owner_logs_in();
    assert_eq!(status, 200, "the owner's known address: {body}");
}

/// Sends a request with a body of `length` bytes of `x` (unless the
/// server answers first) over a plain socket: the status line.
fn send_large(api: &Api, path: &str, length: usize, expect: bool) -> String {
    let address = api.url.trim_start_matches("http://");
    let mut socket = std::net::TcpStream::connect(address).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let expect = if expect {
        "Expect: 100-continue\r\n"
    } else {
        ""
    };
    write!(
        socket,
        "POST {path} HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\nContent-Length: {length}\r\n{expect}\r\n"
    )
    .unwrap();
    if expect.is_empty() {
        let chunk = vec![b'x'; 64 * 1024];
        let mut sent = 0;
        while sent < length {
            let n = chunk.len().min(length - sent);
            if socket.write_all(&chunk[..n]).is_err() {
                break;
            }
            sent += n;
        }
    }
    let mut answer = vec![0u8; 4096];
    let n = socket.read(&mut answer).unwrap();
    String::from_utf8_lossy(&answer[..n])
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn a_body_far_over_its_limit_is_refused_without_being_held() {
    let api = start(None);
    // Warm up: the pools, the templates.
    for _ in 0..3 {
        let _ = api.get("/api/products").call();
        let _ = api.get("/admin/login").call();
        let _ = send_large(&api, "/api/products", 100, false);
    }
    let before = api.peak_rss();
    for path in [
        "/admin/login",
        "/api/products",
        "/api/images",
        "/admin/import",
    ] {
        let status = send_large(&api, path, 50 << 20, false);
        assert!(status.contains(" 413 "), "{path}: {status}");
        let status = send_large(&api, path, 50 << 20, true);
        assert!(
            status.contains(" 413 "),
            "{path}, waiting to send: {status}"
        );
    }
    let grown = api.peak_rss().saturating_sub(before);
    eprintln!(
        "peak RSS grew by {} KiB for 8 bodies of 50 MiB",
        grown >> 10
    );
    assert!(grown < 10 << 20, "grew by {} KiB", grown >> 10);
    // The default is 64 KiB, the login's too.
    assert!(send_large(&api, "/admin/login", 65 * 1024, false).contains(" 413 "));
}

#[test]
fn a_login_needs_its_forms_token_and_https_gets_host_cookies_and_hsts() {
    let api = start(None);
    // 6. Without the login form's token, or with another cookie's.
    let agent = ureq::AgentBuilder::new().redirects(0).build();
    let response = match agent
        .post(&format!("{}/admin/login", api.url))
        .set("Content-Type", "application/x-www-form-urlencoded")
        .send_string("email=owner%40shop.example&password=a+long+enough+password")
    {
        Ok(r) | Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(response.status(), 403, "the admin's form without its token");
    assert!(
        response
            .all("set-cookie")
            .iter()
            .all(|c| !c.contains("shopfront_session="))
    );
    let (status, problem, _) =
        call(ureq::post(&format!("{}/api/session", api.url)).send_json(
            json!({"email": "owner@shop.example", "password": "a long enough password"}),
        ));
    assert_eq!(status, 403, "the JSON login without its token: {problem}");
    let (mine, theirs) = (api.login_token(), api.login_token());
    let forged = LoginToken {
        token: theirs.token,
        cookie: mine.cookie,
    };
    let (status, _, _) = login_as(
        &api,
        &forged,
        "owner@shop.example",
        "a long enough password",
        &[],
    );
    assert_eq!(status, 403, "another form's token");

    // 7. Over HTTPS (a trusted proxy says so): HSTS, and __Host- cookies.
    let https = [("X-Forwarded-Proto", "https")];
    for path in [
        "/admin/login",
        "/api/products",
        "/api/products/999999",
        "/nowhere",
    ] {
        let response = match ureq::get(&format!("{}{path}", api.url))
            .set("X-Forwarded-Proto", "https")
            .call()
        {
            Ok(r) | Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(
            response.header("strict-transport-security"),
            Some("max-age=63072000; includeSubDomains"),
            "{path}"
        );
    }
    let (status, cookie) = form_login(&api, "a long enough password", &https);
    assert_eq!(status, 303);
    let cookie = cookie.unwrap();
    assert!(cookie.starts_with("__Host-shopfront_session="), "{cookie}");
    for attribute in ["Secure", "HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    let host = pair(&cookie);
    let plain = host.trim_start_matches("__Host-").to_owned();
    let over_https = |cookie: &str| {
        call(
            ureq::get(&format!("{}/api/rebuilds", api.url))
                .set("X-Forwarded-Proto", "https")
                .set("Cookie", cookie)
                .call(),
        )
        .0
    };
    assert_eq!(over_https(&host), 200);
    assert_eq!(
        over_https(&plain),
        401,
        "over HTTPS a plain cookie (a planted one) is not read"
    );
}

/// Every file under `dir`, by its path inside it.
fn tree(dir: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut files = std::collections::BTreeMap::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(at) = stack.pop() {
        for entry in std::fs::read_dir(&at).unwrap() {
            let path = entry.unwrap().path();
            let name = path.strip_prefix(dir).unwrap().display().to_string();
            if path.is_dir() {
                files.insert(format!("{name}/"), Vec::new());
                stack.push(path);
            } else {
                files.insert(name, std::fs::read(&path).unwrap());
            }
        }
    }
    files
}

#[test]
fn the_embedded_default_keeps_secrets_private_errors_generic_and_imports_whole() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let content = dir.path().join("content");
    copy_tree(&repo_root().join("content"), &content);
    let state = dir.path().join("state");
    let setup = Setup {
        content: Some(content.clone()),
        state: Some(state.clone()),
        ..Setup::default()
    };
    let api = Api::start_with(&setup);
    let (status, _, cookie) = login(&api, "a long enough password");
    assert_eq!(status, 200);
    for file in ["accounts.json", "sessions.json"] {
        let mode = std::fs::metadata(state.join(file))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{file} is {mode:o}");
    }

    // An import that fails midway (a folder where its second new product's
    // file goes) leaves every product file as it was.
    let browser = Browser {
        api: &api,
        agent: ureq::AgentBuilder::new().redirects(0).build(),
        cookie: pair(&cookie.unwrap()),
    };
    let (_, export, _) = browser.get("/admin/export.csv");
    let mut csv = export.trim_end().to_owned();
    let header: Vec<&str> = export
        .lines()
        .next()
        .unwrap()
        .split(',')
        .map(|c| c.trim_matches('"'))
        .collect();
    for name in ["Import Tray One", "Import Tray Two", "Import Tray Three"] {
        let row: Vec<String> = header
            .iter()
            .map(|column| match *column {
                "name" => name.to_owned(),
                "price" => "12.00".into(),
                "category" => "Kitchen".into(),
                "stock_quantity" => "3".into(),
                "description" => "A tray.".into(),
                _ => String::new(),
            })
            .collect();
        csv.push('\n');
        csv.push_str(&row.join(","));
    }
    let products = content.join("products");
    std::fs::create_dir(products.join("import-tray-two.md")).unwrap();
    let before = tree(&products);
    let csrf = browser.csrf();
    let encode = |text: &str| {
        text.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    let form = format!("csrf={}&csv={}", encode(&csrf), encode(&csv));
    let (status, page, _) = browser.post(
        "/admin/import/apply",
        "application/x-www-form-urlencoded",
        form.as_bytes(),
    );
    let errors: Vec<&str> = page.lines().filter(|l| l.contains("<li")).collect();
    assert_eq!(status, 503, "{errors:#?}");
    assert_eq!(
        tree(&products),
        before,
        "the product files are as they were"
    );

    // 503 bodies name no path, in the JSON API or the admin.
    assert!(!page.contains(dir.path().to_str().unwrap()), "{page}");
    std::fs::remove_dir(products.join("import-tray-two.md")).unwrap();
    std::fs::rename(&products, dir.path().join("moved")).unwrap();
    std::fs::write(&products, "not a folder").unwrap();
    let (status, problem, _) = call(api.get("/api/products").call());
    assert_eq!(status, 503, "{problem}");
    let text = problem.to_string();
    assert!(!text.contains(dir.path().to_str().unwrap()), "{text}");
    let (status, page, _) = browser.get("/admin/products");
    assert_eq!(status, 503);
    assert!(!page.contains(dir.path().to_str().unwrap()), "{page}");
}
