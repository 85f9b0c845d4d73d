//! Shared set-up of the reliability tests: configurations for terraform,
//! reading what state and the table hold, and finding the processes terraform started (to kill or interrupt them).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::pool::{Pool, OWNER};
use crate::terraform::{TerraformDir, TerraformOutput};

/// `count` aliases named `name`; with `keyed`, each has `claim_key = "<name>-<i>"`.
pub fn aliases_tf(name: &str, count: usize, keyed: bool) -> String {
    let key = if keyed {
        format!("  claim_key = \"{name}-${{count.index}}\"\n")
    } else {
        String::new()
    };
    format!(
        r#"
resource "rootmail_alias" "{name}" {{
  count   = {count}
  owner   = "{OWNER}"
  purpose = "{name}-${{count.index}}"
{key}}}
"#
    )
}

/// `processes` terraform folders for the same `provider` block, the `i`th
/// claiming `per_process` aliases named `p<i>`; half of them (the even
/// ones) with a `claim_key`, unique per folder.
pub fn parallel_dirs(provider: &str, processes: usize, per_process: usize) -> Vec<TerraformDir> {
    (0..processes)
        .map(|p| {
            let d = TerraformDir::new();
            d.write(
                "main.tf",
                &(provider.to_owned() + &aliases_tf(&format!("p{p}"), per_process, p % 2 == 0)),
            );
            d
        })
        .collect()
}

/// One alias (`rootmail_alias.a`) linked to the AWS account `account`.
pub fn linked_alias_tf(account: &str) -> String {
    format!(
        r#"
resource "rootmail_alias" "a" {{
  owner = "{OWNER}"
}}

resource "rootmail_alias_account" "a" {{
  email          = rootmail_alias.a.email
  aws_account_id = "{account}"
}}
"#
    )
}

/// The e-mail of every `rootmail_alias` resource instance in the state file
/// (read directly: no terraform run, no provider start).
pub fn state_emails(dir: &TerraformDir) -> Vec<String> {
    let Ok(text) = std::fs::read_to_string(dir.path().join("terraform.tfstate")) else {
        return Vec::new();
    };
    let json: serde_json::Value = serde_json::from_str(&text).expect("state is JSON");
    let mut emails = Vec::new();
    for r in json["resources"].as_array().into_iter().flatten() {
        // Resources only: `data "rootmail_alias"` has the same type.
        if r["type"] != "rootmail_alias" || r["mode"] != "managed" {
            continue;
        }
        for i in r["instances"].as_array().into_iter().flatten() {
            if let Some(e) = i.pointer("/attributes/email").and_then(|e| e.as_str()) {
                emails.push(e.to_owned());
            }
        }
    }
    emails
}

/// Asserts that every run in `applies` (one per folder of `dirs`, in order)
/// succeeded and left `per_dir` aliases in its state, none of them in two
/// states; returns them all.
pub fn assert_applied_apart(
    dirs: &[TerraformDir],
    applies: &[TerraformOutput],
    per_dir: usize,
) -> BTreeSet<String> {
    for (i, out) in applies.iter().enumerate() {
        assert!(
            out.success(),
            "apply {i} failed:\n{}\n{}\n--- log tail\n{}",
            out.stdout,
            out.stderr,
            crate::terraform::tail(&dirs[i].log(), 40)
        );
    }
    let mut all = Vec::new();
    for d in dirs {
        let emails = state_emails(d);
        assert_eq!(emails.len(), per_dir);
        all.extend(emails);
    }
    distinct(&all, "all states together")
}

/// Asserts no duplicates in `emails` and returns them as a set.
pub fn distinct(emails: &[String], what: &str) -> BTreeSet<String> {
    let set: BTreeSet<String> = emails.iter().cloned().collect();
    assert_eq!(
        set.len(),
        emails.len(),
        "{what}: an alias appears twice: {emails:?}"
    );
    set
}

/// Checks that state and table agree: every alias in state is claimed in the
/// table by this owner, and (when `exact`) no other alias of this owner is claimed.
pub fn assert_state_matches_table(dir: &TerraformDir, pool: &Pool, exact: bool) -> usize {
    let in_state = distinct(&state_emails(dir), "state");
    let claimed: BTreeSet<String> = pool
        .claimed()
        .into_iter()
        .filter(|r| r.owner == OWNER)
        .map(|r| r.email)
        .collect();
    let missing: Vec<_> = in_state.difference(&claimed).collect();
    assert!(
        missing.is_empty(),
        "aliases in state but not claimed in the table: {missing:?}"
    );
    if exact {
        let leaked: Vec<_> = claimed.difference(&in_state).collect();
        assert!(
            leaked.is_empty(),
            "aliases claimed in the table that no state holds (leaked): {leaked:?}"
        );
    }
    in_state.len()
}

/// Processes whose executable's file name is `exe_name` and whose working
/// directory is `cwd` (terraform and the provider it starts run in the test's
/// directory, so this finds exactly this test's processes).
pub fn processes_in(exe_name: &str, cwd: &Path) -> Vec<u32> {
    let cwd = cwd.canonicalize().unwrap_or_else(|_| cwd.to_path_buf());
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return found;
    };
    for entry in entries.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let exe: Option<PathBuf> = std::fs::read_link(entry.path().join("exe")).ok();
        let dir: Option<PathBuf> = std::fs::read_link(entry.path().join("cwd")).ok();
        let name_matches = exe
            .as_ref()
            .and_then(|e| e.file_name())
            .is_some_and(|n| n.to_string_lossy().trim_end_matches(" (deleted)") == exe_name);
        if name_matches && dir.as_deref() == Some(cwd.as_path()) {
            found.push(pid);
        }
    }
    found
}

/// Waits up to `timeout` for such a process; `None` if none shows up.
pub fn wait_for_process(exe_name: &str, cwd: &Path, timeout: Duration) -> Option<u32> {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if let Some(pid) = processes_in(exe_name, cwd).first() {
            return Some(*pid);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

/// Sends `signal` (e.g. "KILL", "INT", "TERM") to `pid`, a process this test started.
pub fn signal(pid: u32, signal: &str) {
    let status = std::process::Command::new("kill")
        .args([&format!("-{signal}"), &pid.to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -{signal} {pid} failed");
}

/// Waits until `check` holds, polling; panics with `what` after `timeout`.
pub fn wait_until(what: &str, timeout: Duration, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if check() {
            return;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!("timed out after {timeout:?} waiting for {what}");
}

/// The provider binary's file name.
pub const PROVIDER_EXE: &str = "terraform-provider-rootmail";
