//! Asking before a write: the one question the commands that change rows ask.

use std::io::{BufRead, IsTerminal, Write};

use anyhow::{bail, Context};
use rootmail::safe_text;

/// Asks on the terminal unless `--yes`; refuses without a terminal.
pub fn confirm(question: &str, yes: bool) -> anyhow::Result<()> {
    if yes {
        return Ok(());
    }
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        bail!(
            "refusing to {question} without confirmation: standard input is not a terminal; \
             pass --yes to confirm (nothing was changed)"
        );
    }
    eprint!("{}? [y/N] ", safe_text::for_message(question));
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    stdin
        .lock()
        .read_line(&mut answer)
        .context("cannot read the answer")?;
    match answer.trim().to_ascii_lowercase().as_str() {
        "y" | "yes" => Ok(()),
        _ => bail!("not confirmed; nothing was changed"),
    }
}
