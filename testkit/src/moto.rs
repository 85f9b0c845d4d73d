//! A real AWS Organizations API on loopback: `moto_server` (PyPI `moto[server]`,
//! installed by scripts/install-tools.sh into .tools/) on 127.0.0.1 at a free
//! port, driven with boto3 and fake credentials. A missing moto fails the test.

use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::tools_dir;

/// python3 with moto and boto3 importable.
pub fn python() -> PathBuf {
    let path = tools_dir().join("moto-python");
    assert!(
        path.is_file(),
        "moto not found at {}: run `make tools` (scripts/install-tools.sh) first",
        path.display()
    );
    path
}

/// A running moto server; killed on drop.
pub struct Moto {
    child: Child,
    port: u16,
}

impl Moto {
    pub fn start() -> Moto {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let child = Command::new(python())
            .args([
                "-m",
                "moto.server",
                "-H",
                "127.0.0.1",
                "-p",
                &port.to_string(),
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start moto server");
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            assert!(
                Instant::now() < deadline,
                "moto server did not start on {addr}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Moto { child, port }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Runs a boto3 script; `client` is an Organizations client bound to
    /// this server. Fails the test if the script fails; returns its stdout.
    pub fn boto3(&self, script: &str) -> String {
        let program = format!(
            "import boto3, json, sys\n\
             client = boto3.client('organizations', endpoint_url='{}')\n{script}",
            self.endpoint()
        );
        let out: Output = Command::new(python())
            .args(["-c", &program])
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_SESSION_TOKEN")
            .stdin(Stdio::null())
            .output()
            .expect("run boto3");
        assert!(
            out.status.success(),
            "boto3 script failed:\n{program}\n--- stderr\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Moto {
    /// Makes an organization and creates `accounts` (name, e-mail) in this
    /// order (the order `ListAccounts` pages them in, after the management
    /// account), then closes the ones named in `close` (they become
    /// SUSPENDED). Returns the account ids by name.
    pub fn organization(
        &self,
        accounts: &[(&str, String)],
        close: &[&str],
    ) -> BTreeMap<String, String> {
        let spec = serde_json::to_string(accounts).expect("json");
        let close = serde_json::to_string(close).expect("json");
        let ids = self.boto3(&format!(
            "client.create_organization(FeatureSet='ALL')\n\
             ids = {{}}\n\
             for name, email in json.loads({spec:?}):\n\
             \x20   r = client.create_account(Email=email, AccountName=name)\n\
             \x20   ids[name] = r['CreateAccountStatus']['AccountId']\n\
             for name in json.loads({close:?}):\n\
             \x20   client.close_account(AccountId=ids[name])\n\
             print(json.dumps(ids))\n"
        ));
        serde_json::from_str(ids.trim()).expect("ids")
    }

    /// The session credentials STS handed out so far (`AssumeRole…`),
    /// each as access key id, secret access key and session token: none of
    /// them may appear in a log. Read from moto's own state
    /// (`/moto-api/data.json`).
    pub fn sts_sessions(&self) -> Vec<[String; 3]> {
        let program = format!(
            "import json, urllib.request\n\
             data = json.load(urllib.request.urlopen('{}/moto-api/data.json'))\n\
             roles = (data.get('sts') or {{}}).get('AssumedRole') or []\n\
             print(json.dumps([[r['access_key_id'], r['secret_access_key'], r['session_token']] for r in roles]))\n",
            self.endpoint()
        );
        let out = Command::new(python())
            .args(["-c", &program])
            .stdin(Stdio::null())
            .output()
            .expect("run python");
        assert!(
            out.status.success(),
            "reading moto's state failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("sessions")
    }

    /// The variables that point the AWS SDK (or CLI) at this server with
    /// fake keys; with [`Moto::isolate`], nothing of the caller's AWS setup
    /// is used.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint()),
            ("AWS_ACCESS_KEY_ID", "testing".to_owned()),
            ("AWS_SECRET_ACCESS_KEY", "testing-secret-key".to_owned()),
            ("AWS_REGION", "us-east-1".to_owned()),
            ("AWS_CONFIG_FILE", "/dev/null".to_owned()),
            ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null".to_owned()),
            ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
        ]
    }

    /// `command` with every `AWS_*` variable of the caller removed and
    /// [`Moto::env`] set.
    pub fn isolate<'a>(&self, command: &'a mut Command) -> &'a mut Command {
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("AWS_") {
                command.env_remove(&name);
            }
        }
        command.envs(self.env())
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
