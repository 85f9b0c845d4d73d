//! Keeping credentials out of logs and messages, for every binary of the crate.
//!
//! Two defences, both always on: the crates that log whole HTTP requests
//! (the legacy Azure SDK prints every request with its `Authorization` header
//! and SAS query string at `debug`) are capped at `warn` by [`log_caps`],
//! which callers combine with whatever filter a user chose, so no setting
//! lifts the cap; and every line written is passed through
//! [`redact_credentials`] by [`Redacting`], in case a credential reaches a
//! log some other way.

use std::io::Write;

use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::fmt::MakeWriter;

/// Crates that log requests, headers or token responses below `warn`.
pub const CREDENTIAL_LOGGING_CRATES: &[&str] = &[
    "azure_core",
    "azure_storage",
    "azure_data_tables",
    "azure_identity",
    "typespec",
    "typespec_client_core",
    "reqwest",
    "hyper",
    "hyper_util",
    "h2",
    "aws_config",
    "aws_runtime",
    "aws_sigv4",
    "aws_smithy_runtime",
    "aws_smithy_runtime_api",
    "aws_smithy_http",
    "aws_sdk_sts",
    "aws_sdk_sso",
    "aws_sdk_ssooidc",
    "aws_sdk_organizations",
];

/// A filter that lets everything through except the levels below `warn` of
/// [`CREDENTIAL_LOGGING_CRATES`]. Combine it with the user's filter (`and`).
pub fn log_caps() -> Targets {
    CREDENTIAL_LOGGING_CRATES
        .iter()
        .fold(Targets::new().with_default(LevelFilter::TRACE), |t, c| {
            t.with_target(*c, LevelFilter::WARN)
        })
}

const MARK: &str = "<redacted>";

/// Names whose value is a secret, as query/form parameters, connection-string
/// parts, JSON keys or headers. Matched case-insensitively as whole names.
const SECRET_NAMES: &[&str] = &[
    "sig",
    "accountkey",
    "sharedaccesssignature",
    "client_secret",
    "client_assertion",
    "access_token",
    "refresh_token",
    "id_token",
    "authorization",
    "x-identity-header",
    "identity_header",
];

/// Authorization schemes whose next word is the credential.
const SCHEMES: &[&str] = &["bearer", "sharedkey", "sharedkeylite", "basic"];

/// An error and its sources on one line, each said once, with
/// [`redact_credentials`] applied (HTTP errors quote URLs, which may hold a
/// SAS signature).
pub fn error_line(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let next = s.to_string();
        if !text.contains(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = s.source();
    }
    redact_credentials(&text)
}

/// Blanks credential values in `text`: `sig=`, `AccountKey=`,
/// `SharedAccessSignature=`, `client_secret`, `client_assertion`,
/// `access_token` (as `name=value`, `name%3Dvalue`, `"name":"value"` and
/// header lines), `Authorization: <scheme> …` and `Bearer …`, in any letter case.
pub fn redact_credentials(text: &str) -> String {
    let mut out = text.to_owned();
    for name in SECRET_NAMES {
        out = redact_named(&out, name);
    }
    for scheme in SCHEMES {
        out = redact_after_scheme(&out, scheme);
    }
    out
}

/// Ends a value: separators of queries, connection strings, JSON, headers and
/// log formatting (including the escaped quote of a JSON-in-JSON line).
fn ends_value(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '&' | ';' | ',' | ')' | '(' | '"' | '\'' | '\\' | '>' | '<' | '}' | ']' | '{' | '['
        )
}

/// The byte length of the value starting at `text`, also stopping at an
/// URL-encoded separator (`%26` `&`, `%3B` `;`, `%22` `"`).
fn value_len(text: &str) -> usize {
    let lower = text.to_ascii_lowercase();
    let mut end = text.find(ends_value).unwrap_or(text.len());
    for enc in ["%26", "%3b", "%22", "%2c"] {
        if let Some(at) = lower[..end].find(enc) {
            end = end.min(at);
        }
    }
    end
}

/// After a secret name: `=`, `%3D`, `:` or `%3A`, possibly with quotes,
/// backslashes and spaces around (JSON, escaped JSON, headers). Returns how
/// many bytes the separator takes, or `None` when the name is not followed
/// by one (then it is just a word).
fn separator_len(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let lower = text.to_ascii_lowercase();
    let mut i = 0;
    let mut assigned = false;
    while i < bytes.len() {
        let rest = &lower[i..];
        if rest.starts_with("%3d") || rest.starts_with("%3a") {
            assigned = true;
            i += 3;
        } else if rest.starts_with("%22") || rest.starts_with("%20") {
            i += 3;
        } else if matches!(bytes[i], b'=' | b':') {
            if assigned && bytes[i] == b':' {
                break;
            }
            assigned = true;
            i += 1;
        } else if matches!(bytes[i], b'"' | b'\'' | b'\\' | b' ' | b'\t') {
            i += 1;
        } else {
            break;
        }
    }
    assigned.then_some(i)
}

fn is_name_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

/// True when a name starting at `at` is not the tail of a longer word; an
/// URL-encoded separator (`%26`, `%3F`, …) before it counts as a boundary.
fn starts_word(text: &str, at: usize) -> bool {
    if at == 0 || !is_name_char(text.as_bytes()[at - 1]) {
        return true;
    }
    at >= 3
        && text.is_char_boundary(at - 3)
        && ["%26", "%3f", "%3b", "%20", "%22", "%2c", "%7b", "%0a"]
            .contains(&text[at - 3..at].to_ascii_lowercase().as_str())
}

fn redact_named(text: &str, name: &str) -> String {
    let mut out = text.to_owned();
    let mut from = 0;
    loop {
        let lower = out.to_ascii_lowercase();
        let Some(found) = lower[from..].find(name) else {
            return out;
        };
        let at = from + found;
        let after_name = at + name.len();
        from = after_name;
        let before_ok = starts_word(&out, at);
        let after_ok = out
            .as_bytes()
            .get(after_name)
            .is_none_or(|b| !is_name_char(*b));
        if !before_ok || !after_ok {
            continue;
        }
        let Some(sep) = separator_len(&out[after_name..]) else {
            continue;
        };
        let mut start = after_name + sep;
        // `Authorization: Bearer x`: keep the scheme, blank whatever follows
        // it (in a header it is the credential, however plain it looks).
        if name == "authorization" {
            let word = value_len(&out[start..]);
            if SCHEMES.contains(&out[start..start + word].to_ascii_lowercase().as_str()) {
                let rest = &out[start + word..];
                let gap = rest.len() - rest.trim_start_matches([' ', '\t']).len();
                if gap == 0 {
                    continue;
                }
                start += word + gap;
            }
        }
        if out[start..].starts_with(MARK) {
            from = start + MARK.len();
            continue;
        }
        // Skip an opening quote left by the separator scan (e.g. `: "x"`).
        while out[start..].starts_with('"') {
            start += 1;
        }
        let len = value_len(&out[start..]);
        if len == 0 {
            continue;
        }
        out.replace_range(start..start + len, MARK);
        from = start + MARK.len();
    }
}

fn redact_after_scheme(text: &str, scheme: &str) -> String {
    let mut out = text.to_owned();
    let mut from = 0;
    loop {
        let lower = out.to_ascii_lowercase();
        let Some(found) = lower[from..].find(scheme) else {
            return out;
        };
        let at = from + found;
        let after = at + scheme.len();
        from = after;
        let before_ok = starts_word(&out, at);
        // The credential follows after one or more spaces (or `%20`).
        let rest = &out[after..];
        let gap = if rest.starts_with(' ') || rest.starts_with('\t') {
            rest.len() - rest.trim_start_matches([' ', '\t']).len()
        } else if rest.to_ascii_lowercase().starts_with("%20") {
            3
        } else {
            0
        };
        if !before_ok || gap == 0 {
            continue;
        }
        let start = after + gap;
        if out[start..].starts_with(MARK) {
            from = start + MARK.len();
            continue;
        }
        let len = value_len(&out[start..]);
        // "failed to get bearer token", "Basic authentication": a word
        // after a scheme's name is only blanked when it could be a credential.
        if len == 0 || !could_be_credential(&out[start..start + len]) {
            continue;
        }
        out.replace_range(start..start + len, MARK);
        from = start + MARK.len();
    }
}

/// True unless `word` is plainly an ordinary word: credentials after an
/// authorization scheme (JWTs, base64, `account:signature`) are long and
/// carry digits, punctuation or mixed case; words of a sentence do not.
fn could_be_credential(word: &str) -> bool {
    let upper = word.chars().filter(char::is_ascii_uppercase).count();
    let lower = word.chars().filter(char::is_ascii_lowercase).count();
    let other = word.chars().any(|c| !c.is_ascii_alphabetic());
    word.len() >= 8 && (other || (upper >= 2 && lower >= 2))
}

/// Wraps a writer factory so each write (a whole formatted log line, as the
/// `tracing` formatters write them) is redacted first.
#[derive(Debug, Clone)]
pub struct Redacting<M>(pub M);

/// The writer [`Redacting`] hands out.
pub struct RedactingWriter<W>(W);

impl<W: Write> Write for RedactingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        self.0.write_all(redact_credentials(&text).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

impl<'a, M: MakeWriter<'a>> MakeWriter<'a> for Redacting<M> {
    type Writer = RedactingWriter<M::Writer>;

    fn make_writer(&'a self) -> Self::Writer {
        RedactingWriter(self.0.make_writer())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn blanked(text: &str, secret: &str) -> String {
        let out = redact_credentials(text);
        assert!(!out.contains(secret), "`{secret}` left in: {out}");
        assert!(out.contains(MARK), "{out}");
        out
    }

    #[test]
    fn query_and_connection_string_parameters_in_any_case() {
        let out = blanked("GET http://h/t()?sv=1&SIG=AbC%2B1%3D&se=2 HTTP", "AbC");
        assert!(out.contains("&se=2 HTTP"), "{out}");
        blanked("url?sv=1&Sig=q1w2e3", "q1w2e3");
        let out = blanked(
            "AccountName=a;accountkey=c2VjcmV0;EndpointSuffix=x",
            "c2VjcmV0",
        );
        assert!(out.ends_with(";EndpointSuffix=x"), "{out}");
        blanked("SharedAccessSignature=sv=1&sig=zz9", "zz9");
    }

    #[test]
    fn url_encoded_forms() {
        // A SAS URL inside another URL's query string.
        let out = blanked(
            "redirect=https%3A%2F%2Fa%2Ft%3Fsv%3D1%26sig%3DSeCrEt%252B%26se%3D2",
            "SeCrEt",
        );
        assert!(out.contains("%26se%3D2"), "{out}");
        blanked("client_secret%3Dshh-123%26x", "shh-123");
    }

    #[test]
    fn form_bodies_json_and_escaped_json() {
        blanked(
            "grant_type=client_credentials&client_secret=s3cr3t~x&scope=a",
            "s3cr3t",
        );
        blanked(
            "client_assertion_type=jwt&client_assertion=eyJhbGc.eyJzdWI.sig",
            "eyJhbGc",
        );
        blanked(
            r#"{"token_type":"Bearer","access_token":"eyJ0eXAi.abc","expires_in":3599}"#,
            "eyJ0eXAi",
        );
        blanked(
            r#"{"@message":"body {\"access_token\":\"eyJ0eXAi.abc\"}"}"#,
            "eyJ0eXAi",
        );
        blanked("Access_Token : tok-123", "tok-123");
    }

    #[test]
    fn authorization_headers_and_bearer_tokens() {
        let out = blanked(
            "authorization: SharedKey devstoreaccount1:AbCdEf+1=",
            "AbCdEf",
        );
        assert!(out.contains("SharedKey <redacted>"), "{out}");
        let out = blanked(
            r#"headers: {"Authorization": "Bearer eyJ0.eyJ1.c2ln", "x": "y"}"#,
            "eyJ0",
        );
        assert!(out.contains(r#""x": "y""#), "{out}");
        blanked("AUTHORIZATION=Basic dXNlcjpwYXNz", "dXNlcjpwYXNz");
        blanked("sent bearer eyJ0.eyJ1.c2ln to the table", "eyJ0");
        blanked(r#"Authorization: "opaque-token-9""#, "opaque-token-9");
        blanked("x-identity-header: 1dent1ty", "1dent1ty");
    }

    #[test]
    fn ordinary_text_is_left_alone() {
        for text in [
            "signature verification failed",
            "the sig column",
            "authorization failed for table t",
            "a Bearer token was refused",
            "failed to get bearer token: connection refused",
            "Basic authentication is not supported",
            "SharedKey credentials were rejected",
            "design=sig",
            "AccountKeyword=x",
        ] {
            assert_eq!(redact_credentials(text), text);
        }
        assert_eq!(redact_credentials("sig=<redacted>"), "sig=<redacted>");
        // Short or plain-looking credentials still go after `Authorization:`.
        blanked("Authorization: Bearer abcdefgh", "abcdefgh");
    }

    #[test]
    fn caps_hold_whatever_the_user_filter_says() {
        use tracing::Level;
        let caps = log_caps();
        assert!(caps.would_enable("rootmail::store", &Level::TRACE));
        assert!(caps.would_enable("azure_core::policies", &Level::WARN));
        assert!(!caps.would_enable("azure_core::policies::transport", &Level::DEBUG));
        assert!(!caps.would_enable("azure_identity", &Level::INFO));
    }

    #[test]
    fn writer_redacts_each_line() {
        let mut buf = Vec::new();
        RedactingWriter(&mut buf)
            .write_all(b"req Authorization: Bearer tok-abc-123\n")
            .expect("write");
        let text = String::from_utf8(buf).expect("utf-8");
        assert_eq!(text, "req Authorization: Bearer <redacted>\n");
    }
}
