//! A fault-injecting HTTP proxy for the S3/CloudFront stand-in: it logs every
//! request in order and, on requests that match a rule, answers 503 SlowDown,
//! resets the connection, or delays the answer.
//!
//! moto answers `Connection: close`, so every request has a connection of its
//! own and the proxy only needs to read the request head to decide.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// `503 SlowDown`, as S3 answers when throttling.
    SlowDown,
    /// Close the connection with a TCP reset before answering.
    Reset,
    /// Answer, but only after this long.
    Delay(Duration),
}

/// Applies `fault` to the first `times` requests whose method is `method` and
/// whose path contains `path`.
#[derive(Debug, Clone)]
pub struct Rule {
    pub method: &'static str,
    pub path: String,
    pub fault: Fault,
    pub times: usize,
}

impl Rule {
    pub fn new(method: &'static str, path: &str, fault: Fault, times: usize) -> Self {
        Self {
            method,
            path: path.to_owned(),
            fault,
            times,
        }
    }

    pub fn always(method: &'static str, path: &str, fault: Fault) -> Self {
        Self::new(method, path, fault, usize::MAX)
    }
}

/// One request as the proxy saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub fault: Option<Fault>,
}

#[derive(Default)]
struct State {
    rules: Vec<Rule>,
    log: Vec<Seen>,
}

pub struct Proxy {
    pub url: String,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    port: u16,
}

impl Proxy {
    /// Listens on a free loopback port and forwards to `upstream` (`host:port`).
    pub fn start(upstream: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(Mutex::new(State::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let upstream = upstream.to_owned();
        let (st, sp) = (state.clone(), stop.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if sp.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let (st, upstream) = (st.clone(), upstream.clone());
                std::thread::spawn(move || {
                    let _ = handle(conn, &upstream, &st);
                });
            }
        });
        Self {
            url: format!("http://127.0.0.1:{port}"),
            state,
            stop,
            port,
        }
    }

    pub fn set_rules(&self, rules: Vec<Rule>) {
        self.state.lock().unwrap().rules = rules;
    }

    /// Every request so far, in the order they arrived.
    pub fn log(&self) -> Vec<Seen> {
        self.state.lock().unwrap().log.clone()
    }

    pub fn clear_log(&self) {
        self.state.lock().unwrap().log.clear();
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn handle(mut client: TcpStream, upstream: &str, state: &Mutex<State>) -> std::io::Result<()> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if client.read(&mut byte)? == 0 {
            return Ok(());
        }
        head.push(byte[0]);
    }
    let line = String::from_utf8_lossy(&head);
    let mut words = line.split_whitespace();
    let method = words.next().unwrap_or_default().to_owned();
    let path = words.next().unwrap_or_default().to_owned();
    let fault = {
        let mut state = state.lock().unwrap();
        let fault = state
            .rules
            .iter_mut()
            .find(|r| r.times > 0 && r.method == method && path.contains(&r.path))
            .map(|r| {
                r.times -= 1;
                r.fault
            });
        state.log.push(Seen {
            method,
            path,
            fault,
        });
        fault
    };
    match fault {
        Some(Fault::SlowDown) => {
            // Read the body first, as S3 does, so the client sees the answer
            // rather than a reset.
            let expects_continue = line.to_ascii_lowercase().contains("expect: 100-continue");
            if !expects_continue {
                let length = line
                    .lines()
                    .find_map(|l| {
                        let (name, value) = l.split_once(':')?;
                        name.eq_ignore_ascii_case("content-length")
                            .then(|| value.trim().parse::<u64>().ok())?
                    })
                    .unwrap_or(0);
                std::io::copy(&mut (&mut client).take(length), &mut std::io::sink())?;
            }
            let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>";
            write!(
                client,
                "HTTP/1.1 503 Slow Down\r\nContent-Type: application/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            )?;
            return client.shutdown(Shutdown::Both);
        }
        Some(Fault::Reset) => {
            let socket = socket2::SockRef::from(&client);
            socket.set_linger(Some(Duration::ZERO))?;
            return Ok(());
        }
        Some(Fault::Delay(d)) => std::thread::sleep(d),
        None => {}
    }
    let mut server = TcpStream::connect(upstream)?;
    server.write_all(&head)?;
    let (mut from_server, mut to_client) = (server.try_clone()?, client.try_clone()?);
    let answer = std::thread::spawn(move || {
        let _ = std::io::copy(&mut from_server, &mut to_client);
        let _ = to_client.shutdown(Shutdown::Both);
    });
    let _ = std::io::copy(&mut client, &mut server);
    let _ = answer.join();
    Ok(())
}
