//! Runs the real `terraform` CLI against the provider binary cargo built,
//! through a `dev_overrides` CLI configuration, in a throw-away directory with
//! its own HOME. No `terraform init`, no network. Two CLIs: the floor (1.0.3,
//! from `make tools`) and a modern one (≥ 1.5: `ROOTMAIL_TERRAFORM_MODERN`,
//! else a `terraform` on PATH), see [`Cli`].

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::tools_dir;

/// The provider's source address in configurations.
pub const PROVIDER_SOURCE: &str = "rootmail/rootmail";
/// The provider's full address as Terraform prints it.
pub const PROVIDER_ADDRESS: &str = "registry.terraform.io/rootmail/rootmail";
/// A terraform command that runs longer than this is killed and the test fails.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(180);

/// The terraform binary; a missing one fails the test with what to do about it.
pub fn terraform_binary() -> PathBuf {
    let path = tools_dir().join("terraform");
    assert!(
        path.is_file(),
        "terraform not found at {}: run `make tools` (scripts/install-tools.sh) first",
        path.display()
    );
    path
}

/// Which Terraform CLI a test runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cli {
    /// Terraform 1.0.3 from `.tools/` (protocol 6.0, the oldest supported).
    Floor,
    /// Terraform ≥ 1.5 (import blocks, -generate-config-out, removed, check).
    Modern,
}

/// The oldest version that counts as modern (import blocks came with 1.5).
pub const MODERN_MINIMUM: (u64, u64) = (1, 5);

/// Set to 1 (as `.ci/run` does) to make a missing modern Terraform a failure.
pub const REQUIRE_MODERN: &str = "ROOTMAIL_REQUIRE_MODERN_TERRAFORM";

/// `terraform version -json`'s version of `binary`, as (major, minor, text).
pub fn terraform_version(binary: &Path) -> Result<(u64, u64, String), String> {
    let out = Command::new(binary)
        .args(["version", "-json"])
        .env("CHECKPOINT_DISABLE", "1")
        .output()
        .map_err(|e| format!("cannot run {}: {e}", binary.display()))?;
    let json: serde_json::Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("{} version -json printed no JSON: {e}", binary.display()))?;
    let text = json["terraform_version"]
        .as_str()
        .ok_or_else(|| {
            format!(
                "{} version -json has no terraform_version",
                binary.display()
            )
        })?
        .to_string();
    let mut parts = text.split('.').map(|p| p.parse::<u64>().unwrap_or(0));
    Ok((parts.next().unwrap_or(0), parts.next().unwrap_or(0), text))
}

/// The modern terraform and its version, or why there is none. Looked up once.
pub fn modern_terraform() -> Result<(PathBuf, String), String> {
    static FOUND: OnceLock<Result<(PathBuf, String), String>> = OnceLock::new();
    FOUND
        .get_or_init(|| {
            let modern = |path: PathBuf| -> Result<(PathBuf, String), String> {
                let (major, minor, text) = terraform_version(&path)?;
                if (major, minor) >= MODERN_MINIMUM {
                    Ok((path, text))
                } else {
                    Err(format!(
                        "{} is Terraform {text}, older than 1.5",
                        path.display()
                    ))
                }
            };
            if let Some(named) =
                std::env::var_os("ROOTMAIL_TERRAFORM_MODERN").filter(|v| !v.is_empty())
            {
                return modern(PathBuf::from(named));
            }
            let mut why = vec![];
            for dir in std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()) {
                let candidate = dir.join("terraform");
                if candidate.is_file() {
                    match modern(candidate) {
                        Ok(found) => return Ok(found),
                        Err(e) => why.push(e),
                    }
                }
            }
            why.push("no terraform ≥ 1.5 on PATH and ROOTMAIL_TERRAFORM_MODERN is not set".into());
            Err(why.join("; "))
        })
        .clone()
}

/// The directory holding the provider binary under test (`ROOTMAIL_PROVIDER_BIN`
/// or cargo's build of it): what `dev_overrides` points at.
pub fn provider_dir() -> PathBuf {
    let binary = crate::provider_binary();
    let binary = binary.canonicalize().unwrap_or(binary);
    binary
        .parent()
        .expect("the provider binary lives in a directory")
        .to_path_buf()
}

/// `terraform { required_providers { rootmail = ... } }`, for the top of a main.tf.
pub fn required_providers_block() -> String {
    format!(
        "terraform {{\n  required_providers {{\n    rootmail = {{\n      source = \"{PROVIDER_SOURCE}\"\n    }}\n  }}\n}}\n"
    )
}

/// What one terraform command did.
#[derive(Debug)]
pub struct TerraformOutput {
    pub args: Vec<String>,
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl TerraformOutput {
    pub fn success(&self) -> bool {
        self.status.success()
    }

    /// Fails the test unless terraform exited with `expected` (e.g. 2, a
    /// `-detailed-exitcode` plan with changes), showing what it printed.
    #[track_caller]
    pub fn assert_code(&self, expected: i32) {
        assert_eq!(
            self.status.code(),
            Some(expected),
            "{}\n{}",
            self.stdout,
            self.stderr
        );
    }

    /// The summaries of the warnings terraform printed, except the notice
    /// about `dev_overrides` that every run of these tests prints.
    pub fn warnings(&self) -> Vec<String> {
        self.stdout
            .lines()
            .chain(self.stderr.lines())
            .map(|l| l.trim_start_matches(['│', '╷', ' ']).trim())
            .filter_map(|l| l.strip_prefix("Warning: "))
            .filter(|w| !w.starts_with("Provider development overrides are in effect"))
            .map(str::to_string)
            .collect()
    }

    /// stdout as JSON (for `-json` commands); panics with the output otherwise.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "terraform {:?} did not print JSON ({e}):\n--- stdout\n{}\n--- stderr\n{}",
                self.args, self.stdout, self.stderr
            )
        })
    }
}

/// A temporary Terraform working directory wired to the local provider build.
pub struct TerraformDir {
    root: tempfile::TempDir,
    work: PathBuf,
    envs: Vec<(String, String)>,
    binary: PathBuf,
}

impl TerraformDir {
    /// A fresh directory for the floor terraform (1.0.3).
    pub fn new() -> Self {
        Self::using(terraform_binary())
    }

    /// A fresh directory for `cli`. `None` when `cli` is the modern one and
    /// this machine has none: the test then returns early, after saying so on
    /// stderr, unless `ROOTMAIL_REQUIRE_MODERN_TERRAFORM=1` makes it fail.
    pub fn for_cli(cli: Cli) -> Option<Self> {
        match cli {
            Cli::Floor => Some(Self::new()),
            Cli::Modern => match modern_terraform() {
                Ok((binary, _)) => Some(Self::using(binary)),
                Err(why) => {
                    assert!(
                        std::env::var(REQUIRE_MODERN).as_deref() != Ok("1"),
                        "{REQUIRE_MODERN}=1 but there is no modern Terraform: {why}"
                    );
                    eprintln!("modern Terraform suite did NOT run: {why}");
                    None
                }
            },
        }
    }

    /// A fresh directory for the modern terraform (see [`Self::for_cli`]).
    pub fn modern() -> Option<Self> {
        Self::for_cli(Cli::Modern)
    }

    /// The terraform binary this directory runs.
    pub fn binary(&self) -> &Path {
        &self.binary
    }

    /// A fresh directory with a CLI config whose `dev_overrides` points
    /// `rootmail/rootmail` at the built binary, run by `binary`.
    pub fn using(binary: PathBuf) -> Self {
        let root = tempfile::tempdir().expect("temp dir");
        let work = root.path().join("work");
        let home = root.path().join("home");
        for dir in [&work, &home] {
            std::fs::create_dir_all(dir).expect("create dir");
        }
        let cli_config = root.path().join("terraformrc");
        std::fs::write(
            &cli_config,
            format!(
                "provider_installation {{\n  dev_overrides {{\n    \"{PROVIDER_SOURCE}\" = \"{}\"\n  }}\n  direct {{}}\n}}\n",
                provider_dir().display()
            ),
        )
        .expect("write CLI config");
        let log = root.path().join("terraform.log");
        let envs = vec![
            (
                "TF_CLI_CONFIG_FILE".into(),
                cli_config.display().to_string(),
            ),
            ("HOME".into(), home.display().to_string()),
            ("TF_IN_AUTOMATION".into(), "1".into()),
            ("CHECKPOINT_DISABLE".into(), "1".into()),
            ("TF_INPUT".into(), "0".into()),
            // Keep a debug log (Terraform's and the provider's) for failure reports.
            ("TF_LOG".into(), "DEBUG".into()),
            ("TF_LOG_PATH".into(), log.display().to_string()),
        ];
        Self {
            root,
            work,
            envs,
            binary,
        }
    }

    /// Runs `binary` instead of the one this directory was made for.
    pub fn with_binary(&mut self, binary: PathBuf) -> &mut Self {
        self.binary = binary;
        self
    }

    /// The working directory terraform runs in.
    pub fn path(&self) -> &Path {
        &self.work
    }

    /// Writes a file (e.g. `main.tf`) into the working directory.
    pub fn write(&self, name: &str, contents: &str) -> &Self {
        std::fs::write(self.work.join(name), contents).expect("write file");
        self
    }

    /// Sets an environment variable for every later command (last one wins).
    pub fn env(&mut self, name: &str, value: impl Into<String>) -> &mut Self {
        self.envs.retain(|(n, _)| n != name);
        self.envs.push((name.to_string(), value.into()));
        self
    }

    /// The debug log written so far by terraform and the provider.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.root.path().join("terraform.log")).unwrap_or_default()
    }

    /// Runs `terraform <args>` in the directory, whatever its outcome.
    pub fn run(&self, args: &[&str]) -> TerraformOutput {
        let mut command = Command::new(&self.binary);
        command
            .args(args)
            .current_dir(&self.work)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for name in [
            "TF_PLUGIN_CACHE_DIR",
            "TF_REATTACH_PROVIDERS",
            "TF_LOG_PROVIDER",
            "TF_LOG_CORE",
            "TF_DATA_DIR",
            "TF_WORKSPACE",
        ] {
            command.env_remove(name);
        }
        for (name, value) in &self.envs {
            command.env(name, value);
        }
        let started = Instant::now();
        let mut child = command.spawn().expect("spawn terraform");
        let stdout = read_in_background(child.stdout.take().expect("stdout"));
        let stderr = read_in_background(child.stderr.take().expect("stderr"));
        // Waited for on a thread, so `elapsed` is exact (benchmarks time
        // `providers schema -json` with it) rather than rounded up to a poll.
        let pid = child.id();
        let (done, waited) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = done.send((child.wait(), Instant::now()));
        });
        let (status, ended) = match waited.recv_timeout(COMMAND_TIMEOUT) {
            Ok((status, ended)) => (status.expect("wait for terraform"), ended),
            Err(_) => {
                let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
                panic!(
                    "terraform {args:?} ran over {COMMAND_TIMEOUT:?} and was killed\n--- log tail\n{}",
                    tail(&self.log(), 60)
                );
            }
        };
        TerraformOutput {
            args: args.iter().map(|a| a.to_string()).collect(),
            status,
            stdout: stdout.join().expect("stdout reader"),
            stderr: stderr.join().expect("stderr reader"),
            elapsed: ended - started,
        }
    }

    /// Runs `terraform <args>` and fails the test with everything useful if it fails.
    pub fn run_ok(&self, args: &[&str]) -> TerraformOutput {
        let output = self.run(args);
        if !output.success() {
            panic!(
                "terraform {args:?} failed with {}\n--- stdout\n{}\n--- stderr\n{}\n--- log tail\n{}",
                output.status,
                output.stdout,
                output.stderr,
                tail(&self.log(), 80)
            );
        }
        output
    }

    /// Runs `terraform <args>` and fails the test if it succeeds.
    pub fn run_err(&self, args: &[&str]) -> TerraformOutput {
        let output = self.run(args);
        assert!(
            !output.success(),
            "terraform {args:?} was expected to fail\n--- stdout\n{}\n--- stderr\n{}",
            output.stdout,
            output.stderr
        );
        output
    }
}

impl Default for TerraformDir {
    fn default() -> Self {
        Self::new()
    }
}

fn read_in_background<R: Read + Send + 'static>(mut reader: R) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = reader.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

/// `text` with every run of whitespace (and the box drawing around
/// diagnostics) turned into one space, so wrapped messages can be searched.
pub fn flat(text: &str) -> String {
    text.split(|c: char| c.is_whitespace() || c == '│')
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The last `lines` lines of `text`.
pub fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// The provider started by hand with `--debug`, for Terraform to reattach to
/// through `TF_REATTACH_PROVIDERS`. Killed when dropped.
pub struct DebugProvider {
    child: std::process::Child,
    /// The value to put in `TF_REATTACH_PROVIDERS`.
    pub reattach: String,
}

impl DebugProvider {
    pub fn start() -> Self {
        use std::io::BufRead;
        let binary = provider_dir().join("terraform-provider-rootmail");
        let mut child = Command::new(&binary)
            .arg("--debug")
            .env_remove("TF_PLUGIN_MAGIC_COOKIE")
            .env_remove("PLUGIN_CLIENT_CERT")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {} --debug: {e}", binary.display()));
        let stdout = child.stdout.take().expect("stdout");
        let (found_tx, found_rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(value) = line
                    .trim()
                    .strip_prefix("TF_REATTACH_PROVIDERS='")
                    .and_then(|rest| rest.strip_suffix('\''))
                {
                    let _ = found_tx.send(value.to_string());
                }
            }
        });
        let reattach = match found_rx.recv_timeout(Duration::from_secs(20)) {
            Ok(value) => value,
            Err(_) => {
                let _ = child.kill();
                panic!("the provider printed no TF_REATTACH_PROVIDERS line in --debug mode");
            }
        };
        Self { child, reattach }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Sends SIGINT (Ctrl-C) and returns the exit status (panics after 5 s).
    pub fn interrupt(mut self) -> ExitStatus {
        let sent = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(sent.success(), "kill -INT failed");
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "debug provider still running 5 s after Ctrl-C"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for DebugProvider {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Runs each named test (a `fn(Cli)` beside the call) once per Terraform,
/// as `floor::name` and `modern::name`.
#[macro_export]
macro_rules! on_both_terraforms {
    ($($name:ident),* $(,)?) => {
        mod floor {
            $(#[test] fn $name() { super::$name($crate::terraform::Cli::Floor) })*
        }
        mod modern {
            $(#[test] fn $name() { super::$name($crate::terraform::Cli::Modern) })*
        }
    };
}
