//! An Azurite process of the benchmark's own, whose log counts requests, and a memory probe.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use testkit::azurite::{free_port, Azurite};

use crate::report::read_proc_kb;

/// An Azurite process of the benchmark's own: either in memory with
/// `--debug <file>` (its log has one `TableStorageContextMiddleware:
/// RequestMethod=` line per HTTP request, which counts what the provider
/// sends without touching the provider), or on a database folder.
pub(crate) struct LoggedAzurite {
    azurite: Option<Azurite>,
    log: PathBuf,
    pub(crate) dir: tempfile::TempDir,
}

impl LoggedAzurite {
    /// In memory, with a request log.
    pub(crate) fn start() -> Result<LoggedAzurite> {
        let dir = tempfile::tempdir()?;
        let log = dir.path().join("azurite-debug.log");
        let args = vec![
            "--inMemoryPersistence".to_owned(),
            "--debug".to_owned(),
            log.display().to_string(),
        ];
        LoggedAzurite::spawn(&args, dir, log)
    }

    /// Keeping its database in the folder `dir` (see [`prepare_database`]).
    pub(crate) fn on_disk(dir: tempfile::TempDir) -> Result<LoggedAzurite> {
        let args = vec!["--location".to_owned(), dir.path().display().to_string()];
        LoggedAzurite::spawn(&args, dir, PathBuf::new())
    }

    fn spawn(args: &[String], dir: tempfile::TempDir, log: PathBuf) -> Result<LoggedAzurite> {
        let azurite = Azurite::launch(free_port(), args, "http").map_err(anyhow::Error::msg)?;
        Ok(LoggedAzurite {
            azurite: Some(azurite),
            log,
            dir,
        })
    }

    /// Stops the process and hands back its folder.
    pub(crate) fn stop(mut self) -> tempfile::TempDir {
        drop(self.azurite.take());
        let empty = tempfile::tempdir().ok();
        match empty {
            Some(e) => std::mem::replace(&mut self.dir, e),
            None => panic!("cannot create a temporary folder"),
        }
    }

    pub(crate) fn endpoint(&self) -> String {
        self.azurite
            .as_ref()
            .map(Azurite::endpoint)
            .unwrap_or_default()
    }

    /// Requests logged so far, by kind.
    pub(crate) fn requests(&self) -> RequestCounts {
        // Azurite writes its log asynchronously: give it a moment.
        std::thread::sleep(Duration::from_millis(300));
        let mut counts = RequestCounts::default();
        let Ok(file) = std::fs::File::open(&self.log) else {
            return counts;
        };
        for line in BufReader::new(file).lines().map_while(Result::ok) {
            let Some(rest) = line
                .split("TableStorageContextMiddleware: RequestMethod=")
                .nth(1)
            else {
                continue;
            };
            let method = rest.split_whitespace().next().unwrap_or("");
            let url = rest
                .split("RequestURL=")
                .nth(1)
                .and_then(|u| u.split_whitespace().next())
                .unwrap_or("");
            counts.total += 1;
            let kind = if url.contains("$batch") {
                "transaction"
            } else if method == "GET" && url.contains("RowKey='") {
                "point read"
            } else if method == "GET" {
                "query"
            } else if method == "MERGE" || method == "PATCH" {
                "merge"
            } else {
                "other"
            };
            *counts.by_kind.entry(kind).or_default() += 1;
        }
        counts
    }
}

impl LoggedAzurite {
    /// Writes refused so far because a row had changed (HTTP 412): single
    /// requests, and entity-group transactions holding a 412 (the whole
    /// transaction then failed).
    pub(crate) fn precondition_failures(&self) -> (u64, u64) {
        std::thread::sleep(Duration::from_millis(300));
        let Ok(file) = std::fs::File::open(&self.log) else {
            return (0, 0);
        };
        let (mut single, mut transactions) = (0, 0);
        for line in BufReader::new(file).lines().map_while(Result::ok) {
            if line.contains("ErrorMiddleware: Set HTTP code: 412") {
                single += 1;
            } else if line.contains("TableHandler:batch() Raw response string")
                && line.contains("412 Precondition Failed")
            {
                transactions += 1;
            }
        }
        (single, transactions)
    }
}

#[derive(Default, Clone, Debug)]
pub(crate) struct RequestCounts {
    pub(crate) total: u64,
    pub(crate) by_kind: std::collections::BTreeMap<&'static str, u64>,
}

impl RequestCounts {
    pub(crate) fn since(&self, before: &RequestCounts) -> RequestCounts {
        let mut by_kind = self.by_kind.clone();
        for (k, v) in by_kind.iter_mut() {
            *v -= before.by_kind.get(k).copied().unwrap_or(0);
        }
        by_kind.retain(|_, v| *v > 0);
        RequestCounts {
            total: self.total - before.total,
            by_kind,
        }
    }
    pub(crate) fn describe(&self) -> String {
        self.by_kind
            .iter()
            .map(|(k, v)| format!("{v} {k}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Polls the provider process (a child of terraform running our binary) for
/// its peak resident set size (`VmHWM`).
pub(crate) struct RssProbe {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<(u64, u32)>>,
}

impl RssProbe {
    pub(crate) fn start(binary: PathBuf) -> RssProbe {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let mut peak = 0u64;
            let mut seen = std::collections::HashSet::new();
            while !flag.load(Ordering::Relaxed) {
                if let Ok(dir) = std::fs::read_dir("/proc") {
                    for entry in dir.flatten() {
                        let Some(pid) = entry
                            .file_name()
                            .to_str()
                            .and_then(|s| s.parse::<u32>().ok())
                        else {
                            continue;
                        };
                        let exe = std::fs::read_link(format!("/proc/{pid}/exe")).ok();
                        if exe.as_deref() == Some(binary.as_path()) {
                            seen.insert(pid);
                            if let Some(kb) = read_proc_kb(pid, "VmHWM:") {
                                peak = peak.max(kb);
                            }
                        }
                    }
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            (peak, seen.len() as u32)
        });
        RssProbe {
            stop,
            thread: Some(thread),
        }
    }

    pub(crate) fn finish(mut self) -> (u64, u32) {
        self.stop.store(true, Ordering::Relaxed);
        self.thread
            .take()
            .and_then(|t| t.join().ok())
            .unwrap_or((0, 0))
    }
}
