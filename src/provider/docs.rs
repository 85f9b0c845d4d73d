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

/// Variables the azurerm provider or its state backend read for signing in
/// that rootmail does not, and why.
const AZURERM_VARIABLES_NOT_READ: &[(&str, &str)] = &[
    (
        "ARM_SUBSCRIPTION_ID",
        "tables are reached by account, not by subscription",
    ),
    (
        "ARM_AUXILIARY_TENANT_IDS",
        "tokens for other tenants' Resource Manager only",
    ),
    ("ARM_STORAGE_USE_AZUREAD", "use `ARM_USE_AZUREAD`"),
    ("ARM_USE_MSAL", "Azure AD v2 tokens are always used"),
    ("ARM_PARTNER_ID", "Resource Manager only"),
    ("ARM_DISABLE_TERRAFORM_PARTNER_ID", "Resource Manager only"),
    (
        "ARM_DISABLE_CORRELATION_REQUEST_ID",
        "Resource Manager only",
    ),
    ("ARM_SKIP_PROVIDER_REGISTRATION", "Resource Manager only"),
    (
        "ARM_RESOURCE_PROVIDER_REGISTRATIONS",
        "Resource Manager only",
    ),
    (
        "ARM_ENDPOINT",
        "the backend's Resource Manager endpoint; tables need none",
    ),
    ("ARM_SNAPSHOT", "the backend's blob snapshots"),
];

/// The table of every sign-in variable: those the settings read (from the
/// Setting table), the others `crate::azure` reads, and azurerm's that are
/// not read; then the ways to sign in and what happens when several are set.
fn variables_table() -> String {
    let mut rows: Vec<(String, String, String)> = Vec::new();
    for setting in crate::settings::SETTINGS {
        for (i, var) in setting.all_env().enumerate() {
            let from_pipeline = i >= setting.env.len();
            let how = match (from_pipeline, setting.environment_only) {
                (true, _) => format!(
                    "`{}`, from a pipeline (after the `ARM_` variable)",
                    setting.name
                ),
                (false, true) => "yes (environment only)".to_owned(),
                (false, false) => format!("`{}`", setting.name),
            };
            rows.push((var.to_owned(), how, setting.summary.to_owned()));
        }
    }
    for (var, what) in crate::azure::OTHER_VARIABLES {
        rows.push((
            (*var).to_owned(),
            "yes (environment only)".to_owned(),
            (*what).to_owned(),
        ));
    }
    for (var, why) in AZURERM_VARIABLES_NOT_READ {
        rows.push(((*var).to_owned(), "no".to_owned(), (*why).to_owned()));
    }
    rows.sort();
    let mut s = String::from(
        "### Every sign-in variable\n\nThe variables the azurerm provider and its state backend \
         read, and the others rootmail reads. An attribute set in the provider block wins over its \
         variables; of several variables for one attribute, the first set (in the order listed in \
         its description) wins.\n\n| Variable | Read by rootmail (attribute) | What it does |\n\
         |---|---|---|\n",
    );
    for (var, how, what) in rows {
        s.push_str(&format!("| `{var}` | {how} | {what} |\n"));
    }
    s.push_str(
        "\nThe ways to sign in are `use_emulator`; `connection_string`, `access_key`, `sas_token` \
         (ignored with `use_azuread = true`); client certificate (`client_certificate`, else \
         `client_certificate_path`), client secret (`client_secret` or `client_secret_file_path`), \
         OIDC (`oidc_token`, else `oidc_token_file_path`, else requested from Azure DevOps when a \
         service connection is set, else from GitHub Actions; `use_aks_workload_identity` is OIDC \
         with the webhook's token file), managed identity (`msi_endpoint`, else \
         `IDENTITY_ENDPOINT`, else the VM/VMSS metadata service), Azure CLI (also the last resort \
         when nothing else is set, unless `use_cli = false`). A way set entirely in the provider \
         block wins over any set only in the environment; two set at the same level are refused \
         with an error naming both and where they came from. Pipeline variables (`ACTIONS_*`, \
         `SYSTEM_*`, `AZURESUBSCRIPTION_SERVICE_CONNECTION_ID`) complete OIDC but never choose \
         it.\n",
    );
    s
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
    s.push_str(&variables_table());
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

#[cfg(test)]
mod variable_tests {
    #[test]
    fn the_sign_in_table_lists_every_azurerm_variable() {
        let table = super::variables_table();
        for var in [
            "ARM_CLIENT_CERTIFICATE_PATH",
            "ARM_CLIENT_CERTIFICATE",
            "ARM_CLIENT_CERTIFICATE_PASSWORD",
            "ARM_CLIENT_SECRET_FILE_PATH",
            "ARM_CLIENT_ID_FILE_PATH",
            "ARM_USE_AKS_WORKLOAD_IDENTITY",
            "AZURE_CLIENT_ID",
            "AZURE_TENANT_ID",
            "AZURE_FEDERATED_TOKEN_FILE",
            "AZURE_AUTHORITY_HOST",
            "ARM_OIDC_AZURE_SERVICE_CONNECTION_ID",
            "AZURESUBSCRIPTION_SERVICE_CONNECTION_ID",
            "ARM_MSI_ENDPOINT",
            "ARM_METADATA_HOSTNAME",
            "ARM_ACCESS_KEY",
            "ARM_SAS_TOKEN",
            "ARM_USE_AZUREAD",
            "ARM_SUBSCRIPTION_ID",
            "ACTIONS_ID_TOKEN_REQUEST_URL",
            "SYSTEM_ACCESSTOKEN",
            "IDENTITY_ENDPOINT",
        ] {
            assert!(table.contains(&format!("| `{var}` |")), "{var} missing");
        }
        // One row per variable.
        let rows: Vec<&str> = table.lines().filter(|l| l.starts_with("| `")).collect();
        let mut names: Vec<&str> = rows.iter().filter_map(|r| r.split('`').nth(1)).collect();
        let n = names.len();
        names.dedup();
        assert_eq!(names.len(), n);
    }
}
