//! A private Azurite table service that keeps its data on disk (`--location`)
//! on a fixed port, so a test can stop it and start it again mid-apply and
//! find the same tables. Needs `azurite` (tests/support/azurite.rs) for the
//! tools folder and the account.
//!
//! Include with `#[path = "support/azurite_disk.rs"] mod azurite_disk;`.
#![allow(dead_code)]

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// An Azurite that can be restarted on the same port with the same data.
pub struct DiskAzurite {
    child: Option<Child>,
    port: u16,
    location: PathBuf,
    _dir: tempfile::TempDir,
}

impl DiskAzurite {
    /// Starts on a free port with a fresh data folder.
    pub fn start() -> DiskAzurite {
        let dir = tempfile::tempdir().expect("azurite data dir");
        let port = TcpListener::bind("127.0.0.1:0")
            .expect("free port")
            .local_addr()
            .expect("addr")
            .port();
        let mut az = DiskAzurite {
            child: None,
            port,
            location: dir.path().to_path_buf(),
            _dir: dir,
        };
        az.restart_process();
        az
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}/{}", self.port, crate::azurite::ACCOUNT)
    }

    /// Stops the service gracefully (SIGINT: Azurite then saves its database;
    /// on SIGTERM or SIGKILL it loses up to 5 s of committed writes, which no
    /// client can make up for), waiting for it to exit.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-INT", &child.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(20);
            loop {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }

    /// Starts it again on the same port with the same data folder.
    pub fn start_again(&mut self) {
        assert!(self.child.is_none(), "stop it first");
        self.restart_process();
    }

    fn restart_process(&mut self) {
        let binary = crate::azurite::tools_dir().join("azurite-table");
        assert!(
            binary.exists(),
            "Azurite is not installed: {} does not exist; run `make tools`",
            binary.display()
        );
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        // The port may linger briefly after a stop.
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut child = loop {
            let child = spawn(&binary, &self.location, self.port);
            match wait_listening(child, addr) {
                Ok(c) => break c,
                Err(text) if Instant::now() > deadline => {
                    panic!("azurite-table did not start on {addr}: {text}")
                }
                Err(_) => std::thread::sleep(Duration::from_millis(200)),
            }
        };
        let _ = child.stdin.take();
        self.child = Some(child);
    }
}

fn spawn(binary: &Path, location: &Path, port: u16) -> Child {
    Command::new(binary)
        .args([
            "--location",
            &location.display().to_string(),
            "--disableTelemetry",
            "--skipApiVersionCheck",
            "--loose",
            "--tableHost",
            "127.0.0.1",
            "--tablePort",
            &port.to_string(),
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()))
}

fn wait_listening(mut child: Child, addr: SocketAddr) -> Result<Child, String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return Ok(child);
        }
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("exited with {status}"));
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err("not listening within 60 s".into());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

impl Drop for DiskAzurite {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
