//! The real terraform 1.0.3 loads the built provider through `dev_overrides`,
//! completes the go-plugin handshake (AutoMTLS included), reads its schema and
//! validates a configuration that uses it.

use testkit::terraform;

use terraform::{required_providers_block, Cli, TerraformDir, PROVIDER_ADDRESS};

fn provider_only_config() -> TerraformDir {
    provider_only_config_for(TerraformDir::new())
}

fn provider_only_config_for(dir: TerraformDir) -> TerraformDir {
    dir.write(
        "main.tf",
        &format!(
            "{}\nprovider \"rootmail\" {{}}\n",
            required_providers_block()
        ),
    );
    dir
}

#[test]
fn terraform_reads_the_provider_schema() {
    let dir = provider_only_config();
    let output = dir.run_ok(&["providers", "schema", "-json"]);
    let schema = output.json();
    let provider = &schema["provider_schemas"][PROVIDER_ADDRESS];
    assert!(
        provider.is_object(),
        "no schema for {PROVIDER_ADDRESS} in {}",
        output.stdout
    );
    assert!(
        provider["provider"]["block"].is_object(),
        "the provider has a configuration block: {provider}"
    );
    let attrs = &provider["provider"]["block"]["attributes"];
    for name in [
        "storage_account",
        "endpoint",
        "table",
        "partition_key",
        "use_azuread",
        "use_emulator",
    ] {
        assert!(
            attrs[name].is_object(),
            "provider attribute {name} missing: {attrs}"
        );
    }
    for secret in [
        "connection_string",
        "access_key",
        "sas_token",
        "client_secret",
        "oidc_token",
    ] {
        assert_eq!(
            attrs[secret]["sensitive"], true,
            "{secret} must be sensitive"
        );
    }
    let resources = &provider["resource_schemas"];
    assert_eq!(
        resources["rootmail_alias"]["block"]["attributes"]["owner"]["required"],
        true
    );
    assert_eq!(
        resources["rootmail_alias"]["block"]["attributes"]["email"]["computed"],
        true
    );
    assert!(resources["rootmail_alias_account"].is_object());
    for ds in [
        "rootmail_alias",
        "rootmail_aliases",
        "rootmail_pool",
        "rootmail_audit",
    ] {
        assert!(
            provider["data_source_schemas"][ds].is_object(),
            "data source {ds} missing"
        );
    }

    // The provider's hclog lines were parsed by Terraform, not passed through raw.
    let log = dir.log();
    assert!(
        log.contains("provider.terraform-provider-rootmail: serving plugin"),
        "provider log line missing from Terraform's log:\n{}",
        terraform::tail(&log, 40)
    );
    assert!(
        !log.contains("\"@message\""),
        "a provider log line reached Terraform unparsed"
    );
    // Terraform stopped the provider through GRPCController.Shutdown and the
    // process exited cleanly (go-plugin appends `error=exit status N` otherwise).
    assert!(
        log.contains("the plugin host asked the plugin to shut down"),
        "Terraform did not call Shutdown:\n{}",
        terraform::tail(&log, 40)
    );
    let exits: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("provider: plugin process exited"))
        .collect();
    assert!(
        !exits.is_empty(),
        "no provider exit in the log:\n{}",
        terraform::tail(&log, 40)
    );
    for line in exits {
        assert!(!line.contains("error="), "{line}");
    }
}

#[test]
fn terraform_validates_a_configuration_using_the_provider() {
    let dir = provider_only_config();
    let output = dir.run_ok(&["validate", "-json"]);
    let result = output.json();
    assert_eq!(result["valid"], true, "{}", output.stdout);
    assert_eq!(result["error_count"], 0, "{}", output.stdout);
}

#[test]
fn terraform_reattaches_to_a_debug_mode_provider() {
    reattach_with(Cli::Floor);
}

/// The reattach value names the provider under Terraform's and OpenTofu's
/// registry host; a modern Terraform accepts it as well.
#[test]
fn modern_terraform_reattaches_to_a_debug_mode_provider() {
    reattach_with(Cli::Modern);
}

fn reattach_with(cli: Cli) {
    let Some(dir) = TerraformDir::for_cli(cli) else {
        return;
    };
    let mut provider = terraform::DebugProvider::start();
    let mut dir = provider_only_config_for(dir);
    dir.env("TF_REATTACH_PROVIDERS", provider.reattach.clone());
    let output = dir.run_ok(&["validate", "-json"]);
    assert_eq!(output.json()["valid"], true, "{}", output.stdout);
    // Terraform used the running process instead of starting its own.
    assert!(
        !dir.log().contains("provider: starting plugin"),
        "Terraform started a provider process although one was reattached"
    );
    assert!(
        provider.is_running(),
        "a reattached provider outlives the terraform run"
    );
    assert!(provider.interrupt().success());
}
