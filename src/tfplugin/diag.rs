//! Diagnostics: the errors and warnings Terraform shows to the user, each
//! optionally pointing at the attribute (or collection element) it is about.

use crate::proto::tfplugin6 as pb;
use std::fmt;

/// One step of an [`AttributePath`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathStep {
    /// An attribute or nested block name.
    Attribute(String),
    /// A map key.
    Key(String),
    /// A list index.
    Index(i64),
}

impl From<&crate::tfplugin::value::ValuePath> for AttributePath {
    /// A place inside a value as a diagnostic's path (set positions become indexes,
    /// which only help a human reading the message).
    fn from(path: &crate::tfplugin::value::ValuePath) -> Self {
        use crate::tfplugin::value::PathStep as V;
        AttributePath(
            path.steps
                .iter()
                .map(|s| match s {
                    V::Attribute(n) => PathStep::Attribute(n.clone()),
                    V::Key(k) => PathStep::Key(k.clone()),
                    V::Index(i) => PathStep::Index(i64::try_from(*i).unwrap_or(i64::MAX)),
                })
                .collect(),
        )
    }
}

/// Where in a configuration or state a value lives, e.g. `owner` or
/// `per_mailbox["a@b.c"].free`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AttributePath(pub Vec<PathStep>);

impl AttributePath {
    /// The path of a top-level attribute.
    pub fn attr(name: impl Into<String>) -> Self {
        AttributePath(vec![PathStep::Attribute(name.into())])
    }

    /// This path extended by an attribute name.
    pub fn then_attr(mut self, name: impl Into<String>) -> Self {
        self.0.push(PathStep::Attribute(name.into()));
        self
    }

    /// This path extended by a map key.
    pub fn then_key(mut self, key: impl Into<String>) -> Self {
        self.0.push(PathStep::Key(key.into()));
        self
    }

    /// This path extended by a list index.
    pub fn then_index(mut self, index: i64) -> Self {
        self.0.push(PathStep::Index(index));
        self
    }

    /// The wire form.
    pub fn to_proto(&self) -> pb::AttributePath {
        use pb::attribute_path::step::Selector;
        pb::AttributePath {
            steps: self
                .0
                .iter()
                .map(|s| pb::attribute_path::Step {
                    selector: Some(match s {
                        PathStep::Attribute(n) => Selector::AttributeName(n.clone()),
                        PathStep::Key(k) => Selector::ElementKeyString(k.clone()),
                        PathStep::Index(i) => Selector::ElementKeyInt(*i),
                    }),
                })
                .collect(),
        }
    }

    /// Reads the wire form; steps without a selector are skipped.
    pub fn from_proto(p: &pb::AttributePath) -> Self {
        use pb::attribute_path::step::Selector;
        AttributePath(
            p.steps
                .iter()
                .filter_map(|s| match &s.selector {
                    Some(Selector::AttributeName(n)) => Some(PathStep::Attribute(n.clone())),
                    Some(Selector::ElementKeyString(k)) => Some(PathStep::Key(k.clone())),
                    Some(Selector::ElementKeyInt(i)) => Some(PathStep::Index(*i)),
                    None => None,
                })
                .collect(),
        )
    }
}

impl fmt::Display for AttributePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, s) in self.0.iter().enumerate() {
            match s {
                PathStep::Attribute(n) if i == 0 => write!(f, "{n}")?,
                PathStep::Attribute(n) => write!(f, ".{n}")?,
                PathStep::Key(k) => write!(f, "[{k:?}]")?,
                PathStep::Index(x) => write!(f, "[{x}]")?,
            }
        }
        Ok(())
    }
}

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// The operation failed.
    Error,
    /// The operation went on, but the user should know.
    Warning,
}

/// A message for the user, as Terraform prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// One line: what went wrong.
    pub summary: String,
    /// What it means and what to do about it.
    pub detail: String,
    /// The attribute it is about, if any.
    pub path: Option<AttributePath>,
}

impl Diagnostic {
    /// An error not tied to an attribute.
    pub fn error(summary: impl Into<String>, detail: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            summary: summary.into(),
            detail: detail.into(),
            path: None,
        }
    }

    /// A warning not tied to an attribute.
    pub fn warning(summary: impl Into<String>, detail: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(summary, detail)
        }
    }

    /// Ties this diagnostic to an attribute path.
    pub fn at(mut self, path: AttributePath) -> Self {
        self.path = Some(path);
        self
    }

    /// Ties this diagnostic to a top-level attribute.
    pub fn at_attr(self, name: impl Into<String>) -> Self {
        self.at(AttributePath::attr(name))
    }

    /// The wire form.
    pub fn to_proto(&self) -> pb::Diagnostic {
        pb::Diagnostic {
            severity: match self.severity {
                Severity::Error => pb::diagnostic::Severity::Error as i32,
                Severity::Warning => pb::diagnostic::Severity::Warning as i32,
            },
            // Details quote table values other tools wrote: never let one
            // carry an escape sequence to the user's terminal.
            summary: crate::safe_text::for_terminal(&self.summary).into_owned(),
            detail: crate::safe_text::for_message(&self.detail).into_owned(),
            attribute: self.path.as_ref().map(AttributePath::to_proto),
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{level}: {}", self.summary)?;
        if let Some(p) = &self.path {
            write!(f, " (at {p})")?;
        }
        if !self.detail.is_empty() {
            write!(f, ": {}", self.detail)?;
        }
        Ok(())
    }
}

/// An ordered collection of diagnostics; an operation failed when it holds
/// at least one error.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    /// No diagnostics.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one.
    pub fn push(&mut self, d: Diagnostic) {
        self.0.push(d);
    }

    /// Adds an error not tied to an attribute.
    pub fn error(&mut self, summary: impl Into<String>, detail: impl Into<String>) {
        self.push(Diagnostic::error(summary, detail));
    }

    /// Adds an error about a top-level attribute.
    pub fn attr_error(
        &mut self,
        attr: impl Into<String>,
        summary: impl Into<String>,
        detail: impl Into<String>,
    ) {
        self.push(Diagnostic::error(summary, detail).at_attr(attr));
    }

    /// Adds a warning not tied to an attribute.
    pub fn warning(&mut self, summary: impl Into<String>, detail: impl Into<String>) {
        self.push(Diagnostic::warning(summary, detail));
    }

    /// Appends all of `other`.
    pub fn extend(&mut self, other: Diagnostics) {
        self.0.extend(other.0);
    }

    /// True when at least one is an error.
    pub fn has_errors(&self) -> bool {
        self.0.iter().any(|d| d.severity == Severity::Error)
    }

    /// True when there are none at all.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Iterates over them.
    pub fn iter(&self) -> impl Iterator<Item = &Diagnostic> {
        self.0.iter()
    }

    /// The wire form.
    pub fn to_proto(&self) -> Vec<pb::Diagnostic> {
        self.0.iter().map(Diagnostic::to_proto).collect()
    }
}

impl From<Diagnostic> for Diagnostics {
    fn from(d: Diagnostic) -> Self {
        Diagnostics(vec![d])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_values_cannot_drive_the_terminal_through_a_diagnostic() {
        let d = Diagnostic::error(
            "Alias aws_1@x.com\u{1b}[2J changed",
            "linked to 1234\u{1b}]0;t\u{7}\nsecond line\u{202e}",
        );
        let wire = d.to_proto();
        assert_eq!(wire.summary, "Alias aws_1@x.com\\x1b[2J changed");
        assert_eq!(
            wire.detail,
            "linked to 1234\\x1b]0;t\\x07\nsecond line\\u{202e}"
        );
    }

    #[test]
    fn paths_render_like_terraform_addresses() {
        let p = AttributePath::attr("per_mailbox")
            .then_key("a@b.c")
            .then_attr("free");
        assert_eq!(p.to_string(), "per_mailbox[\"a@b.c\"].free");
        assert_eq!(AttributePath::from_proto(&p.to_proto()), p);
        let l = AttributePath::attr("aliases").then_index(3);
        assert_eq!(l.to_string(), "aliases[3]");
    }

    #[test]
    fn errors_are_counted_and_warnings_are_not() {
        let mut d = Diagnostics::new();
        d.warning("careful", "");
        assert!(!d.has_errors());
        d.attr_error("owner", "Invalid e-mail", "use name@domain");
        assert!(d.has_errors());
        let wire = d.to_proto();
        assert_eq!(wire.len(), 2);
        assert_eq!(wire[1].severity, pb::diagnostic::Severity::Error as i32);
        assert_eq!(
            AttributePath::from_proto(wire[1].attribute.as_ref().unwrap()).to_string(),
            "owner"
        );
    }
}
