//! Sign-ins the environment provides: AKS workload identity (a rotated token
//! file), managed identity through the VM metadata protocol, and secrets and
//! client ids from files and Azure DevOps' task variable.

use super::*;

#[test]
fn aks_workload_identity_picks_up_a_rotated_token_file() {
    let pool = OAuthPool::seeded("aks", 4);
    let client = unique_client();
    let tokens = tempfile::tempdir().expect("tempdir");
    let file = tokens.path().join("azure-identity-token");
    // The first token expires while the apply waits; the kubelet's rotated
    // one is written in the middle of the apply.
    let lifetime = server().token_lifetime + 2;
    std::fs::write(&file, server().mint_assertion(lifetime)).expect("token");
    let rotated = server().mint_assertion(600);
    let rotated_file = tokens.path().join("rotated");
    std::fs::write(&rotated_file, &rotated).expect("rotated token");
    let body = format!(
        "resource \"rootmail_alias\" \"first\" {{\n  owner = \"{OWNER}\"\n}}\n\
         resource \"terraform_data\" \"rotate\" {{\n  depends_on = [rootmail_alias.first]\n  \
         provisioner \"local-exec\" {{\n    command = \"cp {} {} && sleep {}\"\n  }}\n}}\n\
         resource \"rootmail_alias\" \"second\" {{\n  owner = \"{OWNER}\"\n  depends_on = [terraform_data.rotate]\n}}\n",
        rotated_file.display(),
        file.display(),
        lifetime + 4,
    );
    let webhook = |dir: &mut TerraformDir| {
        dir.env("ARM_TENANT_ID", "")
            .env("ARM_USE_AKS_WORKLOAD_IDENTITY", "true")
            .env("AZURE_CLIENT_ID", client.clone())
            .env("AZURE_TENANT_ID", TENANT)
            .env("AZURE_FEDERATED_TOKEN_FILE", file.display().to_string());
    };
    // `terraform_data` (to rotate the file mid-apply) needs a modern
    // Terraform; only this run may be left out when it is absent.
    if let Some(modern) = TerraformDir::modern() {
        let mut dir = prepare(modern, &pool, "", &body);
        webhook(&mut dir);
        dir.run_ok(&["apply", "-auto-approve", "-no-color"]);
        assert_eq!(pool.claimed(), 2);
        let presented = server().presented(&client);
        assert!(
            presented.contains(&rotated),
            "the rotated token was read and exchanged"
        );
        assert_eq!(
            server().counts(&client).refused,
            0,
            "no expired token was sent"
        );
        dir.run_ok(&["destroy", "-auto-approve", "-no-color"]);
        assert_eq!(pool.claimed(), 0);
        assert_no_secrets(&dir.log(), "the terraform log");
    }

    // Terraform 1.0.3 and the CLI, with the webhook's variables only (and
    // a token that outlives both runs, whether or not the file rotated).
    std::fs::write(&file, &rotated).expect("token");
    let grants = server().counts(&client).assertion_grants;
    let mut dir = prepare(TerraformDir::new(), &pool, "", &two_aliases());
    webhook(&mut dir);
    apply_and_destroy(&pool, &dir);
    let (ok, stdout, stderr) = rootmail_cli(
        &pool,
        &[
            ("ARM_TENANT_ID", String::new()),
            ("ARM_USE_AKS_WORKLOAD_IDENTITY", "true".to_owned()),
            ("AZURE_CLIENT_ID", client.clone()),
            ("AZURE_TENANT_ID", TENANT.to_owned()),
            ("AZURE_FEDERATED_TOKEN_FILE", file.display().to_string()),
        ],
    );
    assert!(ok, "{stdout}\n{stderr}");
    assert!(
        server().counts(&client).assertion_grants >= grants + 2,
        "terraform 1.0.3 and the CLI exchanged the file's token"
    );
    // A file holding a token Entra ID never issued is refused.
    std::fs::write(&file, "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.c2ln").expect("bogus");
    let (ok, _, stderr) = rootmail_cli(
        &pool,
        &[
            ("ARM_USE_AKS_WORKLOAD_IDENTITY", "true".to_owned()),
            ("AZURE_CLIENT_ID", client.clone()),
            ("AZURE_FEDERATED_TOKEN_FILE", file.display().to_string()),
        ],
    );
    assert!(!ok && stderr.contains("AADSTS700211"), "{stderr}");
}

#[test]
fn managed_identity_through_a_custom_endpoint_speaking_the_vm_metadata_protocol() {
    let pool = OAuthPool::seeded("imds", 4);
    if let Some(modern) = TerraformDir::modern() {
        let before = server().imds_requests();
        let mut dir = prepare(modern, &pool, "", &two_aliases());
        dir.env("ARM_USE_MSI", "true")
            .env("ARM_MSI_ENDPOINT", server().imds_url())
            .env("IDENTITY_ENDPOINT", server().msi_url());
        apply_and_destroy(&pool, &dir);
        assert!(
            server().imds_requests() > before,
            "ARM_MSI_ENDPOINT wins over IDENTITY_ENDPOINT"
        );
    }

    let before = server().imds_requests();
    let mut dir = prepare(
        TerraformDir::new(),
        &pool,
        &format!(
            "  use_msi = true\n  msi_endpoint = \"{}\"\n",
            server().imds_url()
        ),
        &two_aliases(),
    );
    dir.env("ARM_CLIENT_ID", "");
    apply_and_destroy(&pool, &dir);
    assert!(server().imds_requests() > before, "terraform 1.0.3");

    // The CLI, with App Service's variables set too: ARM_MSI_ENDPOINT wins.
    let (msi_before, before) = (server().pipeline_requests().2, server().imds_requests());
    let (ok, stdout, stderr) = rootmail_cli(
        &pool,
        &[
            ("ARM_USE_MSI", "true".to_owned()),
            ("ARM_MSI_ENDPOINT", server().imds_url()),
            ("IDENTITY_ENDPOINT", server().msi_url()),
            ("IDENTITY_HEADER", server().msi_header.clone()),
            ("ARM_CLIENT_ID", unique_client()),
        ],
    );
    assert!(ok, "{stdout}\n{stderr}");
    assert!(server().imds_requests() > before, "the CLI");
    assert_eq!(
        server().pipeline_requests().2,
        msi_before,
        "IDENTITY_ENDPOINT was not asked"
    );
}

#[test]
fn secrets_and_client_ids_from_files_and_the_azure_devops_task_variable() {
    let pool = OAuthPool::seeded("files", 4);
    let client = unique_client();
    let secret = format!("cs~{}", uuid::Uuid::new_v4().simple());
    server().register_client(&client, &secret);
    let files = tempfile::tempdir().expect("tempdir");
    let (id_file, secret_file) = (files.path().join("client-id"), files.path().join("secret"));
    std::fs::write(&id_file, format!("{client}\n")).expect("id");
    std::fs::write(&secret_file, format!("{secret}\n")).expect("secret");
    let mut dir = prepare(TerraformDir::new(), &pool, "", &two_aliases());
    dir.env("ARM_CLIENT_ID_FILE_PATH", id_file.display().to_string())
        .env(
            "ARM_CLIENT_SECRET_FILE_PATH",
            secret_file.display().to_string(),
        );
    apply_and_destroy(&pool, &dir);
    assert!(server().counts(&client).secret_grants >= 1);

    if let Some(modern) = TerraformDir::modern() {
        let extra = format!(
            "  client_id_file_path     = \"{}\"\n  client_secret_file_path = \"{}\"\n",
            id_file.display(),
            secret_file.display()
        );
        let dir = prepare(modern, &pool, &extra, &two_aliases());
        apply_and_destroy(&pool, &dir);
    }

    // The CLI, with the same variables.
    let grants = server().counts(&client).secret_grants;
    let (ok, stdout, stderr) = rootmail_cli(
        &pool,
        &[
            ("ARM_CLIENT_ID_FILE_PATH", id_file.display().to_string()),
            (
                "ARM_CLIENT_SECRET_FILE_PATH",
                secret_file.display().to_string(),
            ),
        ],
    );
    assert!(ok && stdout.contains('4'), "{stdout}\n{stderr}");
    assert!(server().counts(&client).secret_grants > grants);

    // Azure DevOps' AzureCLI@2 task: its service connection variable
    // completes OIDC, with the job's access token; terraform 1.0.3 and the CLI.
    let ado_client = unique_client();
    let mut dir = prepare(TerraformDir::new(), &pool, "", &two_aliases());
    dir.env("ARM_CLIENT_ID", ado_client.clone())
        .env("ARM_USE_OIDC", "true")
        .env(
            "AZURESUBSCRIPTION_SERVICE_CONNECTION_ID",
            testkit::azure_ad::ADO_SERVICE_CONNECTION,
        )
        .env("SYSTEM_OIDCREQUESTURI", server().ado_url())
        .env("SYSTEM_ACCESSTOKEN", server().ado_request_token.clone());
    apply_and_destroy(&pool, &dir);
    let grants = server().counts(&ado_client).assertion_grants;
    assert!(grants >= 1, "terraform");
    let (ok, stdout, stderr) = rootmail_cli(
        &pool,
        &[
            ("ARM_CLIENT_ID", ado_client.clone()),
            ("ARM_USE_OIDC", "true".to_owned()),
            (
                "AZURESUBSCRIPTION_SERVICE_CONNECTION_ID",
                testkit::azure_ad::ADO_SERVICE_CONNECTION.to_owned(),
            ),
            ("SYSTEM_OIDCREQUESTURI", server().ado_url()),
            ("SYSTEM_ACCESSTOKEN", server().ado_request_token.clone()),
        ],
    );
    assert!(ok, "{stdout}\n{stderr}");
    assert!(
        server().counts(&ado_client).assertion_grants > grants,
        "the CLI"
    );
}
