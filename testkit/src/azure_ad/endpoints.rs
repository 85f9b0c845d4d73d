//! What each endpoint of the identity server answers: the token grants of
//! Entra ID, the OIDC endpoints of GitHub Actions and Azure DevOps, managed
//! identity (App Service and IMDS) and a custom cloud's metadata.

use std::collections::HashMap;

use crate::loopback_https::{bearer, Request};

use super::{
    issue_access_token, issue_assertion, known_resource, now, Ctx, ADO_SERVICE_CONNECTION,
    AUDIENCE, CUSTOM_CLOUD, TENANT,
};

fn aad_error(status: u16, code: &str, description: &str) -> (u16, serde_json::Value) {
    (
        status,
        serde_json::json!({
            "error": code,
            "error_description": description,
            "error_codes": [description.split(':').next().unwrap_or("").trim_start_matches("AADSTS").parse::<u64>().unwrap_or(0)],
            "timestamp": "2026-01-01 00:00:00Z",
            "trace_id": uuid::Uuid::new_v4().to_string(),
            "correlation_id": uuid::Uuid::new_v4().to_string(),
        }),
    )
}

pub(super) fn route(req: &Request, ctx: &Ctx) -> (u16, serde_json::Value) {
    let unauthorized = (401, serde_json::json!({"message": "unauthorized"}));
    match (req.method.as_str(), req.path.as_str()) {
        ("GET", "/github/token") => {
            ctx.state.lock().expect("state").github_requests += 1;
            if bearer(req).as_deref() != Some(ctx.github_request_token.as_str()) {
                return unauthorized;
            }
            if req.query.get("audience").map(String::as_str) != Some(AUDIENCE) {
                return (400, serde_json::json!({"message": "wrong audience"}));
            }
            let token = issue_assertion(
                &ctx.state,
                ctx.lifetime,
                "repo:company/infra:environment:prod",
            );
            (200, serde_json::json!({"count": 1, "value": token}))
        }
        ("POST", "/ado/oidctoken") => {
            ctx.state.lock().expect("state").ado_requests += 1;
            if bearer(req).as_deref() != Some(ctx.ado_request_token.as_str()) {
                return unauthorized;
            }
            if req.query.get("api-version").map(String::as_str) != Some("7.1")
                || req.query.get("serviceConnectionId").map(String::as_str)
                    != Some(ADO_SERVICE_CONNECTION)
            {
                return (
                    404,
                    serde_json::json!({"message": "no such service connection"}),
                );
            }
            let token = issue_assertion(&ctx.state, ctx.lifetime, "sc://company/infra/prod");
            (200, serde_json::json!({"oidcToken": token}))
        }
        ("GET", "/msi/token") => {
            ctx.state.lock().expect("state").msi_requests += 1;
            if req.headers.get("x-identity-header") != Some(&ctx.msi_header) {
                return unauthorized;
            }
            let resource = req.query.get("resource").cloned().unwrap_or_default();
            let Some(audience) = known_resource(&ctx.state, &resource) else {
                return (400, serde_json::json!({"message": "unexpected resource"}));
            };
            let token = issue_access_token(&ctx.state, "managed-identity", ctx.lifetime, &audience);
            (
                200,
                serde_json::json!({
                    "access_token": token,
                    "expires_on": (now() + ctx.lifetime).to_string(),
                    "resource": resource,
                    "token_type": "Bearer",
                    "client_id": "managed-identity",
                }),
            )
        }
        ("GET", "/metadata/endpoints") => {
            ctx.state.lock().expect("state").metadata_requests += 1;
            if !req.query.contains_key("api-version") {
                return (400, serde_json::json!({"error": "missing api-version"}));
            }
            let authority = ctx
                .token_endpoint
                .split(&format!("/{TENANT}/"))
                .next()
                .unwrap_or_default()
                .to_owned();
            let mut clouds = vec![
                serde_json::json!({
                    "name": "AzureCloud",
                    "authentication": {"loginEndpoint": "https://login.microsoftonline.com/", "audiences": ["https://management.core.windows.net/"]},
                    "graph": "https://graph.windows.net/",
                    "microsoftGraphResourceId": "https://graph.microsoft.com/",
                    "suffixes": {"storage": "core.windows.net"},
                }),
                serde_json::json!({
                    "name": CUSTOM_CLOUD,
                    "resourceManager": format!("{authority}/arm/"),
                    "authentication": {"loginEndpoint": format!("{authority}/"), "audiences": [format!("{authority}/arm/")], "tenant": "adfs"},
                    "suffixes": {"storage": "local.azurestack.external"},
                }),
            ];
            let added = ctx.state.lock().expect("state").clouds.clone();
            for (name, graph) in added {
                let mut cloud = serde_json::json!({
                    "name": name,
                    "resourceManager": format!("{authority}/arm/"),
                    "authentication": {"loginEndpoint": format!("{authority}/"), "audiences": [format!("{authority}/arm/")], "tenant": "adfs"},
                    // Azure AD Graph (retired) beside Microsoft Graph, as real documents have it.
                    "graph": format!("{authority}/aad-graph/"),
                    "suffixes": {"storage": "local.azurestack.external"},
                });
                if let Some(graph) = graph {
                    cloud["microsoftGraphResourceId"] = format!("{graph}/").into();
                }
                clouds.push(cloud);
            }
            (200, serde_json::Value::Array(clouds))
        }
        ("GET", "/imds/token") => {
            ctx.state.lock().expect("state").imds_requests += 1;
            if req.headers.get("metadata").map(String::as_str) != Some("true") {
                return (
                    400,
                    serde_json::json!({"error": "invalid_request", "error_description": "Required metadata header not specified"}),
                );
            }
            if req.query.get("api-version").map(String::as_str) != Some("2018-02-01") {
                return (
                    400,
                    serde_json::json!({"error": "invalid_request", "error_description": "Invalid api-version"}),
                );
            }
            let resource = req.query.get("resource").cloned().unwrap_or_default();
            let Some(audience) = known_resource(&ctx.state, &resource) else {
                return (400, serde_json::json!({"error": "invalid_resource"}));
            };
            let client = req
                .query
                .get("client_id")
                .cloned()
                .unwrap_or_else(|| "vm-identity".to_owned());
            let token = issue_access_token(&ctx.state, &client, ctx.lifetime, &audience);
            (
                200,
                serde_json::json!({
                    "access_token": token,
                    "expires_in": ctx.lifetime.to_string(),
                    "expires_on": (now() + ctx.lifetime).to_string(),
                    "resource": resource,
                    "token_type": "Bearer",
                }),
            )
        }
        ("POST", path) if path == format!("/{TENANT}/oauth2/v2.0/token") => token_grant(req, ctx),
        _ => (404, serde_json::json!({"error": "not_found"})),
    }
}

fn token_grant(req: &Request, ctx: &Ctx) -> (u16, serde_json::Value) {
    let form: HashMap<String, String> = url::form_urlencoded::parse(&req.body)
        .into_owned()
        .collect();
    let client_id = form.get("client_id").cloned().unwrap_or_default();
    let scope = form.get("scope").cloned().unwrap_or_default();
    if form.get("grant_type").map(String::as_str) != Some("client_credentials") {
        return aad_error(
            400,
            "unsupported_grant_type",
            "AADSTS70003: unsupported grant type",
        );
    }
    let Some(audience) = scope
        .ends_with("/.default")
        .then(|| known_resource(&ctx.state, &scope))
        .flatten()
    else {
        return aad_error(
            400,
            "invalid_scope",
            "AADSTS70011: The provided scope is not valid.",
        );
    };
    let mut st = ctx.state.lock().expect("state");
    let outcome = if let Some(secret) = form.get("client_secret") {
        let ok = st.secrets.get(&client_id) == Some(secret);
        let counts = st.counts.entry(client_id.clone()).or_default();
        counts.secret_grants += 1;
        if ok {
            Ok(())
        } else {
            counts.refused += 1;
            Err(aad_error(
                401,
                "invalid_client",
                "AADSTS7000215: Invalid client secret provided.",
            ))
        }
    } else if let Some(assertion) = form.get("client_assertion") {
        let typed = form.get("client_assertion_type").map(String::as_str)
            == Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer");
        let expiry = st.assertions.get(assertion).copied();
        st.presented
            .entry(client_id.clone())
            .or_default()
            .push(assertion.clone());
        st.issued.push(assertion.clone());
        let certificate = (expiry.is_none() && typed)
            .then(|| crate::client_certificate::x5t_of(assertion))
            .flatten();
        if certificate.is_some() {
            let registered = st.certificates.get(&client_id).cloned().unwrap_or_default();
            let verdict = crate::client_certificate::verify(
                assertion,
                &client_id,
                &ctx.token_endpoint,
                &registered,
                &mut st.seen_jti,
            );
            let counts = st.counts.entry(client_id.clone()).or_default();
            match &verdict {
                Ok(()) => counts.certificate_grants += 1,
                Err(why) => {
                    counts.refused += 1;
                    counts.last_refusal = why.clone();
                }
            }
            drop(st);
            return match verdict {
                Ok(()) => grant(ctx, &client_id, &audience),
                Err(why) => aad_error(401, "invalid_client", &why),
            };
        }
        let counts = st.counts.entry(client_id.clone()).or_default();
        counts.assertion_grants += 1;
        match expiry {
            _ if !typed => Err(aad_error(
                400,
                "invalid_request",
                "AADSTS50027: assertion type",
            )),
            None => {
                counts.refused += 1;
                Err(aad_error(
                    400,
                    "invalid_client",
                    "AADSTS700211: No matching federated identity record found for presented assertion issuer.",
                ))
            }
            Some(exp) if exp <= now() => {
                counts.refused += 1;
                Err(aad_error(
                    400,
                    "invalid_client",
                    "AADSTS700024: Client assertion is not within its valid time range.",
                ))
            }
            Some(_) => Ok(()),
        }
    } else {
        Err(aad_error(
            400,
            "invalid_client",
            "AADSTS7000216: client credentials missing",
        ))
    };
    drop(st);
    match outcome {
        Err(e) => e,
        Ok(()) => grant(ctx, &client_id, &audience),
    }
}

fn grant(ctx: &Ctx, client_id: &str, audience: &str) -> (u16, serde_json::Value) {
    let token = issue_access_token(&ctx.state, client_id, ctx.lifetime, audience);
    (
        200,
        serde_json::json!({
            "token_type": "Bearer",
            "expires_in": ctx.lifetime,
            "ext_expires_in": ctx.lifetime,
            "access_token": token,
        }),
    )
}
