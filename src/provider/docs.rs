//! Generates the Terraform Registry docs (`docs/`) from the schemas and the
//! examples, so the docs cannot drift from what the provider accepts. A test
//! compares `docs/` with [`pages`]; `make docs` rewrites it.

use crate::tfplugin::{Attribute, Schema, Type};

/// One generated Markdown file, relative to `docs/`.
pub struct DocPage {
    /// e.g. `resources/alias.md`.
    pub path: String,
    /// The full Markdown text.
    pub content: String,
}

struct Kind {
    subcategory: &'static str,
    folder: &'static str,
}

const RESOURCE: Kind = Kind {
    subcategory: "Resource",
    folder: "resources",
};
const DATA_SOURCE: Kind = Kind {
    subcategory: "Data Source",
    folder: "data-sources",
};

/// Every page of the docs: the provider, then each resource and data source
/// the provider offers, in its order.
pub fn pages() -> Vec<DocPage> {
    use crate::tfplugin::Provider;
    let provider = super::RootmailProvider::new();
    let resources = provider.resources().into_iter();
    let data_sources = provider.data_sources().into_iter();
    let types = resources
        .map(|r| (&RESOURCE, r.type_name(), r.schema()))
        .chain(data_sources.map(|d| (&DATA_SOURCE, d.type_name(), d.schema())));
    std::iter::once(index())
        .chain(types.map(|(kind, name, schema)| page(kind, name, &schema)))
        .collect()
}

/// The example configuration of a type, from `examples/<folder>/<name>/`.
fn example(kind: &Kind, name: &str) -> &'static str {
    macro_rules! examples {
        ($(($folder:literal, $name:literal, $file:literal)),* $(,)?) => {
            match (kind.folder, name) {
                $(($folder, $name) => include_str!(concat!("../../examples/", $folder, "/", $name, "/", $file)),)*
                _ => "",
            }
        };
    }
    examples!(
        ("resources", "rootmail_alias", "resource.tf"),
        ("resources", "rootmail_alias_account", "resource.tf"),
        ("data-sources", "rootmail_alias", "data-source.tf"),
        ("data-sources", "rootmail_aliases", "data-source.tf"),
        ("data-sources", "rootmail_pool", "data-source.tf"),
        ("data-sources", "rootmail_audit", "data-source.tf"),
    )
}

/// The import section of a resource that can be imported.
fn import_doc(kind: &Kind, name: &str) -> Option<&'static str> {
    match (kind.folder, name) {
        ("resources", "rootmail_alias") => Some(super::alias::IMPORT_DOC),
        ("resources", "rootmail_alias_account") => Some(super::alias_account::IMPORT_DOC),
        _ => None,
    }
}

fn type_label(t: &Type) -> String {
    match t {
        Type::String => "String".into(),
        Type::Number => "Number".into(),
        Type::Bool => "Boolean".into(),
        Type::Dynamic => "Dynamic".into(),
        Type::List(e) => format!("List of {}", type_label(e)),
        Type::Set(e) => format!("Set of {}", type_label(e)),
        Type::Map(e) => format!("Map of {}", type_label(e)),
        Type::Object(_) => "Object".into(),
        Type::Tuple(_) => "Tuple".into(),
    }
}

fn attribute_line(a: &Attribute) -> String {
    let mut flags = type_label(&a.ty);
    if a.sensitive {
        flags.push_str(", Sensitive");
    }
    if a.write_only {
        flags.push_str(", Write-only");
    }
    format!("- `{}` ({}) {}\n", a.name, flags, a.description)
}

fn schema_sections(schema: &Schema) -> String {
    let mut out = String::from("## Schema\n");
    type Pick = fn(&Attribute) -> bool;
    let groups: [(&str, Pick); 3] = [
        ("Required", |a| a.required),
        ("Optional", |a| a.optional),
        ("Read-Only", |a| a.computed && !a.optional && !a.required),
    ];
    for (title, pick) in groups {
        let attrs: Vec<&Attribute> = schema.block.attributes.iter().filter(|a| pick(a)).collect();
        if attrs.is_empty() {
            continue;
        }
        out.push_str(&format!("\n### {title}\n\n"));
        let mut sorted = attrs;
        sorted.sort_by(|a, b| a.name.cmp(&b.name));
        for a in sorted {
            out.push_str(&attribute_line(a));
        }
    }
    out
}

fn page(kind: &Kind, name: &str, schema: &Schema) -> DocPage {
    let example = example(kind, name);
    let short = name.trim_start_matches("rootmail_");
    let mut s = format!(
        "---\npage_title: \"{name} {sub} - rootmail\"\nsubcategory: \"\"\ndescription: |-\n  {first}\n---\n\n# {name} ({sub})\n\n{desc}\n\n## Example Usage\n\n```terraform\n{example}```\n\n",
        sub = kind.subcategory,
        first = schema.block.description.lines().next().unwrap_or_default(),
        desc = schema.block.description,
        example = example,
    );
    s.push_str(&schema_sections(schema));
    if let Some(imp) = import_doc(kind, name) {
        s.push_str("\n## Import\n\n");
        s.push_str(imp);
        s.push('\n');
    }
    DocPage {
        path: format!("{}/{short}.md", kind.folder),
        content: s,
    }
}

fn index() -> DocPage {
    let schema = super::config::schema();
    let mut s = format!(
        "---\npage_title: \"rootmail Provider\"\ndescription: |-\n  Hands out AWS root-user e-mail aliases from a pool kept in an Azure Table.\n---\n\n# rootmail Provider\n\n{}\n\n## Example Usage\n\n```terraform\n{}```\n\n",
        schema.block.description,
        include_str!("../../examples/provider/provider.tf"),
    );
    s.push_str(include_str!("../../examples/provider/ci-oidc.md"));
    s.push('\n');
    s.push_str(include_str!("../../examples/provider/security.md"));
    s.push('\n');
    s.push_str(&schema_sections(&schema));
    s.push_str("\n### Environment Variables Only\n\n");
    for setting in crate::settings::SETTINGS
        .iter()
        .filter(|s| s.environment_only)
    {
        let names: Vec<String> = setting.env.iter().map(|n| format!("`{n}`")).collect();
        s.push_str(&format!(
            "- {} (Environment variable) {}\n",
            names.join(" or "),
            setting.doc
        ));
    }
    DocPage {
        path: "index.md".into(),
        content: s,
    }
}
