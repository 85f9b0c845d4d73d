//! A fault-injecting HTTP/1.1 proxy on loopback, put between the provider and
//! Azurite. It understands just enough HTTP/1.1 (start line, headers,
//! `Content-Length` and chunked bodies, keep-alive) to see request boundaries,
//! so faults apply to single requests and can be switched while a test runs:
//! pass, drop the connection, delay the response, answer with a canned status,
//! forward the request but lose the response (an ambiguous write), or hold a
//! request until the test lets it go (to race a writer between read and write).
//! Besides the faults, a round-trip latency can put the table "far away" for
//! benchmarks ([`FaultProxy::set_latency`]).
//!
//! It owns its own tokio runtime, so it works from plain `#[test]` functions too.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// What the proxy does to a request a rule matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Forward the request and the response unchanged.
    Pass,
    /// Close the client's connection without forwarding the request.
    DropConnection,
    /// Forward the request (it takes effect upstream), then hold the response
    /// this long before passing it on (if the client still waits).
    Delay(Duration),
    /// Answer with this HTTP status (an Azure-style error body) without
    /// forwarding: 503, 429, 500 ...
    Status(u16),
    /// Forward the request, read the response, and close the client's
    /// connection instead of answering: the write happened, the client cannot know.
    DropResponse,
    /// Hold the request before forwarding until [`FaultProxy::resume`].
    Pause,
    /// Like `DropResponse`, and from then on every request gets this status
    /// (the write landed, then the service stayed unreachable).
    DropResponseThenStatus(u16),
}

/// Which requests a rule applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    All,
    /// Requests that change an entity: PUT, MERGE, PATCH, DELETE and POST.
    Writes,
    /// Requests that only read (GET, HEAD).
    Reads,
    /// Entity-group transactions (`POST …/$batch`).
    Transactions,
    /// Point reads of one entity by its keys (`GET …(PartitionKey=…,RowKey=…)`).
    EntityReads,
}

impl Target {
    fn matches(self, method: &str, path: &str) -> bool {
        let write = matches!(method, "PUT" | "MERGE" | "PATCH" | "DELETE" | "POST");
        match self {
            Target::All => true,
            Target::Writes => write,
            Target::Reads => !write,
            Target::Transactions => method == "POST" && path.contains("$batch"),
            Target::EntityReads => !write && path.contains("RowKey="),
        }
    }
}

#[derive(Debug, Clone)]
struct Rule {
    target: Target,
    fault: Fault,
    /// How many more requests it applies to; `None` = until changed.
    remaining: Option<u32>,
}

/// One request as the proxy saw it.
#[derive(Debug, Clone)]
pub struct RequestRecord {
    pub method: String,
    /// Path and query, as sent.
    pub target: String,
    /// The `If-Match` header, if any.
    pub if_match: Option<String>,
    pub fault: Fault,
    /// The status the upstream (or the proxy) answered, if any was read.
    pub status: Option<u16>,
    pub at: Instant,
    /// For an entity-group transaction (`$batch`): each inner write's method
    /// and `If-Match` header, in order.
    pub batch_writes: Vec<(String, Option<String>)>,
    /// For a `$batch`: the statuses of the inner responses (a failed
    /// changeset answers with the one failing operation's status).
    pub batch_statuses: Vec<u16>,
}

/// The inner requests of a `$batch` body: (method, If-Match) per operation.
fn batch_writes(raw: &[u8]) -> Vec<(String, Option<String>)> {
    let text = String::from_utf8_lossy(raw);
    let mut out: Vec<(String, Option<String>)> = Vec::new();
    for line in text.lines().skip(1) {
        let line = line.trim_end();
        let first = line.split_whitespace().next().unwrap_or("");
        if ["MERGE", "PUT", "PATCH", "DELETE", "POST"].contains(&first) && line.contains("HTTP/1.1")
        {
            out.push((first.to_string(), None));
        } else if let (Some(last), Some((name, value))) = (out.last_mut(), line.split_once(':')) {
            if name.trim().eq_ignore_ascii_case("if-match") {
                last.1 = Some(value.trim().to_string());
            }
        }
    }
    out
}

/// The inner response statuses of a `$batch` answer.
fn batch_statuses(raw: &[u8]) -> Vec<u16> {
    String::from_utf8_lossy(raw)
        .lines()
        .skip(1)
        .filter(|l| l.starts_with("HTTP/1.1 "))
        .filter_map(|l| l.split_whitespace().nth(1)?.parse().ok())
        .collect()
}

#[derive(Default)]
struct State {
    rules: Vec<Rule>,
    log: Vec<RequestRecord>,
    injected: u64,
    paused_now: usize,
}

struct Shared {
    state: Mutex<State>,
    resume: tokio::sync::watch::Sender<u64>,
    upstream: String,
    /// The round trip added to every request and to every new connection.
    latency: Mutex<Duration>,
}

impl Shared {
    fn latency(&self) -> Duration {
        *self.latency.lock().expect("proxy latency")
    }
}

impl Shared {
    /// The fault for this request; counts it and uses up limited rules.
    fn pick(&self, method: &str, path: &str) -> Fault {
        let mut st = self.state.lock().expect("proxy state");
        let mut chosen = Fault::Pass;
        for rule in st.rules.iter_mut() {
            if rule.remaining == Some(0) || !rule.target.matches(method, path) {
                continue;
            }
            if let Some(n) = rule.remaining.as_mut() {
                *n -= 1;
            }
            chosen = rule.fault;
            break;
        }
        if chosen != Fault::Pass {
            st.injected += 1;
        }
        chosen
    }

    fn record(&self, rec: RequestRecord) -> usize {
        let mut st = self.state.lock().expect("proxy state");
        st.log.push(rec);
        st.log.len() - 1
    }

    fn set_status(&self, index: usize, status: u16) {
        if let Some(r) = self.state.lock().expect("proxy state").log.get_mut(index) {
            r.status = Some(status);
        }
    }
}

/// A running proxy; stops when dropped.
pub struct FaultProxy {
    runtime: Option<tokio::runtime::Runtime>,
    shared: Arc<Shared>,
    port: u16,
    account_path: String,
}

impl FaultProxy {
    /// Starts a proxy in front of the table endpoint `upstream_endpoint`
    /// (e.g. `http://127.0.0.1:10002/devstoreaccount1`).
    pub fn start(upstream_endpoint: &str) -> FaultProxy {
        let url = url::Url::parse(upstream_endpoint).expect("upstream endpoint is a URL");
        let upstream = format!(
            "{}:{}",
            url.host_str().expect("upstream host"),
            url.port_or_known_default().expect("upstream port")
        );
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("proxy runtime");
        let listener = runtime
            .block_on(TcpListener::bind("127.0.0.1:0"))
            .expect("bind proxy port");
        let port = listener.local_addr().expect("proxy addr").port();
        let (resume, _) = tokio::sync::watch::channel(0u64);
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            resume,
            upstream,
            latency: Mutex::new(Duration::ZERO),
        });
        let accept_shared = Arc::clone(&shared);
        runtime.spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let _ = client.set_nodelay(true);
                tokio::spawn(serve_connection(client, Arc::clone(&accept_shared)));
            }
        });
        FaultProxy {
            runtime: Some(runtime),
            shared,
            port,
            account_path: url.path().to_string(),
        }
    }

    /// The table endpoint to give the provider (same account path, proxy port).
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}{}", self.port, self.account_path)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Puts the table `round_trip` away: each request reaches the upstream
    /// half a round trip after it arrived and its response goes back half a
    /// round trip after the upstream answered; a new connection waits one
    /// round trip before its first request is read (TCP's handshake; a TLS
    /// handshake, which a real service would add, is not modelled). Applies
    /// on top of the faults; `Duration::ZERO` turns it off.
    pub fn set_latency(&self, round_trip: Duration) {
        *self.shared.latency.lock().expect("proxy latency") = round_trip;
    }

    /// From now on, every request `target` matches gets `fault` (replaces all rules).
    pub fn set(&self, target: Target, fault: Fault) {
        self.state().rules = vec![Rule {
            target,
            fault,
            remaining: None,
        }];
    }

    /// The next `count` requests `target` matches get `fault`; others pass
    /// (replaces all rules).
    pub fn set_for(&self, target: Target, fault: Fault, count: u32) {
        self.state().rules = vec![Rule {
            target,
            fault,
            remaining: Some(count),
        }];
    }

    /// Adds a rule after the existing ones (the first matching rule wins).
    pub fn add(&self, target: Target, fault: Fault, count: Option<u32>) {
        self.state().rules.push(Rule {
            target,
            fault,
            remaining: count,
        });
    }

    /// Everything passes again (held requests stay held until [`resume`](Self::resume)).
    pub fn clear(&self) {
        self.state().rules.clear();
    }

    /// Lets every request held by [`Fault::Pause`] go on.
    pub fn resume(&self) {
        self.shared.resume.send_modify(|g| *g += 1);
    }

    /// How many requests got a fault other than `Pass`.
    pub fn injected(&self) -> u64 {
        self.state().injected
    }

    /// Every request seen so far.
    pub fn log(&self) -> Vec<RequestRecord> {
        self.state().log.clone()
    }

    /// Waits until `count` requests are held by [`Fault::Pause`] at once.
    pub fn wait_paused_count(&self, count: usize, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if self.state().paused_now >= count {
                return true;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        false
    }

    /// Waits until a request is held by [`Fault::Pause`]; returns it.
    pub fn wait_paused(&self, timeout: Duration) -> Option<RequestRecord> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            {
                let st = self.state();
                if st.paused_now > 0 {
                    return st
                        .log
                        .iter()
                        .rev()
                        .find(|r| r.fault == Fault::Pause)
                        .cloned();
                }
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        None
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.shared.state.lock().expect("proxy state")
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.resume();
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

/// One HTTP message: its raw bytes (forwarded as they came) and what we need of it.
struct Message {
    raw: Vec<u8>,
    start_line: String,
    headers: Vec<(String, String)>,
}

impl Message {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Reads one message; `Ok(None)` on a clean end of stream before it started.
/// `response_to` is the request method for responses (HEAD has no body).
async fn read_message<R: AsyncRead + Unpin>(
    reader: &mut BufReader<R>,
    response_to: Option<&str>,
) -> std::io::Result<Option<Message>> {
    let mut raw = Vec::new();
    let mut line = Vec::new();
    // Start line (skip stray empty lines between messages).
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line).await? == 0 {
            return Ok(None);
        }
        if line != b"\r\n" && line != b"\n" {
            break;
        }
    }
    raw.extend_from_slice(&line);
    let start_line = String::from_utf8_lossy(&line).trim_end().to_string();
    let mut headers = Vec::new();
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line).await? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        raw.extend_from_slice(&line);
        let text = String::from_utf8_lossy(&line).trim_end().to_string();
        if text.is_empty() {
            break;
        }
        if let Some((n, v)) = text.split_once(':') {
            headers.push((n.trim().to_string(), v.trim().to_string()));
        }
    }
    let msg = Message {
        raw,
        start_line,
        headers,
    };
    let status: Option<u16> = response_to.and_then(|_| {
        msg.start_line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
    });
    let bodiless = response_to == Some("HEAD")
        || status.is_some_and(|s| s == 204 || s == 304 || (100..200).contains(&s));
    let mut msg = msg;
    if bodiless {
        return Ok(Some(msg));
    }
    let chunked = msg
        .header("transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    if chunked {
        loop {
            line.clear();
            if reader.read_until(b'\n', &mut line).await? == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            msg.raw.extend_from_slice(&line);
            let size_text = String::from_utf8_lossy(&line);
            let size_text = size_text
                .trim()
                .split(';')
                .next()
                .unwrap_or("0")
                .to_string();
            let size = usize::from_str_radix(size_text.trim(), 16)
                .map_err(|_| std::io::Error::other("bad chunk size"))?;
            if size == 0 {
                // Trailers until an empty line.
                loop {
                    line.clear();
                    if reader.read_until(b'\n', &mut line).await? == 0 {
                        return Err(std::io::ErrorKind::UnexpectedEof.into());
                    }
                    msg.raw.extend_from_slice(&line);
                    if line == b"\r\n" || line == b"\n" {
                        return Ok(Some(msg));
                    }
                }
            }
            let mut chunk = vec![0u8; size + 2];
            reader.read_exact(&mut chunk).await?;
            msg.raw.extend_from_slice(&chunk);
        }
    }
    if let Some(len) = msg.header("content-length") {
        let len: usize = len
            .parse()
            .map_err(|_| std::io::Error::other("bad content-length"))?;
        let mut body = vec![0u8; len];
        reader.read_exact(&mut body).await?;
        msg.raw.extend_from_slice(&body);
    } else if response_to.is_some() {
        // A response without a length ends with the connection.
        reader.read_to_end(&mut msg.raw).await?;
    }
    Ok(Some(msg))
}

fn canned_response(status: u16) -> Vec<u8> {
    let (reason, code) = match status {
        429 => ("Too Many Requests", "TooManyRequests"),
        500 => ("Internal Server Error", "InternalError"),
        503 => ("Service Unavailable", "ServerBusy"),
        _ => ("Injected Fault", "InjectedFault"),
    };
    let body = format!(
        "{{\"odata.error\":{{\"code\":\"{code}\",\"message\":{{\"lang\":\"en-US\",\"value\":\"fault injected by the test proxy\"}}}}}}"
    );
    format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json;odata=minimalmetadata;streaming=true;charset=utf-8\r\n\
         x-ms-error-code: {code}\r\nx-ms-version: 2019-02-02\r\nRetry-After: 0\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

async fn serve_connection(client: TcpStream, shared: Arc<Shared>) {
    let latency = shared.latency();
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let (client_read, mut client_write) = client.into_split();
    let mut client_read = BufReader::new(client_read);
    let mut upstream: Option<(
        BufReader<tokio::net::tcp::OwnedReadHalf>,
        tokio::net::tcp::OwnedWriteHalf,
    )> = None;
    loop {
        let request = match read_message(&mut client_read, None).await {
            Ok(Some(r)) => r,
            _ => return,
        };
        let mut parts = request.start_line.split_whitespace();
        let method = parts.next().unwrap_or("").to_string();
        let target = parts.next().unwrap_or("").to_string();
        let target_is_batch = target.contains("$batch");
        let fault = shared.pick(&method, &target.replace("%27", "'"));
        let index = shared.record(RequestRecord {
            method: method.clone(),
            target,
            if_match: request.header("if-match").map(str::to_string),
            fault,
            status: None,
            at: Instant::now(),
            batch_writes: if target_is_batch {
                batch_writes(&request.raw)
            } else {
                Vec::new()
            },
            batch_statuses: Vec::new(),
        });
        match fault {
            Fault::DropConnection => return,
            Fault::Status(code) => {
                shared.set_status(index, code);
                if client_write
                    .write_all(&canned_response(code))
                    .await
                    .is_err()
                {
                    return;
                }
                continue;
            }
            Fault::Pause => {
                let mut rx = shared.resume.subscribe();
                let generation = *rx.borrow_and_update();
                shared.state.lock().expect("proxy state").paused_now += 1;
                while *rx.borrow_and_update() == generation {
                    if rx.changed().await.is_err() {
                        break;
                    }
                }
                shared.state.lock().expect("proxy state").paused_now -= 1;
            }
            Fault::Pass
            | Fault::Delay(_)
            | Fault::DropResponse
            | Fault::DropResponseThenStatus(_) => {}
        }
        let half_trip = shared.latency() / 2;
        if !half_trip.is_zero() {
            tokio::time::sleep(half_trip).await;
        }
        // Forward, reconnecting when the upstream closed a kept-alive connection.
        if upstream.is_none() {
            match TcpStream::connect(&shared.upstream).await {
                Ok(s) => {
                    let _ = s.set_nodelay(true);
                    let (r, w) = s.into_split();
                    upstream = Some((BufReader::new(r), w));
                }
                Err(_) => return,
            }
        }
        let Some((up_read, up_write)) = upstream.as_mut() else {
            return;
        };
        if up_write.write_all(&request.raw).await.is_err() {
            return;
        }
        let response = match read_message(up_read, Some(&method)).await {
            Ok(Some(r)) => r,
            _ => return,
        };
        if let Some(status) = response
            .start_line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
        {
            shared.set_status(index, status);
        }
        if target_is_batch {
            let inner = batch_statuses(&response.raw);
            if let Some(r) = shared.state.lock().expect("proxy state").log.get_mut(index) {
                r.batch_statuses = inner;
            }
        }
        let upstream_closes = response
            .header("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"));
        match fault {
            Fault::DropResponse => return,
            Fault::DropResponseThenStatus(code) => {
                shared.state.lock().expect("proxy state").rules = vec![Rule {
                    target: Target::All,
                    fault: Fault::Status(code),
                    remaining: None,
                }];
                return;
            }
            Fault::Delay(d) => tokio::time::sleep(d).await,
            _ => {}
        }
        if !half_trip.is_zero() {
            tokio::time::sleep(half_trip).await;
        }
        if client_write.write_all(&response.raw).await.is_err() {
            return;
        }
        if upstream_closes {
            upstream = None;
        }
    }
}
