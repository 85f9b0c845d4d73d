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

/// Every page of the docs.
pub fn pages() -> Vec<DocPage> {
    vec![
        index(),
        page(
            &RESOURCE,
            "rootmail_alias",
            &super::alias::schema(),
            include_str!("../../examples/resources/rootmail_alias/resource.tf"),
            Some(super::alias::IMPORT_DOC),
        ),
        page(
            &RESOURCE,
            "rootmail_alias_account",
            &super::alias_account::schema(),
            include_str!("../../examples/resources/rootmail_alias_account/resource.tf"),
            Some(super::alias_account::IMPORT_DOC),
        ),
        page(
            &DATA_SOURCE,
            "rootmail_alias",
            &data_schema("rootmail_alias"),
            include_str!("../../examples/data-sources/rootmail_alias/data-source.tf"),
            None,
        ),
        page(
            &DATA_SOURCE,
            "rootmail_aliases",
            &data_schema("rootmail_aliases"),
            include_str!("../../examples/data-sources/rootmail_aliases/data-source.tf"),
            None,
        ),
        page(
            &DATA_SOURCE,
            "rootmail_pool",
            &data_schema("rootmail_pool"),
            include_str!("../../examples/data-sources/rootmail_pool/data-source.tf"),
            None,
        ),
        page(
            &DATA_SOURCE,
            "rootmail_audit",
            &data_schema("rootmail_audit"),
            include_str!("../../examples/data-sources/rootmail_audit/data-source.tf"),
            None,
        ),
    ]
}

fn data_schema(name: &str) -> Schema {
    use crate::tfplugin::Provider;
    super::RootmailProvider::new()
        .data_sources()
        .into_iter()
        .find(|d| d.type_name() == name)
        .map(|d| d.schema())
        .unwrap_or_default()
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

fn page(kind: &Kind, name: &str, schema: &Schema, example: &str, import: Option<&str>) -> DocPage {
    let short = name.trim_start_matches("rootmail_");
    let mut s = format!(
        "---\npage_title: \"{name} {sub} - rootmail\"\nsubcategory: \"\"\ndescription: |-\n  {first}\n---\n\n# {name} ({sub})\n\n{desc}\n\n## Example Usage\n\n```terraform\n{example}```\n\n",
        sub = kind.subcategory,
        first = schema.block.description.lines().next().unwrap_or_default(),
        desc = schema.block.description,
        example = example,
    );
    s.push_str(&schema_sections(schema));
    if let Some(imp) = import {
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
    for setting in crate::store::SETTINGS.iter().filter(|s| s.environment_only) {
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
