//! The settings themselves. Names, variables and their order are what users
//! write: change them only with care (and `make docs`).

use super::{PipelineEnv, Setting, Slot};

/// The table the legacy tools use (the `table` setting's default).
pub const DEFAULT_TABLE: &str = "awsrootaccounts";
/// The partition every legacy row lives in (the `partition_key` setting's default).
pub const DEFAULT_PARTITION_KEY: &str = "root";

/// Every setting, in the order the provider and the CLI show them.
pub const SETTINGS: &[&Setting] = &[
    &STORAGE_ACCOUNT,
    &ENDPOINT,
    &TABLE,
    &PARTITION_KEY,
    &CONNECTION_STRING,
    &ACCESS_KEY,
    &SAS_TOKEN,
    &USE_AZUREAD,
    &TENANT_ID,
    &CLIENT_ID,
    &CLIENT_SECRET,
    &CLIENT_SECRET_FILE_PATH,
    &CLIENT_ID_FILE_PATH,
    &CLIENT_CERTIFICATE_PATH,
    &CLIENT_CERTIFICATE,
    &CLIENT_CERTIFICATE_PASSWORD,
    &USE_OIDC,
    &OIDC_TOKEN,
    &OIDC_TOKEN_FILE_PATH,
    &OIDC_REQUEST_URL,
    &OIDC_REQUEST_TOKEN,
    &ADO_SERVICE_CONNECTION_ID,
    &ENVIRONMENT,
    &METADATA_HOST,
    &AUTHORITY_HOST,
    &CA_FILE,
    &GRAPH_ENDPOINT,
    &USE_AKS_WORKLOAD_IDENTITY,
    &USE_MSI,
    &MSI_ENDPOINT,
    &USE_CLI,
    &USE_EMULATOR,
    &ADDRESS_SOURCE,
    &RETRY_TIMEOUT,
    &CLAIM_BATCHING,
    &READ_BATCHING,
    &RELEASE_BATCHING,
];

pub const STORAGE_ACCOUNT: Setting = Setting {
    name: "storage_account",
    env: &["AZURE_STORAGE_ACCOUNT", "ROOTMAIL_STORAGE_ACCOUNT"],
    pipeline_env: None,
    summary: "Storage account name",
    doc: "Name of the storage account holding the pool table. Either this or `endpoint` (or a \
          connection string) is needed.",
    value_name: "NAME",
    environment_only: false,
    slot: |s| Slot::Text(&mut s.account),
};

pub const ENDPOINT: Setting = Setting {
    name: "endpoint",
    env: &["ROOTMAIL_TABLE_ENDPOINT"],
    pipeline_env: None,
    summary: "Full table endpoint, e.g. Azurite's http://127.0.0.1:10002/devstoreaccount1",
    doc: "Full table service endpoint, for sovereign clouds, the Cosmos DB Table API or \
          Azurite, e.g. `https://acct.table.core.windows.net` or \
          `http://127.0.0.1:10002/devstoreaccount1`.",
    value_name: "URL",
    environment_only: false,
    slot: |s| Slot::Text(&mut s.endpoint),
};

pub const TABLE: Setting = Setting {
    name: "table",
    env: &["ROOTMAIL_TABLE_NAME"],
    pipeline_env: None,
    summary: "Table name (default awsrootaccounts)",
    doc: "Name of the pool table. Defaults to `awsrootaccounts`.",
    value_name: "NAME",
    environment_only: false,
    slot: |s| Slot::Text(&mut s.table),
};

pub const PARTITION_KEY: Setting = Setting {
    name: "partition_key",
    env: &["ROOTMAIL_PARTITION_KEY"],
    pipeline_env: None,
    summary: "Partition key (default root)",
    doc: "Partition holding the pool's rows. Defaults to `root`.",
    value_name: "KEY",
    environment_only: false,
    slot: |s| Slot::Text(&mut s.partition_key),
};

pub const CONNECTION_STRING: Setting = Setting {
    name: "connection_string",
    env: &[
        "ROOTMAIL_CONNECTION_STRING",
        "AZURE_STORAGE_CONNECTION_STRING",
    ],
    pipeline_env: None,
    summary: "Storage connection string",
    doc: "Storage connection string.",
    value_name: "TEXT",
    environment_only: false,
    slot: |s| Slot::Secret(&mut s.connection_string),
};

pub const ACCESS_KEY: Setting = Setting {
    name: "access_key",
    env: &["ROOTMAIL_ACCESS_KEY", "ARM_ACCESS_KEY", "AZURE_STORAGE_KEY"],
    pipeline_env: None,
    summary: "Shared key of the storage account",
    doc: "Shared key of the storage account. `ROOTMAIL_ACCESS_KEY` comes first so that the \
          pool's key need not share `ARM_ACCESS_KEY` with the azurerm state backend, which reads \
          that one for the state's storage account.",
    value_name: "KEY",
    environment_only: false,
    slot: |s| Slot::Secret(&mut s.access_key),
};

pub const SAS_TOKEN: Setting = Setting {
    name: "sas_token",
    env: &[
        "ROOTMAIL_SAS_TOKEN",
        "ARM_SAS_TOKEN",
        "AZURE_STORAGE_SAS_TOKEN",
    ],
    pipeline_env: None,
    summary: "SAS token for the table service",
    doc: "SAS token for the table service with read, add, update and list permissions.",
    value_name: "TOKEN",
    environment_only: false,
    slot: |s| Slot::Secret(&mut s.sas_token),
};

pub const USE_AZUREAD: Setting = Setting {
    name: "use_azuread",
    env: &["ARM_USE_AZUREAD"],
    pipeline_env: None,
    summary: "Only Azure AD credentials, never keys or SAS",
    doc: "Authenticate with Azure AD (Entra ID); the identity needs the `Storage Table Data \
          Contributor` role. Pick the method with `client_secret`, `use_oidc`, `use_msi` or \
          `use_cli`.",
    value_name: "",
    environment_only: false,
    slot: |s| Slot::Flag(&mut s.use_azuread),
};

pub const TENANT_ID: Setting = Setting {
    name: "tenant_id",
    env: &["ARM_TENANT_ID", "AZURE_TENANT_ID"],
    pipeline_env: None,
    summary: "Azure AD tenant",
    doc: "Azure AD tenant id.",
    value_name: "ID",
    environment_only: false,
    slot: |s| Slot::Text(&mut s.tenant_id),
};

pub const CLIENT_ID: Setting = Setting {
    name: "client_id",
    env: &["ARM_CLIENT_ID", "AZURE_CLIENT_ID"],
    pipeline_env: None,
    summary: "Azure AD application (client) id, or a user-assigned managed identity's",
    doc: "Azure AD application (client) id, or the client id of a user-assigned managed \
          identity.",
    value_name: "ID",
    environment_only: false,
    slot: |s| Slot::Text(&mut s.client_id),
};

pub const CLIENT_SECRET: Setting = Setting {
    name: "client_secret",
    env: &["ARM_CLIENT_SECRET", "AZURE_CLIENT_SECRET"],
    pipeline_env: None,
    summary: "Azure AD client secret",
    doc: "Azure AD client secret.",
    value_name: "SECRET",
    environment_only: false,
    slot: |s| Slot::Secret(&mut s.client_secret),
};

pub const CLIENT_SECRET_FILE_PATH: Setting = Setting {
    name: "client_secret_file_path",
    env: &["ARM_CLIENT_SECRET_FILE_PATH"],
    pipeline_env: None,
    summary: "File holding the Azure AD client secret",
    doc: "File holding the Azure AD client secret (e.g. a mounted secret). When `client_secret` \
          is set too, both must hold the same secret.",
    value_name: "PATH",
    environment_only: false,
    slot: |s| Slot::Path(&mut s.client_secret_file_path),
};

pub const CLIENT_ID_FILE_PATH: Setting = Setting {
    name: "client_id_file_path",
    env: &["ARM_CLIENT_ID_FILE_PATH"],
    pipeline_env: None,
    summary: "File holding the Azure AD client id",
    doc: "File holding the Azure AD application (client) id. When `client_id` is set too, both \
          must hold the same id.",
    value_name: "PATH",
    environment_only: false,
    slot: |s| Slot::Path(&mut s.client_id_file_path),
};

pub const CLIENT_CERTIFICATE_PATH: Setting = Setting {
    name: "client_certificate_path",
    env: &["ARM_CLIENT_CERTIFICATE_PATH"],
    pipeline_env: None,
    summary: "Client certificate file: PFX/PKCS#12, or PEM with its private key",
    doc: "File holding the application's client certificate and its RSA private key: a \
          PFX/PKCS#12 archive (`client_certificate_password` opens it) or PEM (the certificate \
          and an unencrypted private key).",
    value_name: "PATH",
    environment_only: false,
    slot: |s| Slot::Path(&mut s.client_certificate_path),
};

pub const CLIENT_CERTIFICATE: Setting = Setting {
    name: "client_certificate",
    env: &["ARM_CLIENT_CERTIFICATE"],
    pipeline_env: None,
    summary: "Client certificate, base64 (a PFX/PKCS#12 archive or PEM)",
    doc: "The client certificate itself, base64-encoded: a PFX/PKCS#12 archive (or PEM with the \
          private key). Used instead of `client_certificate_path`.",
    value_name: "BASE64",
    environment_only: false,
    slot: |s| Slot::Secret(&mut s.client_certificate),
};

pub const CLIENT_CERTIFICATE_PASSWORD: Setting = Setting {
    name: "client_certificate_password",
    env: &["ARM_CLIENT_CERTIFICATE_PASSWORD"],
    pipeline_env: None,
    summary: "Password of the PFX/PKCS#12 client certificate",
    doc: "Password of the PFX/PKCS#12 client certificate (none when unset).",
    value_name: "PASSWORD",
    environment_only: false,
    slot: |s| Slot::Secret(&mut s.client_certificate_password),
};

pub const USE_OIDC: Setting = Setting {
    name: "use_oidc",
    env: &["ARM_USE_OIDC"],
    pipeline_env: None,
    summary: "Azure AD workload identity; the token from ARM_OIDC_TOKEN, \
              ARM_OIDC_TOKEN_FILE_PATH, Azure DevOps (with a service connection) or GitHub \
              Actions",
    doc: "Use a federated OIDC token (workload identity federation). The token is \
          `oidc_token`, or read from `oidc_token_file_path`, or requested from Azure DevOps when \
          `ado_pipeline_service_connection_id` is set, or else from GitHub Actions (the job needs \
          `permissions: id-token: write`). A new token is requested whenever Azure AD's token is \
          renewed.",
    value_name: "",
    environment_only: false,
    slot: |s| Slot::Flag(&mut s.use_oidc),
};

pub const OIDC_TOKEN: Setting = Setting {
    name: "oidc_token",
    env: &["ARM_OIDC_TOKEN"],
    pipeline_env: None,
    summary: "The federated OIDC token",
    doc: "The federated OIDC token itself.",
    value_name: "TOKEN",
    environment_only: false,
    slot: |s| Slot::Secret(&mut s.oidc_token),
};

pub const OIDC_TOKEN_FILE_PATH: Setting = Setting {
    name: "oidc_token_file_path",
    env: &["ARM_OIDC_TOKEN_FILE_PATH", "AZURE_FEDERATED_TOKEN_FILE"],
    pipeline_env: None,
    summary: "File holding the OIDC token (not the token itself)",
    doc: "File holding the federated OIDC token, re-read when it rotates.",
    value_name: "PATH",
    environment_only: false,
    slot: |s| Slot::Path(&mut s.oidc_token_file_path),
};

pub const OIDC_REQUEST_URL: Setting = Setting {
    name: "oidc_request_url",
    env: &["ARM_OIDC_REQUEST_URL"],
    pipeline_env: Some(PipelineEnv {
        github: Some("ACTIONS_ID_TOKEN_REQUEST_URL"),
        azure_devops: "SYSTEM_OIDCREQUESTURI",
    }),
    summary: "Where to request the OIDC token",
    doc: "Where to request the OIDC token.",
    value_name: "URL",
    environment_only: false,
    slot: |s| Slot::Text(&mut s.oidc_request_url),
};

pub const OIDC_REQUEST_TOKEN: Setting = Setting {
    name: "oidc_request_token",
    env: &["ARM_OIDC_REQUEST_TOKEN"],
    pipeline_env: Some(PipelineEnv {
        github: Some("ACTIONS_ID_TOKEN_REQUEST_TOKEN"),
        azure_devops: "SYSTEM_ACCESSTOKEN",
    }),
    summary: "Bearer token for the OIDC token request",
    doc: "Bearer token for the OIDC token request.",
    value_name: "TOKEN",
    environment_only: false,
    slot: |s| Slot::Secret(&mut s.oidc_request_token),
};

pub const ADO_SERVICE_CONNECTION_ID: Setting = Setting {
    name: "ado_pipeline_service_connection_id",
    env: &[
        "ARM_ADO_PIPELINE_SERVICE_CONNECTION_ID",
        "ARM_OIDC_AZURE_SERVICE_CONNECTION_ID",
    ],
    pipeline_env: Some(PipelineEnv {
        github: None,
        azure_devops: "AZURESUBSCRIPTION_SERVICE_CONNECTION_ID",
    }),
    summary: "Azure DevOps service connection to request the OIDC token for",
    doc: "Id of the Azure DevOps service connection (workload identity federation) to request \
          the OIDC token for; implies `use_oidc`.",
    value_name: "ID",
    environment_only: false,
    slot: |s| Slot::Text(&mut s.ado_service_connection_id),
};

pub const ENVIRONMENT: Setting = Setting {
    name: "environment",
    env: &["ARM_ENVIRONMENT"],
    pipeline_env: None,
    summary: "Azure cloud: public, usgovernment or china",
    doc: "The Azure cloud: `public` (default), `usgovernment` or `china`, or with \
          `metadata_host` the name of a cloud in its metadata. Selects the Azure AD authority \
          (override it with the `AZURE_AUTHORITY_HOST` environment variable) and the storage \
          endpoint suffix.",
    value_name: "NAME",
    environment_only: false,
    slot: |s| Slot::Text(&mut s.environment),
};

pub const METADATA_HOST: Setting = Setting {
    name: "metadata_host",
    env: &["ARM_METADATA_HOSTNAME"],
    pipeline_env: None,
    summary: "Host of a custom cloud's metadata (Azure Stack Hub), naming its Azure AD and storage suffix",
    doc: "Host name of a custom cloud's metadata endpoint (Azure Stack Hub, sovereign clouds): \
          its Azure AD authority, storage suffix and Microsoft Graph (`microsoftGraphResourceId`) \
          are read from `https://<host>/metadata/endpoints` once per configuration; \
          `environment` names the cloud when the document lists several.",
    value_name: "HOST",
    environment_only: false,
    slot: |s| Slot::Text(&mut s.metadata_host),
};

pub const AUTHORITY_HOST: Setting = Setting {
    name: "authority_host",
    env: &["AZURE_AUTHORITY_HOST"],
    pipeline_env: None,
    summary: "Azure AD authority, overriding the cloud's",
    doc: "The Azure AD authority, e.g. `https://login.microsoftonline.us`; overrides the one \
          `environment` selects.",
    value_name: "URL",
    environment_only: true,
    slot: |s| Slot::Text(&mut s.authority_host),
};

pub const CA_FILE: Setting = Setting {
    name: "ca_file",
    env: &["SSL_CERT_FILE"],
    pipeline_env: None,
    summary: "Extra CA certificates (PEM) for every HTTP client",
    doc: "PEM file of CA certificates trusted by every HTTP client, besides the system's.",
    value_name: "PATH",
    environment_only: true,
    slot: |s| Slot::Path(&mut s.ca_file),
};

pub const GRAPH_ENDPOINT: Setting = Setting {
    name: "graph_endpoint",
    env: &["ROOTMAIL_GRAPH_ENDPOINT"],
    pipeline_env: None,
    summary: "Microsoft Graph endpoint for the Exchange checks, overriding the cloud's",
    doc: "Microsoft Graph endpoint the Exchange checks read mailboxes from (`rootmail audit \
          --exchange`, `data \"rootmail_audit\"` with `exchange = true`), e.g. \
          `https://dod-graph.microsoft.us`. Defaults to the Graph of `environment` (or the \
          one a custom cloud's metadata names); tokens are asked for the Graph read (scope \
          `<endpoint's origin>/.default`). The identity needs the Microsoft Graph application \
          permission `User.Read.All`.",
    value_name: "URL",
    environment_only: false,
    slot: |s| Slot::Text(&mut s.graph_endpoint),
};

pub const USE_AKS_WORKLOAD_IDENTITY: Setting = Setting {
    name: "use_aks_workload_identity",
    env: &["ARM_USE_AKS_WORKLOAD_IDENTITY"],
    pipeline_env: None,
    summary: "Azure AD workload identity of an AKS pod (the variables its webhook injects)",
    doc: "Use the workload identity of the AKS pod running Terraform: the client id, tenant id, \
          token file and authority come from `AZURE_CLIENT_ID`, `AZURE_TENANT_ID`, \
          `AZURE_FEDERATED_TOKEN_FILE` and `AZURE_AUTHORITY_HOST`, which the AKS workload \
          identity webhook injects (the `ARM_` variables and attributes still win). The token \
          file is re-read whenever Azure AD's token is renewed, so its rotation is picked up.",
    value_name: "",
    environment_only: false,
    slot: |s| Slot::Flag(&mut s.use_aks_workload_identity),
};

pub const USE_MSI: Setting = Setting {
    name: "use_msi",
    env: &["ARM_USE_MSI"],
    pipeline_env: None,
    summary: "Azure AD managed identity (user-assigned: with --client-id)",
    doc: "Use the managed identity of the machine running Terraform.",
    value_name: "",
    environment_only: false,
    slot: |s| Slot::Flag(&mut s.use_msi),
};

pub const MSI_ENDPOINT: Setting = Setting {
    name: "msi_endpoint",
    env: &["ARM_MSI_ENDPOINT"],
    pipeline_env: None,
    summary: "Custom managed identity endpoint (the VM/VMSS metadata protocol)",
    doc: "A custom managed identity token endpoint, asked the way a VM asks its instance metadata \
          service (`Metadata: true`). Without it, App Service's `IDENTITY_ENDPOINT` (with \
          `IDENTITY_HEADER`) is used when set, else the VM/VMSS instance metadata service.",
    value_name: "URL",
    environment_only: false,
    slot: |s| Slot::Text(&mut s.msi_endpoint),
};

pub const USE_CLI: Setting = Setting {
    name: "use_cli",
    env: &["ARM_USE_CLI"],
    pipeline_env: None,
    summary: "Azure AD token from the logged-in Azure CLI",
    doc: "Use the account logged in with the Azure CLI (`az login`).",
    value_name: "",
    environment_only: false,
    slot: |s| Slot::Flag(&mut s.use_cli),
};

pub const USE_EMULATOR: Setting = Setting {
    name: "use_emulator",
    env: &["ROOTMAIL_USE_EMULATOR"],
    pipeline_env: None,
    summary: "Use the Azurite emulator's well-known account and key",
    doc: "Use Azurite's well-known development account (local testing only).",
    value_name: "",
    environment_only: false,
    slot: |s| Slot::Flag(&mut s.use_emulator),
};

pub const ADDRESS_SOURCE: Setting = Setting {
    name: "address_source",
    env: &["ROOTMAIL_ADDRESS_SOURCE"],
    pipeline_env: None,
    summary: "Which addresses claims hand out: aliases_only, prefer_aliases or minted_only",
    doc: "Which addresses a claim hands out: `aliases_only` (the default) takes only Exchange \
          aliases and fails when none is free; `prefer_aliases` takes a free alias while there is \
          one and otherwise mints a plus address (`prefix+id@domain`) for a minting mailbox \
          (`rootmail pool add-minting-mailbox`); `minted_only` always mints (or reuses a released \
          minted address no AWS account used). A `rootmail_alias` can override it with its own \
          `address_source`.",
    value_name: "SOURCE",
    environment_only: false,
    slot: |s| Slot::Text(&mut s.address_source),
};

pub const RETRY_TIMEOUT: Setting = Setting {
    name: "retry_timeout_seconds",
    env: &["ROOTMAIL_RETRY_TIMEOUT_SECONDS"],
    pipeline_env: None,
    summary: "Seconds to keep retrying a table service that throttles, fails or does not \
              answer (1-3600, default 60)",
    doc: "How long the table service may keep throttling, failing or not answering before \
          operations fail, in seconds (1 to 3600). Requests that fail for the same reason share \
          this time: once it has passed without an answer, every pending and later operation of \
          the run fails at once with one error naming the endpoint. A name that does not \
          resolve, a certificate that does not verify and a refused credential are not retried \
          at all. Defaults to 60.",
    value_name: "SECONDS",
    environment_only: false,
    slot: |s| Slot::Seconds(&mut s.retry),
};

pub const CLAIM_BATCHING: Setting = Setting {
    name: "claim_batching",
    env: &["ROOTMAIL_CLAIM_BATCHING"],
    pipeline_env: None,
    summary: "Claims arriving together share queries and transactions (default true)",
    doc: "`false` makes each create claim on its own instead of sharing candidate queries and \
          entity-group transactions with the creates that arrive at the same time. For \
          measurements and as an escape hatch; defaults to true.",
    value_name: "",
    environment_only: true,
    slot: |s| Slot::Flag(&mut s.claim_batching),
};

pub const READ_BATCHING: Setting = Setting {
    name: "read_batching",
    env: &["ROOTMAIL_READ_BATCHING"],
    pipeline_env: None,
    summary: "Refreshes arriving together share reads (default true)",
    doc: "`false` makes each refresh read its row with a point read of its own instead of \
          sharing queries (and, in long bursts, a snapshot of the partition) with the refreshes \
          that arrive at the same time. For measurements and as an escape hatch; defaults to \
          true.",
    value_name: "",
    environment_only: true,
    slot: |s| Slot::Flag(&mut s.read_batching),
};

pub const RELEASE_BATCHING: Setting = Setting {
    name: "release_batching",
    env: &["ROOTMAIL_RELEASE_BATCHING"],
    pipeline_env: None,
    summary: "Destroys arriving together share transactions (default true)",
    doc: "`false` makes each destroy read its row and release it with a write of its own \
          instead of writing, with the row its refresh saw, in entity-group transactions shared \
          with the destroys that arrive at the same time. For measurements and as an escape \
          hatch; defaults to true.",
    value_name: "",
    environment_only: true,
    slot: |s| Slot::Flag(&mut s.release_batching),
};
