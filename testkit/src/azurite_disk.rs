//! A private Azurite table service that keeps its data on disk (`--location`)
//! on a fixed port, so a test can stop it and start it again mid-apply and
//! find the same tables.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::azurite::{free_port, Azurite};

/// An Azurite that can be restarted on the same port with the same data.
pub struct DiskAzurite {
    running: Option<Azurite>,
    port: u16,
    location: PathBuf,
    _dir: tempfile::TempDir,
}

impl DiskAzurite {
    /// Starts on a free port with a fresh data folder.
    pub fn start() -> DiskAzurite {
        let dir = tempfile::tempdir().expect("azurite data dir");
        let mut az = DiskAzurite {
            running: None,
            port: free_port(),
            location: dir.path().to_path_buf(),
            _dir: dir,
        };
        az.restart_process();
        az
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}/{}", self.port, crate::azurite::ACCOUNT)
    }

    /// Stops the service gracefully (see [`Azurite::interrupt`]), waiting for it to exit.
    pub fn stop(&mut self) {
        if let Some(azurite) = self.running.take() {
            azurite.interrupt();
        }
    }

    /// Starts it again on the same port with the same data folder.
    pub fn start_again(&mut self) {
        assert!(self.running.is_none(), "stop it first");
        self.restart_process();
    }

    fn restart_process(&mut self) {
        let args = ["--location".to_owned(), self.location.display().to_string()];
        // The port may linger briefly after a stop.
        let deadline = Instant::now() + Duration::from_secs(30);
        let azurite = loop {
            match Azurite::launch(self.port, &args, "http") {
                Ok(azurite) => break azurite,
                Err(text) if Instant::now() > deadline => {
                    panic!("azurite-table did not start on port {}: {text}", self.port)
                }
                Err(_) => std::thread::sleep(Duration::from_millis(200)),
            }
        };
        self.running = Some(azurite);
    }
}
