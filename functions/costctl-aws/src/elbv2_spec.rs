//! ELBv2 shapes ↔ the spec format, and what the format cannot express.
//!
//! Capturing a live load balancer converts every configured field the spec format has; a field
//! it does not have (an action type added by AWS after this was written, a rule transform, a
//! regex condition, an IPAM pool) is named in `unsupported`, which keeps the load balancer on
//! pause (*lossless or kept*, `docs/fidelity.md`). The field table's test
//! (`tests/fidelity.rs`) fails when the SDK gains a field nobody classified.

use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, AdvertiseTrustStoreCaNamesEnum,
    AuthenticateCognitoActionConditionalBehaviorEnum, AuthenticateCognitoActionConfig,
    AuthenticateOidcActionConditionalBehaviorEnum, AuthenticateOidcActionConfig,
    FixedResponseActionConfig, ForwardActionConfig, HostHeaderConditionConfig,
    HttpHeaderConditionConfig, HttpRequestMethodConditionConfig, Listener, LoadBalancer,
    MutualAuthenticationAttributes, PathPatternConditionConfig, ProtocolEnum,
    QueryStringConditionConfig, QueryStringKeyValuePair, RedirectActionConfig,
    RedirectActionStatusCodeEnum, Rule, RuleCondition, SourceIpConditionConfig, Tag,
    TargetGroupStickinessConfig, TargetGroupTuple,
};
use costctl_core::spec::{
    ActionSpec, CognitoAuthSpec, ConditionSpec, FixedResponseSpec, ForwardConfigSpec,
    ListenerProtocol, MutualAuthenticationMode, MutualAuthenticationSpec, OidcAuthSpec,
    QueryStringPair, RedirectSpec, RedirectStatus, RuleSpec, Stickiness, UnauthenticatedBehaviour,
    WeightedTargetGroup,
};
use std::collections::{BTreeMap, HashMap};

/// Client secrets of the OIDC actions being written, by the secret's ARN (read from Secrets
/// Manager just before the call; never stored).
pub(crate) type ClientSecrets = BTreeMap<String, String>;

pub(crate) fn tags(t: &BTreeMap<String, String>) -> Vec<Tag> {
    t.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

pub(crate) fn protocol(p: ListenerProtocol) -> ProtocolEnum {
    match p {
        ListenerProtocol::Http => ProtocolEnum::Http,
        ListenerProtocol::Https => ProtocolEnum::Https,
    }
}

fn order_of(o: Option<i32>) -> Option<u32> {
    o.and_then(|v| u32::try_from(v).ok())
}

fn to_i32(o: Option<u32>) -> Option<i32> {
    o.and_then(|v| i32::try_from(v).ok())
}

/// Fields of the load balancer itself that the spec cannot express.
pub(crate) fn lb_unsupported(lb: &LoadBalancer) -> Vec<String> {
    let mut out = Vec::new();
    if lb
        .ipam_pools()
        .is_some_and(|p| p.ipv4_ipam_pool_id().is_some())
    {
        out.push("ipam_pools: an IPv4 IPAM pool cannot be recorded in the spec".into());
    }
    if lb.customer_owned_ipv4_pool().is_some() {
        out.push("customer_owned_ipv4_pool (Outposts) cannot be recorded in the spec".into());
    }
    for z in lb.availability_zones() {
        if z.outpost_id().is_some() {
            out.push(
                "availability_zones: an Outposts subnet cannot be recorded in the spec".into(),
            );
        }
        if z.load_balancer_addresses()
            .iter()
            .any(|a| a.allocation_id().is_some() || a.private_ipv4_address().is_some())
        {
            out.push(
                "availability_zones: fixed addresses (allocation ids, private IPv4) cannot be recorded in the spec"
                    .into(),
            );
        }
    }
    out
}

/// The listener fields besides actions and rules: mutual TLS, and what an ALB does not use.
pub(crate) fn mutual_spec(
    l: &Listener,
    port: u16,
    unsupported: &mut Vec<String>,
) -> Option<MutualAuthenticationSpec> {
    if !l.alpn_policy().is_empty() && l.alpn_policy() != ["None"] {
        unsupported.push(format!(
            "listener {port} alpn_policy cannot be recorded in the spec"
        ));
    }
    let m = l.mutual_authentication()?;
    let mode = match m.mode() {
        None | Some("off") => return None,
        Some("passthrough") => MutualAuthenticationMode::Passthrough,
        Some("verify") => MutualAuthenticationMode::Verify,
        Some(other) => {
            unsupported.push(format!(
                "listener {port} mutual_authentication mode `{other}` is unknown to the spec"
            ));
            return None;
        }
    };
    Some(MutualAuthenticationSpec {
        mode,
        trust_store_arn: m.trust_store_arn().map(str::to_string),
        ignore_client_certificate_expiry: m.ignore_client_certificate_expiry(),
        advertise_trust_store_ca_names: m
            .advertise_trust_store_ca_names()
            .map(|a| a.as_str().to_string()),
    })
}

pub(crate) fn mutual(
    m: Option<&MutualAuthenticationSpec>,
) -> Option<MutualAuthenticationAttributes> {
    let m = m?;
    let mode = match m.mode {
        MutualAuthenticationMode::Off => "off",
        MutualAuthenticationMode::Passthrough => "passthrough",
        MutualAuthenticationMode::Verify => "verify",
    };
    Some(
        MutualAuthenticationAttributes::builder()
            .mode(mode)
            .set_trust_store_arn(m.trust_store_arn.clone())
            .set_ignore_client_certificate_expiry(m.ignore_client_certificate_expiry)
            .set_advertise_trust_store_ca_names(
                m.advertise_trust_store_ca_names
                    .as_deref()
                    .map(AdvertiseTrustStoreCaNamesEnum::from),
            )
            .build(),
    )
}

fn behaviour(s: Option<&str>) -> Option<UnauthenticatedBehaviour> {
    s.and_then(UnauthenticatedBehaviour::parse)
}

fn extra_params(m: Option<&HashMap<String, String>>) -> BTreeMap<String, String> {
    m.map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default()
}

fn timeout(t: Option<i64>) -> Option<u64> {
    t.and_then(|t| u64::try_from(t).ok())
}

/// The SDK forms of an authentication action's session timeout and extra parameters (none
/// sent when the spec has none).
fn sdk_timeout(t: Option<u64>) -> Option<i64> {
    t.and_then(|t| i64::try_from(t).ok())
}

fn sdk_extra_params(m: &BTreeMap<String, String>) -> Option<HashMap<String, String>> {
    (!m.is_empty()).then(|| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
}

/// The spec of a list of actions; `place` names it in `unsupported` ("listener 443 default
/// action", "listener 443 rule 10 action").
pub(crate) fn actions_spec(
    actions: &[Action],
    place: &str,
    unsupported: &mut Vec<String>,
) -> Vec<ActionSpec> {
    let mut v: Vec<&Action> = actions.iter().collect();
    v.sort_by_key(|a| a.order().unwrap_or(i32::MAX));
    let mut out = Vec::new();
    for a in v {
        let order = order_of(a.order());
        let spec = match a.r#type() {
            Some(ActionTypeEnum::Forward) => Some(forward_spec(a, order)),
            Some(ActionTypeEnum::Redirect) => a.redirect_config().map(|r| ActionSpec::Redirect {
                redirect: RedirectSpec {
                    protocol: r.protocol().map(str::to_string),
                    port: r.port().map(str::to_string),
                    host: r.host().map(str::to_string),
                    path: r.path().map(str::to_string),
                    query: r.query().map(str::to_string),
                    status_code: match r.status_code() {
                        Some(RedirectActionStatusCodeEnum::Http302) => RedirectStatus::Http302,
                        _ => RedirectStatus::Http301,
                    },
                },
                order,
            }),
            Some(ActionTypeEnum::FixedResponse) => {
                a.fixed_response_config()
                    .map(|f| ActionSpec::FixedResponse {
                        fixed_response: FixedResponseSpec {
                            status_code: f.status_code().unwrap_or_default().to_string(),
                            content_type: f.content_type().map(str::to_string),
                            message_body: f.message_body().map(str::to_string),
                        },
                        order,
                    })
            }
            Some(ActionTypeEnum::AuthenticateCognito) => {
                a.authenticate_cognito_config()
                    .map(|c| ActionSpec::AuthenticateCognito {
                        authenticate_cognito: CognitoAuthSpec {
                            user_pool_arn: c.user_pool_arn().unwrap_or_default().to_string(),
                            user_pool_client_id: c
                                .user_pool_client_id()
                                .unwrap_or_default()
                                .to_string(),
                            user_pool_domain: c.user_pool_domain().unwrap_or_default().to_string(),
                            session_cookie_name: c.session_cookie_name().map(str::to_string),
                            scope: c.scope().map(str::to_string),
                            session_timeout: timeout(c.session_timeout()),
                            authentication_request_extra_params: extra_params(
                                c.authentication_request_extra_params(),
                            ),
                            on_unauthenticated_request: behaviour(
                                c.on_unauthenticated_request().map(|b| b.as_str()),
                            ),
                        },
                        order,
                    })
            }
            Some(ActionTypeEnum::AuthenticateOidc) => {
                a.authenticate_oidc_config()
                    .map(|c| ActionSpec::AuthenticateOidc {
                        authenticate_oidc: OidcAuthSpec {
                            issuer: c.issuer().unwrap_or_default().to_string(),
                            authorization_endpoint: c
                                .authorization_endpoint()
                                .unwrap_or_default()
                                .to_string(),
                            token_endpoint: c.token_endpoint().unwrap_or_default().to_string(),
                            user_info_endpoint: c
                                .user_info_endpoint()
                                .unwrap_or_default()
                                .to_string(),
                            client_id: c.client_id().unwrap_or_default().to_string(),
                            // Never returned by AWS; a given spec supplies it.
                            client_secret_arn: None,
                            session_cookie_name: c.session_cookie_name().map(str::to_string),
                            scope: c.scope().map(str::to_string),
                            session_timeout: timeout(c.session_timeout()),
                            authentication_request_extra_params: extra_params(
                                c.authentication_request_extra_params(),
                            ),
                            on_unauthenticated_request: behaviour(
                                c.on_unauthenticated_request().map(|b| b.as_str()),
                            ),
                        },
                        order,
                    })
            }
            _ => None,
        };
        match spec {
            Some(s) => out.push(s),
            None => unsupported.push(format!(
                "{place} of type `{}` cannot be recorded in the spec",
                a.r#type().map_or("unknown", |t| t.as_str())
            )),
        }
    }
    out
}

/// A forward as the spec writes it: a single target group as `target_group_arn`; weights or
/// stickiness as `forward_config`. AWS answers a single-group forward with both forms.
fn forward_spec(a: &Action, order: Option<u32>) -> ActionSpec {
    let fc = a.forward_config();
    let groups: Vec<WeightedTargetGroup> = fc
        .map(|fc| {
            fc.target_groups()
                .iter()
                .filter_map(|t| {
                    Some(WeightedTargetGroup {
                        target_group_arn: t.target_group_arn()?.to_string(),
                        weight: t.weight().and_then(|w| u32::try_from(w).ok()),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let stickiness = fc
        .and_then(|fc| fc.target_group_stickiness_config())
        .filter(|s| s.enabled() == Some(true))
        .map(|s| Stickiness {
            enabled: true,
            duration_seconds: s.duration_seconds().and_then(|d| u32::try_from(d).ok()),
        });
    let simple = stickiness.is_none()
        && groups.len() <= 1
        && groups.iter().all(|g| g.weight.unwrap_or(1) == 1);
    if simple {
        ActionSpec::Forward {
            target_group_arn: a
                .target_group_arn()
                .map(str::to_string)
                .or_else(|| groups.first().map(|g| g.target_group_arn.clone())),
            forward_config: None,
            order,
        }
    } else {
        ActionSpec::Forward {
            target_group_arn: None,
            forward_config: Some(ForwardConfigSpec {
                target_groups: groups,
                stickiness,
            }),
            order,
        }
    }
}

/// Why an action list cannot be written: an OIDC secret that was not resolved.
#[derive(Debug)]
pub(crate) struct MissingSecret(pub String);

/// The SDK form of a list of actions. `modifying`: the listener or rule exists, so an OIDC
/// action without a resolvable secret may keep the one AWS has (`UseExistingClientSecret`);
/// creating one needs the secret.
pub(crate) fn actions(
    specs: &[ActionSpec],
    secrets: &ClientSecrets,
    modifying: bool,
) -> Result<Vec<Action>, MissingSecret> {
    specs
        .iter()
        .map(|a| {
            let order = to_i32(a.order());
            Ok(match a {
                ActionSpec::Forward {
                    target_group_arn,
                    forward_config,
                    ..
                } => {
                    let mut b = Action::builder()
                        .r#type(ActionTypeEnum::Forward)
                        .set_order(order);
                    b = match forward_config {
                        None => b.set_target_group_arn(target_group_arn.clone()),
                        Some(fc) => b.forward_config(
                            ForwardActionConfig::builder()
                                .set_target_groups(Some(
                                    fc.target_groups
                                        .iter()
                                        .map(|t| {
                                            TargetGroupTuple::builder()
                                                .target_group_arn(&t.target_group_arn)
                                                .set_weight(to_i32(t.weight))
                                                .build()
                                        })
                                        .collect(),
                                ))
                                .set_target_group_stickiness_config(fc.stickiness.map(|s| {
                                    TargetGroupStickinessConfig::builder()
                                        .enabled(s.enabled)
                                        .set_duration_seconds(to_i32(s.duration_seconds))
                                        .build()
                                }))
                                .build(),
                        ),
                    };
                    b.build()
                }
                ActionSpec::Redirect { redirect, .. } => Action::builder()
                    .r#type(ActionTypeEnum::Redirect)
                    .redirect_config(
                        RedirectActionConfig::builder()
                            .set_protocol(redirect.protocol.clone())
                            .set_port(redirect.port.clone())
                            .set_host(redirect.host.clone())
                            .set_path(redirect.path.clone())
                            .set_query(redirect.query.clone())
                            .status_code(match redirect.status_code {
                                RedirectStatus::Http301 => RedirectActionStatusCodeEnum::Http301,
                                RedirectStatus::Http302 => RedirectActionStatusCodeEnum::Http302,
                            })
                            .build(),
                    )
                    .set_order(order)
                    .build(),
                ActionSpec::FixedResponse { fixed_response, .. } => Action::builder()
                    .r#type(ActionTypeEnum::FixedResponse)
                    .fixed_response_config(
                        FixedResponseActionConfig::builder()
                            .status_code(&fixed_response.status_code)
                            .set_content_type(fixed_response.content_type.clone())
                            .set_message_body(fixed_response.message_body.clone())
                            .build(),
                    )
                    .set_order(order)
                    .build(),
                ActionSpec::AuthenticateCognito {
                    authenticate_cognito: c,
                    ..
                } => Action::builder()
                    .r#type(ActionTypeEnum::AuthenticateCognito)
                    .authenticate_cognito_config(
                        AuthenticateCognitoActionConfig::builder()
                            .user_pool_arn(&c.user_pool_arn)
                            .user_pool_client_id(&c.user_pool_client_id)
                            .user_pool_domain(&c.user_pool_domain)
                            .set_session_cookie_name(c.session_cookie_name.clone())
                            .set_scope(c.scope.clone())
                            .set_session_timeout(sdk_timeout(c.session_timeout))
                            .set_authentication_request_extra_params(sdk_extra_params(
                                &c.authentication_request_extra_params,
                            ))
                            .set_on_unauthenticated_request(c.on_unauthenticated_request.map(|b| {
                                AuthenticateCognitoActionConditionalBehaviorEnum::from(b.as_str())
                            }))
                            .build(),
                    )
                    .set_order(order)
                    .build(),
                ActionSpec::AuthenticateOidc {
                    authenticate_oidc: o,
                    ..
                } => {
                    let secret = o
                        .client_secret_arn
                        .as_ref()
                        .and_then(|arn| secrets.get(arn));
                    if secret.is_none() && !modifying {
                        return Err(MissingSecret(o.client_id.clone()));
                    }
                    Action::builder()
                        .r#type(ActionTypeEnum::AuthenticateOidc)
                        .authenticate_oidc_config(
                            AuthenticateOidcActionConfig::builder()
                                .issuer(&o.issuer)
                                .authorization_endpoint(&o.authorization_endpoint)
                                .token_endpoint(&o.token_endpoint)
                                .user_info_endpoint(&o.user_info_endpoint)
                                .client_id(&o.client_id)
                                .set_client_secret(secret.cloned())
                                .set_use_existing_client_secret(secret.is_none().then_some(true))
                                .set_session_cookie_name(o.session_cookie_name.clone())
                                .set_scope(o.scope.clone())
                                .set_session_timeout(sdk_timeout(o.session_timeout))
                                .set_authentication_request_extra_params(sdk_extra_params(
                                    &o.authentication_request_extra_params,
                                ))
                                .set_on_unauthenticated_request(o.on_unauthenticated_request.map(
                                    |b| {
                                        AuthenticateOidcActionConditionalBehaviorEnum::from(
                                            b.as_str(),
                                        )
                                    },
                                ))
                                .build(),
                        )
                        .set_order(order)
                        .build()
                }
            })
        })
        .collect()
}

/// The OIDC client-secret ARNs a list of actions needs.
pub(crate) fn secret_arns<'a>(actions: impl IntoIterator<Item = &'a ActionSpec>) -> Vec<String> {
    actions
        .into_iter()
        .filter_map(|a| match a {
            ActionSpec::AuthenticateOidc {
                authenticate_oidc, ..
            } => authenticate_oidc.client_secret_arn.clone(),
            _ => None,
        })
        .collect()
}

pub(crate) fn rule_spec(
    r: &Rule,
    priority: u32,
    port: u16,
    unsupported: &mut Vec<String>,
) -> RuleSpec {
    if !r.transforms().is_empty() {
        unsupported.push(format!(
            "listener {port} rule {priority} transforms cannot be recorded in the spec"
        ));
    }
    let place = format!("listener {port} rule {priority}");
    RuleSpec {
        priority,
        conditions: r
            .conditions()
            .iter()
            .filter_map(|c| condition_spec(c, &place, unsupported))
            .collect(),
        actions: actions_spec(r.actions(), &format!("{place} action"), unsupported),
    }
}

fn condition_spec(
    c: &RuleCondition,
    place: &str,
    unsupported: &mut Vec<String>,
) -> Option<ConditionSpec> {
    let field = c.field().unwrap_or("unknown");
    let regex = !c.regex_values().is_empty()
        || c.host_header_config()
            .is_some_and(|h| !h.regex_values().is_empty())
        || c.path_pattern_config()
            .is_some_and(|h| !h.regex_values().is_empty())
        || c.http_header_config()
            .is_some_and(|h| !h.regex_values().is_empty());
    if c.source_ip_config()
        .is_some_and(|s| s.ip_address_type().is_some())
    {
        unsupported.push(format!(
            "{place} condition `source-ip` has an ip_address_type, which cannot be recorded in the spec"
        ));
        return None;
    }
    if regex {
        unsupported.push(format!(
            "{place} condition `{field}` uses regex values, which cannot be recorded in the spec"
        ));
        return None;
    }
    let or_values = |config: Option<&[String]>| -> Vec<String> {
        match config {
            Some(v) if !v.is_empty() => v.to_vec(),
            _ => c.values().to_vec(),
        }
    };
    let spec = match field {
        "path-pattern" => ConditionSpec::PathPattern {
            values: or_values(c.path_pattern_config().map(|p| p.values())),
        },
        "host-header" => ConditionSpec::HostHeader {
            values: or_values(c.host_header_config().map(|p| p.values())),
        },
        "http-request-method" => ConditionSpec::HttpRequestMethod {
            values: or_values(c.http_request_method_config().map(|p| p.values())),
        },
        "source-ip" => ConditionSpec::SourceIp {
            values: or_values(c.source_ip_config().map(|p| p.values())),
        },
        "http-header" => match c.http_header_config() {
            Some(h) => ConditionSpec::HttpHeader {
                http_header_name: h.http_header_name().unwrap_or_default().to_string(),
                values: h.values().to_vec(),
            },
            None => {
                unsupported.push(format!(
                    "{place} condition `http-header` has no header name"
                ));
                return None;
            }
        },
        "query-string" => ConditionSpec::QueryString {
            query_string: c
                .query_string_config()
                .map(|q| q.values())
                .unwrap_or_default()
                .iter()
                .map(|p| QueryStringPair {
                    key: p.key().map(str::to_string),
                    value: p.value().unwrap_or_default().to_string(),
                })
                .collect(),
        },
        other => {
            unsupported.push(format!(
                "{place} condition `{other}` cannot be recorded in the spec"
            ));
            return None;
        }
    };
    Some(spec)
}

pub(crate) fn conditions(specs: &[ConditionSpec]) -> Vec<RuleCondition> {
    specs
        .iter()
        .map(|c| match c {
            ConditionSpec::PathPattern { values } => RuleCondition::builder()
                .field("path-pattern")
                .path_pattern_config(
                    PathPatternConditionConfig::builder()
                        .set_values(Some(values.clone()))
                        .build(),
                )
                .build(),
            ConditionSpec::HostHeader { values } => RuleCondition::builder()
                .field("host-header")
                .host_header_config(
                    HostHeaderConditionConfig::builder()
                        .set_values(Some(values.clone()))
                        .build(),
                )
                .build(),
            ConditionSpec::HttpRequestMethod { values } => RuleCondition::builder()
                .field("http-request-method")
                .http_request_method_config(
                    HttpRequestMethodConditionConfig::builder()
                        .set_values(Some(values.clone()))
                        .build(),
                )
                .build(),
            ConditionSpec::SourceIp { values } => RuleCondition::builder()
                .field("source-ip")
                .source_ip_config(
                    SourceIpConditionConfig::builder()
                        .set_values(Some(values.clone()))
                        .build(),
                )
                .build(),
            ConditionSpec::HttpHeader {
                http_header_name,
                values,
            } => RuleCondition::builder()
                .field("http-header")
                .http_header_config(
                    HttpHeaderConditionConfig::builder()
                        .http_header_name(http_header_name)
                        .set_values(Some(values.clone()))
                        .build(),
                )
                .build(),
            ConditionSpec::QueryString { query_string } => RuleCondition::builder()
                .field("query-string")
                .query_string_config(
                    QueryStringConditionConfig::builder()
                        .set_values(Some(
                            query_string
                                .iter()
                                .map(|p| {
                                    QueryStringKeyValuePair::builder()
                                        .set_key(p.key.clone())
                                        .value(&p.value)
                                        .build()
                                })
                                .collect(),
                        ))
                        .build(),
                )
                .build(),
        })
        .collect()
}
