//! Starts a private Azurite table service for one test process, on a free
//! loopback port, and stops it when dropped.
//!
//! Tests share one instance per process through [`shared`] and keep apart by table name
//! ([`unique_table_name`]), so they can run in parallel.

use std::io::Read;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::tools_dir;

/// The account name Azurite always serves.
pub const ACCOUNT: &str = "devstoreaccount1";
/// Azurite's well-known account key (published in its documentation; not a secret).
pub const ACCOUNT_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/// A running Azurite table service; killed on drop.
pub struct Azurite {
    child: Child,
    port: u16,
    scheme: &'static str,
    stderr: Arc<Mutex<String>>,
}

impl Azurite {
    /// Starts Azurite on a free loopback port and waits until it accepts connections.
    /// Panics with a "run `make tools`" hint when the binary is missing.
    pub fn start() -> Azurite {
        Azurite::start_with(&[], "http")
    }

    /// Starts Azurite with `extra` arguments (e.g. `--oauth basic --cert …
    /// --key …` for HTTPS, then `scheme` is `https`).
    pub fn start_with(extra: &[String], scheme: &'static str) -> Azurite {
        let mut args = vec!["--inMemoryPersistence".to_owned()];
        args.extend_from_slice(extra);
        Azurite::launch(free_port(), &args, scheme).unwrap_or_else(|why| panic!("{why}"))
    }

    /// Starts Azurite on `port` with `args` (which say where it keeps its
    /// tables: `--inMemoryPersistence` or `--location <folder>`) and waits
    /// until it accepts connections; says why when it exits or never listens.
    /// Panics with a "run `make tools`" hint when the binary is missing.
    pub fn launch(port: u16, args: &[String], scheme: &'static str) -> Result<Azurite, String> {
        let binary = tools_dir().join("azurite-table");
        if !binary.exists() {
            panic!(
                "Azurite is not installed: {} does not exist; run `make tools` \
                 (or set ROOTMAIL_TOOLS_DIR to the folder holding azurite-table)",
                binary.display()
            );
        }
        let mut child = Command::new(&binary)
            .args([
                "--disableTelemetry",
                "--skipApiVersionCheck",
                "--loose",
                "--tableHost",
                "127.0.0.1",
                "--tablePort",
                &port.to_string(),
            ])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));

        // Drain stderr on a thread so a chatty Azurite never blocks on a full pipe.
        let stderr = Arc::new(Mutex::new(String::new()));
        if let Some(mut pipe) = child.stderr.take() {
            let sink = Arc::clone(&stderr);
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n) = pipe.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    if let Ok(mut s) = sink.lock() {
                        if s.len() < 64 * 1024 {
                            s.push_str(&String::from_utf8_lossy(&buf[..n]));
                        }
                    }
                }
            });
        }
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                break;
            }
            if let Ok(Some(status)) = child.try_wait() {
                std::thread::sleep(Duration::from_millis(200));
                let text = stderr.lock().map(|s| s.clone()).unwrap_or_default();
                return Err(format!("azurite-table exited early with {status}: {text}"));
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "azurite-table did not accept connections on {addr} within 60 s"
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(Azurite {
            child,
            port,
            scheme,
            stderr,
        })
    }

    /// Stops the service gracefully (SIGINT: Azurite then saves its database;
    /// on SIGTERM or SIGKILL it loses up to 5 s of committed writes, which no
    /// client can make up for), waiting up to 20 s for it to exit.
    pub fn interrupt(mut self) {
        // SAFETY: plain libc call with a pid we spawned; signal errors are ignored.
        unsafe {
            libc_kill(self.child.id() as i32, 2);
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        while !matches!(self.child.try_wait(), Ok(Some(_))) {
            if Instant::now() > deadline {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// What Azurite wrote to stderr so far (for failure messages).
    pub fn stderr(&self) -> String {
        self.stderr.lock().map(|s| s.clone()).unwrap_or_default()
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The table service endpoint, path-style as Azurite serves it.
    pub fn endpoint(&self) -> String {
        format!("{}://127.0.0.1:{}/{ACCOUNT}", self.scheme, self.port)
    }

    pub fn account(&self) -> &'static str {
        ACCOUNT
    }

    pub fn key(&self) -> &'static str {
        ACCOUNT_KEY
    }

    /// A connection string as Azure tools write them for Azurite.
    pub fn connection_string(&self) -> String {
        format!(
            "DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={ACCOUNT_KEY};\
             TableEndpoint={};",
            self.endpoint()
        )
    }
}

impl Drop for Azurite {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One Azurite per test process, started on first use. It lives until the
/// process exits; `Drop` never runs for statics, so the child is also killed
/// by an exit hook.
pub fn shared() -> &'static Azurite {
    static INSTANCE: OnceLock<Azurite> = OnceLock::new();
    INSTANCE.get_or_init(|| {
        let azurite = Azurite::start();
        register_exit_kill(azurite.child.id());
        azurite
    })
}

impl Azurite {
    /// Kills the child when the test binary exits (for instances kept in statics).
    pub fn kill_at_exit(&self) {
        register_exit_kill(self.child.id());
    }
}

/// A table name no other test in this process uses (letters and digits only,
/// starting with a letter, as Azure requires).
pub fn unique_table_name(prefix: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let clean: String = prefix
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .take(40)
        .collect();
    format!("t{clean}{}x{n}", std::process::id())
}

pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral loopback port");
    listener.local_addr().expect("local addr").port()
}

/// Statics are never dropped, so kill the shared child when the test binary exits.
fn register_exit_kill(pid: u32) {
    static PID: AtomicU32 = AtomicU32::new(0);
    PID.store(pid, Ordering::SeqCst);
    extern "C" fn kill_child() {
        let pid = PID.load(Ordering::SeqCst);
        if pid != 0 {
            // SAFETY: plain libc call with a pid we spawned; signal errors are ignored.
            unsafe {
                libc_kill(pid as i32, 15);
            }
        }
    }
    // SAFETY: registering a plain extern "C" function with atexit.
    unsafe {
        atexit(kill_child);
    }
}

extern "C" {
    fn atexit(cb: extern "C" fn()) -> i32;
    #[link_name = "kill"]
    fn libc_kill(pid: i32, sig: i32) -> i32;
}

/// An account SAS for the table service with `permissions` (e.g. `raul`,
/// `rl`), valid for an hour, signed with Azurite's published key. Signed by
/// hand so it can carry several resource types (`srt=sco`), as the portal
/// generates them.
pub fn account_sas(permissions: &str) -> String {
    let expiry = (time::OffsetDateTime::now_utc() + time::Duration::hours(1))
        .replace_nanosecond(0)
        .expect("whole seconds")
        .format(&time::format_description::well_known::Rfc3339)
        .expect("format");
    let version = "2018-11-09";
    let to_sign = format!("{ACCOUNT}\n{permissions}\nt\nsco\n\n{expiry}\n\n\n{version}\n");
    let sig = azure_core_legacy::hmac::hmac_sha256(
        &to_sign,
        &azure_core_legacy::auth::Secret::new(ACCOUNT_KEY),
    )
    .expect("sign");
    url::form_urlencoded::Serializer::new(String::new())
        .append_pair("sv", version)
        .append_pair("ss", "t")
        .append_pair("srt", "sco")
        .append_pair("se", &expiry)
        .append_pair("sp", permissions)
        .append_pair("sig", &sig)
        .finish()
}
