//! A tiny loopback HTTP proxy for the proxy tests: CONNECT tunnels (`HTTPS_PROXY`)
//! and plain http requests forwarded one per connection (`HTTP_PROXY`).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

/// A minimal HTTP proxy on loopback that records where it tunnelled (CONNECT,
/// for `HTTPS_PROXY`) or forwarded (plain http, for `HTTP_PROXY`) to.
pub struct ConnectProxy {
    pub port: u16,
    targets: Arc<Mutex<Vec<String>>>,
}

impl ConnectProxy {
    pub fn start() -> ConnectProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let port = listener.local_addr().expect("addr").port();
        let targets = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&targets);
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let seen = Arc::clone(&seen);
                std::thread::spawn(move || tunnel(client, &seen));
            }
        });
        ConnectProxy { port, targets }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The `host:port` of every tunnel opened (or plain request forwarded) so far.
    pub fn targets(&self) -> Vec<String> {
        self.targets.lock().expect("targets").clone()
    }
}

fn tunnel(mut client: TcpStream, seen: &Mutex<Vec<String>>) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match client.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return,
        }
        if head.len() > 16 * 1024 {
            return;
        }
    }
    let text = String::from_utf8_lossy(&head).to_string();
    let mut first = text.split_whitespace();
    let method = first.next().unwrap_or_default().to_owned();
    let Some(target) = first.next().map(str::to_owned) else {
        return;
    };
    // A plain http request in absolute form (`HTTP_PROXY`): forwarded in
    // origin form, one request per connection.
    let forwarded = match target.strip_prefix("http://") {
        Some(rest) if method != "CONNECT" => {
            let (authority, path) = match rest.find('/') {
                Some(i) => (&rest[..i], &rest[i..]),
                None => (rest, "/"),
            };
            let version = first.next().unwrap_or("HTTP/1.1");
            let mut out = format!("{method} {path} {version}\r\n");
            for line in text.split("\r\n").skip(1).filter(|l| !l.is_empty()) {
                let name = line.split(':').next().unwrap_or_default().trim();
                if !["connection", "proxy-connection", "keep-alive"]
                    .iter()
                    .any(|h| name.eq_ignore_ascii_case(h))
                {
                    out.push_str(line);
                    out.push_str("\r\n");
                }
            }
            out.push_str("Connection: close\r\n\r\n");
            Some((authority.to_owned(), out))
        }
        _ if method == "CONNECT" => None,
        _ => {
            let _ =
                client.write_all(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n");
            return;
        }
    };
    let target = forwarded.as_ref().map_or(target, |(a, _)| a.clone());
    seen.lock().expect("targets").push(target.clone());
    let Ok(mut upstream) = TcpStream::connect(&target) else {
        let _ = client.write_all(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n");
        return;
    };
    let opened = match &forwarded {
        Some((_, head)) => upstream.write_all(head.as_bytes()),
        None => client.write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n"),
    };
    if opened.is_err() {
        return;
    }
    let (Ok(mut c2), Ok(mut u2)) = (client.try_clone(), upstream.try_clone()) else {
        return;
    };
    let mut upstream = upstream;
    let forward = std::thread::spawn(move || {
        let _ = std::io::copy(&mut c2, &mut upstream);
        let _ = upstream.shutdown(std::net::Shutdown::Write);
    });
    let _ = std::io::copy(&mut u2, &mut client);
    let _ = client.shutdown(std::net::Shutdown::Write);
    let _ = forward.join();
}
