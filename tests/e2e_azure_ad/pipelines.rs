//! OIDC from pipelines: GitHub Actions and Azure DevOps set up as the guide
//! documents them (one through a proxy), from provider attributes, from a token
//! file, and an apply that outlives its token.

use super::*;

/// The `env:` of the first YAML block under the heading `#### {section}` of
/// docs/index.md, as the user copies it, and the whole block.
fn documented_pipeline(section: &str) -> (String, Vec<(String, String)>) {
    let docs = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/index.md"),
    )
    .expect("docs/index.md");
    let start = docs
        .find(&format!("#### {section}\n"))
        .unwrap_or_else(|| panic!("docs/index.md has no `#### {section}` section"));
    let rest = &docs[start..];
    let yaml_start = rest.find("```yaml\n").expect("a YAML block") + "```yaml\n".len();
    let yaml = &rest[yaml_start..];
    let yaml = &yaml[..yaml.find("```").expect("end of the YAML block")];
    let lines: Vec<&str> = yaml.lines().collect();
    let env_at = lines
        .iter()
        .position(|l| l.trim() == "env:")
        .expect("an env: mapping");
    let indent = |l: &str| l.len() - l.trim_start().len();
    let base = indent(lines[env_at]);
    let vars = lines[env_at + 1..]
        .iter()
        .take_while(|l| !l.trim().is_empty() && indent(l) > base)
        .map(|l| {
            let (k, v) = l.trim().split_once(':').expect("KEY: value");
            (k.trim().to_owned(), v.trim().trim_matches('"').to_owned())
        })
        .collect();
    (yaml.to_owned(), vars)
}

/// The documented variables with the pipeline's placeholders filled in by
/// what GitHub or Azure DevOps would put there.
fn fill_placeholders(vars: &[(String, String)], client: &str) -> Vec<(String, String)> {
    vars.iter()
        .map(|(k, v)| {
            let value = match v.as_str() {
                "${{ vars.AZURE_TENANT_ID }}" | "$(tenantId)" => TENANT.to_owned(),
                "${{ vars.AZURE_CLIENT_ID }}" | "$(servicePrincipalId)" => client.to_owned(),
                "$(serviceConnectionId)" => ADO_SERVICE_CONNECTION.to_owned(),
                "$(System.AccessToken)" => server().ado_request_token.clone(),
                other if other.contains("$(") || other.contains("${{") => {
                    panic!("docs use a placeholder this test does not know: {k}: {other}")
                }
                other => other.to_owned(),
            };
            (k.clone(), value)
        })
        .collect()
}

/// [`apply_and_destroy`], signed in as `client` with federated assertions
/// only (none refused).
fn apply_and_destroy_federated(pool: &OAuthPool, dir: &TerraformDir, client: &str) {
    apply_and_destroy(pool, dir);
    let counts = server().counts(client);
    assert!(
        counts.assertion_grants >= 1 && counts.refused == 0,
        "{counts:?}"
    );
}

#[test]
fn github_actions_oidc_as_documented_apply_and_destroy() {
    let (yaml, vars) = documented_pipeline("GitHub Actions");
    assert!(yaml.contains("id-token: write"), "{yaml}");
    let pool = OAuthPool::seeded("github", 4);
    let client = unique_client();
    let (gh_before, _, _) = server().pipeline_requests();
    let mut dir = tf_dir(&pool, &two_aliases());
    for (k, v) in fill_placeholders(&vars, &client) {
        dir.env(&k, v);
    }
    // What GitHub sets in a job with `id-token: write`.
    dir.env("ACTIONS_ID_TOKEN_REQUEST_URL", server().github_url())
        .env(
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
            server().github_request_token.clone(),
        )
        .env("TF_LOG", "TRACE");
    apply_and_destroy_federated(&pool, &dir, &client);
    assert!(server().pipeline_requests().0 > gh_before);
    assert!(
        dir.log().contains("new Azure AD token"),
        "the provider's debug lines are in the log"
    );
}

#[test]
fn azure_devops_oidc_as_documented_through_a_proxy() {
    let (yaml, vars) = documented_pipeline("Azure DevOps");
    assert!(
        yaml.contains("SYSTEM_ACCESSTOKEN: $(System.AccessToken)"),
        "{yaml}"
    );
    let pool = OAuthPool::seeded("ado", 4);
    let client = unique_client();
    let proxy = azure_ad::ConnectProxy::start();
    let mut dir = tf_dir(&pool, &two_aliases());
    for (k, v) in fill_placeholders(&vars, &client) {
        dir.env(&k, v);
    }
    // What Azure Pipelines sets in every job, and the corporate proxy.
    dir.env("SYSTEM_OIDCREQUESTURI", server().ado_url())
        .env("HTTPS_PROXY", proxy.url())
        .env("TF_LOG", "TRACE");
    apply_and_destroy_federated(&pool, &dir, &client);
    // Both the identity requests and the table requests went through the proxy.
    let targets = proxy.targets();
    let authority = format!("127.0.0.1:{}", server().port);
    let table = format!("127.0.0.1:{}", azurite_tls().port());
    assert!(targets.contains(&authority), "{targets:?}");
    assert!(targets.contains(&table), "{targets:?}");
    // NO_PROXY sends them direct.
    let seen = proxy.targets().len();
    dir.env("NO_PROXY", "127.0.0.1");
    apply_and_destroy(&pool, &dir);
    assert_eq!(proxy.targets().len(), seen, "NO_PROXY was not honoured");
}

/// Explicit provider attributes instead of environment variables.
#[test]
fn github_actions_oidc_from_provider_attributes() {
    let pool = OAuthPool::seeded("attrs", 3);
    let client = unique_client();
    let provider = format!(
        "{}\nprovider \"rootmail\" {{\n  endpoint           = \"{}\"\n  table              = \"{}\"\n  \
         tenant_id          = \"{TENANT}\"\n  client_id          = \"{client}\"\n  use_oidc           = true\n  \
         oidc_request_url   = \"{}\"\n  oidc_request_token = var.request_token\n}}\n\
         variable \"request_token\" {{\n  type      = string\n  sensitive = true\n}}\n",
        terraform::required_providers_block(),
        azurite_tls().endpoint(),
        pool.table,
        server().github_url(),
    );
    let mut dir = tf_dir(&pool, "");
    dir.write("main.tf", &(provider + &two_aliases()));
    dir.env(
        "TF_VAR_request_token",
        server().github_request_token.clone(),
    )
    .env("ARM_TENANT_ID", "");
    apply_and_destroy(&pool, &dir);
    assert!(server().counts(&client).assertion_grants >= 1);
}

#[test]
fn oidc_token_file_apply_and_destroy() {
    let pool = OAuthPool::seeded("file", 4);
    let client = unique_client();
    let tokens = tempfile::tempdir().expect("tempdir");
    let path = tokens.path().join("token");
    std::fs::write(&path, server().mint_assertion(600)).expect("token");
    let mut dir = tf_dir(&pool, &two_aliases());
    dir.env("ARM_CLIENT_ID", client.clone())
        .env("ARM_USE_OIDC", "true")
        .env("ARM_OIDC_TOKEN_FILE_PATH", path.display().to_string());
    apply_and_destroy(&pool, &dir);
    assert_eq!(server().counts(&client).refused, 0);
}

#[test]
fn an_apply_that_outlives_its_token_gets_a_new_assertion() {
    let pool = OAuthPool::seeded("long", 4);
    let client = unique_client();
    let body = format!(
        "resource \"rootmail_alias\" \"first\" {{\n  owner = \"{OWNER}\"\n}}\n\
         resource \"terraform_data\" \"wait\" {{\n  depends_on = [rootmail_alias.first]\n  \
         provisioner \"local-exec\" {{\n    command = \"sleep {}\"\n  }}\n}}\n\
         resource \"rootmail_alias\" \"second\" {{\n  owner = \"{OWNER}\"\n  depends_on = [terraform_data.wait]\n}}\n",
        server().token_lifetime + 6
    );
    // `terraform_data` needs a modern Terraform (see testkit/src/terraform.rs).
    let Some(modern) = TerraformDir::modern() else {
        return;
    };
    let mut dir = prepare(modern, &pool, "", &body);
    dir.env("ARM_CLIENT_ID", client.clone())
        .env("ARM_USE_OIDC", "true")
        .env("ACTIONS_ID_TOKEN_REQUEST_URL", server().github_url())
        .env(
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
            server().github_request_token.clone(),
        );
    let before = server().presented(&client).len();
    dir.run_ok(&["apply", "-auto-approve", "-no-color"]);
    assert_eq!(pool.claimed(), 2);
    let presented = server().presented(&client);
    let during: Vec<&String> = presented[before..].iter().collect();
    // The second claim came after both the access token and the first
    // assertion expired: a fresh assertion was requested and exchanged.
    assert!(during.len() >= 2, "{} exchanges", during.len());
    let distinct: std::collections::BTreeSet<&&String> = during.iter().collect();
    assert_eq!(distinct.len(), during.len(), "an assertion was sent twice");
    assert_eq!(
        server().counts(&client).refused,
        0,
        "no expired assertion was sent"
    );
    dir.run_ok(&["destroy", "-auto-approve", "-no-color"]);
    assert_eq!(pool.claimed(), 0);
}
