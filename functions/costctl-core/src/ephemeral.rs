//! Comparing a captured ephemeral-tier resource with the spec it should match.
//!
//! A spec written by hand (or by Terraform) leaves optional fields out where AWS fills in a
//! default (an HTTPS listener's SSL policy, a redirect's `#{host}`, an action's order), and a
//! capture from AWS holds only the attributes that differ from AWS's defaults. The comparisons
//! here treat "not given" as "whatever AWS chose", so a resource created from a spec satisfies
//! that spec, and a spec captured from a resource is satisfied by a resource recreated from it.
//!
//! What can change in place and what cannot (documented in `docs/ephemeral-spec.md`, "Update"):
//! - ALB listeners, rules, attributes and tags: in place;
//! - ALB scheme, type, IP address type, subnets, security groups: not by costctl (delete the
//!   spec and apply it again, which recreates the load balancer);
//! - MSK Serverless VPC configs and client authentication cannot change at all on AWS; tags are
//!   not reconciled on an existing cluster (reported).

use crate::observation::LoadBalancerObs;
use crate::spec::{
    ActionSpec, CognitoAuthSpec, FixedResponseSpec, KafkaClusterSpec, ListenerProtocol,
    ListenerSpec, LoadBalancerSpec, MutualAuthenticationMode, MutualAuthenticationSpec,
    OidcAuthSpec, RedirectSpec, RuleSpec, UnauthenticatedBehaviour,
};
use std::collections::{BTreeMap, BTreeSet};

/// AWS's default value of an ALB attribute, where costctl knows it. A capture leaves out every
/// attribute at its default, so that the capture of a load balancer created from a spec equals
/// the spec.
pub fn alb_attribute_default(key: &str) -> Option<&'static str> {
    Some(match key {
        "access_logs.s3.enabled"
        | "connection_logs.s3.enabled"
        | "health_check_logs.s3.enabled"
        | "deletion_protection.enabled"
        | "routing.http.drop_invalid_header_fields.enabled"
        | "routing.http.preserve_host_header.enabled"
        | "routing.http.x_amzn_tls_version_and_cipher_suite.enabled"
        | "routing.http.xff_client_port.enabled"
        | "waf.fail_open.enabled"
        | "zonal_shift.config.enabled"
        | "ipv6.deny_all_igw_traffic" => "false",
        "access_logs.s3.bucket"
        | "access_logs.s3.prefix"
        | "connection_logs.s3.bucket"
        | "connection_logs.s3.prefix"
        | "health_check_logs.s3.bucket"
        | "health_check_logs.s3.prefix" => "",
        "idle_timeout.timeout_seconds" => "60",
        "client_keep_alive.seconds" => "3600",
        "routing.http.desync_mitigation_mode" => "defensive",
        "routing.http.xff_header_processing.mode" => "append",
        "routing.http2.enabled" => "true",
        _ => return None,
    })
}

/// Attributes an ALB reports but that cannot be set on an ALB (cross-zone load balancing is
/// always on for ALBs): never captured, never applied.
pub fn alb_attribute_ignored(key: &str) -> bool {
    matches!(key, "load_balancing.cross_zone.enabled")
}

/// The attributes of a spec without the ones at their default value.
pub fn non_default_attributes(attrs: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    attrs
        .iter()
        .filter(|(k, v)| !alb_attribute_ignored(k) && alb_attribute_default(k) != Some(v.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// AWS's default value of an ALB listener attribute: `true` for the `Server` response header,
/// empty for the response header values, and for a renamed request header its own name
/// (`routing.http.request.x_amzn_tls_version.header_name` defaults to `X-Amzn-Tls-Version`).
pub fn listener_attribute_default(key: &str) -> Option<String> {
    if key == "routing.http.response.server.enabled" {
        return Some("true".into());
    }
    if key.starts_with("routing.http.response.") && key.ends_with(".header_value") {
        return Some(String::new());
    }
    let header = key
        .strip_prefix("routing.http.request.")?
        .strip_suffix(".header_name")?;
    Some(
        header
            .split('_')
            .map(|w| {
                let mut c = w.chars();
                c.next().map_or_else(String::new, |f| {
                    f.to_ascii_uppercase().to_string() + c.as_str()
                })
            })
            .collect::<Vec<_>>()
            .join("-"),
    )
}

/// The listener attributes without the ones at their default value.
pub fn non_default_listener_attributes(
    attrs: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    attrs
        .iter()
        .filter(|(k, v)| listener_attribute_default(k).as_deref() != Some(v.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// The attribute writes that bring `have` (as described) to `want` (the spec): every wanted
/// value that differs, and AWS's default for every attribute set now that `want` no longer
/// names. One rule for load-balancer and listener attributes, each with its own defaults.
pub fn attribute_changes(
    have: &BTreeMap<String, String>,
    want: &BTreeMap<String, String>,
    default: impl Fn(&str) -> Option<String>,
    ignored: impl Fn(&str) -> bool,
) -> BTreeMap<String, String> {
    let mut changes: BTreeMap<String, String> = want
        .iter()
        .filter(|(k, v)| !ignored(k) && have.get(*k) != Some(*v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for (k, v) in have {
        if ignored(k) || want.contains_key(k) {
            continue;
        }
        if let Some(d) = default(k)
            && *v != d
        {
            changes.insert(k.clone(), d);
        }
    }
    changes
}

/// How an existing resource differs from its spec.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Differences {
    /// Fields costctl brings to the spec in place (listeners, rules, attributes, tags).
    pub in_place: Vec<String>,
    /// Fields that cannot change in place.
    pub fixed: Vec<String>,
}

impl Differences {
    pub fn is_empty(&self) -> bool {
        self.in_place.is_empty() && self.fixed.is_empty()
    }
}

/// How the load balancer captured as `have` differs from `want`.
pub fn lb_differences(have: &LoadBalancerSpec, want: &LoadBalancerSpec) -> Differences {
    let mut d = Differences::default();
    if have.scheme != want.scheme {
        d.fixed.push("scheme".into());
    }
    if have.lb_type != want.lb_type {
        d.fixed.push("type".into());
    }
    if have.ip_address_type != want.ip_address_type {
        d.fixed.push("ip_address_type".into());
    }
    if set(&have.subnets) != set(&want.subnets) {
        d.fixed.push("subnets".into());
    }
    if set(&have.security_groups) != set(&want.security_groups) {
        d.fixed.push("security_groups".into());
    }
    if non_default_attributes(&have.attributes) != non_default_attributes(&want.attributes) {
        d.in_place.push("attributes".into());
    }
    if have.tags != want.tags {
        d.in_place.push("tags".into());
    }
    if have.web_acl_arn != want.web_acl_arn {
        d.in_place.push("web_acl_arn".into());
    }
    let have_ports: BTreeSet<u16> = have.listeners.iter().map(|l| l.port).collect();
    let want_ports: BTreeSet<u16> = want.listeners.iter().map(|l| l.port).collect();
    for port in have_ports.symmetric_difference(&want_ports) {
        d.in_place.push(format!("listener {port}"));
    }
    for w in &want.listeners {
        if let Some(h) = have.listeners.iter().find(|l| l.port == w.port) {
            if !listener_matches(h, w) {
                d.in_place.push(format!("listener {}", w.port));
            } else if !rules_match(&h.rules, &w.rules) {
                d.in_place.push(format!("rules of listener {}", w.port));
            }
        }
    }
    d
}

fn set(v: &[String]) -> BTreeSet<&str> {
    v.iter().map(String::as_str).collect()
}

/// The listener itself (not its rules) matches: protocol, TLS settings, default actions.
pub fn listener_matches(have: &ListenerSpec, want: &ListenerSpec) -> bool {
    have.port == want.port
        && have.protocol == want.protocol
        && non_default_listener_attributes(&have.attributes)
            == non_default_listener_attributes(&want.attributes)
        && (want.protocol == ListenerProtocol::Http
            || (opt_matches(&have.ssl_policy, &want.ssl_policy)
                && have.certificate_arn == want.certificate_arn
                && set(&have.additional_certificate_arns)
                    == set(&want.additional_certificate_arns)
                && mutual_matches(
                    have.mutual_authentication.as_ref(),
                    want.mutual_authentication.as_ref(),
                )))
        && actions_match(&have.default_actions, &want.default_actions)
}

/// Absent and mode `off` are the same; otherwise every field, AWS's defaults for those left out.
fn mutual_matches(
    have: Option<&MutualAuthenticationSpec>,
    want: Option<&MutualAuthenticationSpec>,
) -> bool {
    fn on(m: Option<&MutualAuthenticationSpec>) -> Option<&MutualAuthenticationSpec> {
        m.filter(|m| m.mode != MutualAuthenticationMode::Off)
    }
    match (on(have), on(want)) {
        (None, None) => true,
        (Some(h), Some(w)) => {
            h.mode == w.mode
                && h.trust_store_arn == w.trust_store_arn
                && defaulted(
                    &h.ignore_client_certificate_expiry,
                    &w.ignore_client_certificate_expiry,
                    &false,
                )
                && defaulted(
                    &h.advertise_trust_store_ca_names,
                    &w.advertise_trust_store_ca_names,
                    &"off".to_string(),
                )
        }
        _ => false,
    }
}

/// Rules match as sets keyed by priority.
pub fn rules_match(have: &[RuleSpec], want: &[RuleSpec]) -> bool {
    have.len() == want.len()
        && want.iter().all(|w| {
            have.iter()
                .find(|h| h.priority == w.priority)
                .is_some_and(|h| rule_matches(h, w))
        })
}

pub fn rule_matches(have: &RuleSpec, want: &RuleSpec) -> bool {
    have.priority == want.priority
        && have.conditions.len() == want.conditions.len()
        && want.conditions.iter().all(|c| have.conditions.contains(c))
        && actions_match(&have.actions, &want.actions)
}

/// Actions match in the order AWS applies them (by `order`, then by position).
pub fn actions_match(have: &[ActionSpec], want: &[ActionSpec]) -> bool {
    fn sorted(a: &[ActionSpec]) -> Vec<&ActionSpec> {
        let mut v: Vec<&ActionSpec> = a.iter().collect();
        v.sort_by_key(|a| a.order().unwrap_or(u32::MAX));
        v
    }
    have.len() == want.len()
        && sorted(have)
            .into_iter()
            .zip(sorted(want))
            .all(|(h, w)| action_matches(h, w))
}

fn opt_matches<T: PartialEq>(have: &Option<T>, want: &Option<T>) -> bool {
    want.is_none() || have == want
}

/// A field left out of `want` matches AWS's default (which AWS reports, and moto may not).
fn defaulted<T: PartialEq>(have: &Option<T>, want: &Option<T>, default: &T) -> bool {
    match want {
        None => have.as_ref().is_none_or(|h| h == default),
        Some(w) => have.as_ref().unwrap_or(default) == w,
    }
}

/// AWS's defaults of an authentication action.
const SESSION_COOKIE: &str = "AWSELBAuthSessionCookie";
const SCOPE: &str = "openid";
const SESSION_TIMEOUT: u64 = 604_800;

fn cognito_matches(h: &CognitoAuthSpec, w: &CognitoAuthSpec) -> bool {
    h.user_pool_arn == w.user_pool_arn
        && h.user_pool_client_id == w.user_pool_client_id
        && h.user_pool_domain == w.user_pool_domain
        && session_matches(
            (&h.session_cookie_name, &h.scope, &h.session_timeout),
            (&w.session_cookie_name, &w.scope, &w.session_timeout),
        )
        && h.authentication_request_extra_params == w.authentication_request_extra_params
        && unauthenticated_matches(&h.on_unauthenticated_request, &w.on_unauthenticated_request)
}

/// Session cookie name, scope and timeout: the same for both authentication actions.
type Session<'a> = (&'a Option<String>, &'a Option<String>, &'a Option<u64>);

fn session_matches(h: Session<'_>, w: Session<'_>) -> bool {
    defaulted(h.0, w.0, &SESSION_COOKIE.to_string())
        && defaulted(h.1, w.1, &SCOPE.to_string())
        && defaulted(h.2, w.2, &SESSION_TIMEOUT)
}

fn unauthenticated_matches(
    h: &Option<UnauthenticatedBehaviour>,
    w: &Option<UnauthenticatedBehaviour>,
) -> bool {
    defaulted(h, w, &UnauthenticatedBehaviour::Authenticate)
}

/// Everything but the client secret, which AWS never returns (see [`lb_recreation_blockers`]).
fn oidc_matches(h: &OidcAuthSpec, w: &OidcAuthSpec) -> bool {
    h.issuer == w.issuer
        && h.authorization_endpoint == w.authorization_endpoint
        && h.token_endpoint == w.token_endpoint
        && h.user_info_endpoint == w.user_info_endpoint
        && h.client_id == w.client_id
        && session_matches(
            (&h.session_cookie_name, &h.scope, &h.session_timeout),
            (&w.session_cookie_name, &w.scope, &w.session_timeout),
        )
        && h.authentication_request_extra_params == w.authentication_request_extra_params
        && unauthenticated_matches(&h.on_unauthenticated_request, &w.on_unauthenticated_request)
}

fn action_matches(have: &ActionSpec, want: &ActionSpec) -> bool {
    match (have, want) {
        (ActionSpec::Forward { order: ho, .. }, ActionSpec::Forward { order: wo, .. }) => {
            have.forward_targets() == want.forward_targets() && opt_matches(ho, wo)
        }
        (
            ActionSpec::AuthenticateCognito {
                authenticate_cognito: h,
                order: ho,
            },
            ActionSpec::AuthenticateCognito {
                authenticate_cognito: w,
                order: wo,
            },
        ) => cognito_matches(h, w) && opt_matches(ho, wo),
        (
            ActionSpec::AuthenticateOidc {
                authenticate_oidc: h,
                order: ho,
            },
            ActionSpec::AuthenticateOidc {
                authenticate_oidc: w,
                order: wo,
            },
        ) => oidc_matches(h, w) && opt_matches(ho, wo),
        (
            ActionSpec::Redirect {
                redirect: h,
                order: ho,
            },
            ActionSpec::Redirect {
                redirect: w,
                order: wo,
            },
        ) => redirect_matches(h, w) && opt_matches(ho, wo),
        (
            ActionSpec::FixedResponse {
                fixed_response: h,
                order: ho,
            },
            ActionSpec::FixedResponse {
                fixed_response: w,
                order: wo,
            },
        ) => fixed_matches(h, w) && opt_matches(ho, wo),
        _ => false,
    }
}

fn redirect_matches(h: &RedirectSpec, w: &RedirectSpec) -> bool {
    // AWS fills every part not given with its `#{…}` placeholder.
    let part = |h: &Option<String>, w: &Option<String>, placeholder: &str| match w {
        None => h.is_none() || h.as_deref() == Some(placeholder),
        Some(_) => h == w,
    };
    h.status_code == w.status_code
        && part(&h.protocol, &w.protocol, "#{protocol}")
        && part(&h.port, &w.port, "#{port}")
        && part(&h.host, &w.host, "#{host}")
        && part(&h.path, &w.path, "/#{path}")
        && part(&h.query, &w.query, "#{query}")
}

fn fixed_matches(h: &FixedResponseSpec, w: &FixedResponseSpec) -> bool {
    h.status_code == w.status_code
        && opt_matches(&h.content_type, &w.content_type)
        && opt_matches(&h.message_body, &w.message_body)
}

/// Why the load balancer observed as `live` must not be deleted when a resume would recreate
/// it from `want` (the spec given by Terraform, or else the one captured from `live` itself):
/// each entry names a field that would come back different or not at all. Empty: deleting it
/// loses nothing.
///
/// The rule is *lossless or kept*: a configured field the spec format cannot express (recorded
/// by the adapter in [`LoadBalancerObs::unsupported`]), a secret AWS never returns, or a web ACL
/// associated from outside that the recreating spec does not name keeps the load balancer.
/// Other differences from a given spec are not losses: the given spec is the owner's desired
/// state (Terraform may have changed it while the stack was paused), and a resume applies it.
pub fn lb_recreation_blockers(live: &LoadBalancerObs, want: &LoadBalancerSpec) -> Vec<String> {
    let mut blockers = live.unsupported.clone();
    if let Some(acl) = &live.spec.web_acl_arn
        && want.web_acl_arn.as_ref() != Some(acl)
    {
        blockers.push(format!(
            "web_acl_arn: web ACL {acl} is associated, and the spec it would be recreated from does not name it (add `web_acl_arn` to the spec)"
        ));
    }
    for l in &want.listeners {
        let actions = l
            .default_actions
            .iter()
            .map(|a| ("default action".to_string(), a))
            .chain(l.rules.iter().flat_map(|r| {
                r.actions
                    .iter()
                    .map(move |a| (format!("rule {} action", r.priority), a))
            }));
        for (place, a) in actions {
            if let ActionSpec::AuthenticateOidc {
                authenticate_oidc, ..
            } = a
                && authenticate_oidc.client_secret_arn.is_none()
            {
                blockers.push(format!(
                    "listener {} {place} authenticate-oidc: the client secret cannot be read back from AWS and the spec names no `client_secret_arn`",
                    l.port
                ));
            }
        }
    }
    blockers
}

/// How the cluster captured as `have` differs from `want`. Nothing of an MSK Serverless
/// cluster is changed in place by costctl.
pub fn kafka_differences(have: &KafkaClusterSpec, want: &KafkaClusterSpec) -> Differences {
    let mut d = Differences::default();
    fn norm(c: &KafkaClusterSpec) -> BTreeSet<(BTreeSet<&str>, BTreeSet<&str>)> {
        c.vpc_configs
            .iter()
            .map(|v| (set(&v.subnet_ids), set(&v.security_group_ids)))
            .collect()
    }
    if norm(have) != norm(want) {
        d.fixed.push("vpc_configs".into());
    }
    if have.client_authentication != want.client_authentication {
        d.fixed.push("client_authentication".into());
    }
    if have.tags != want.tags {
        // Reported, not acted on: see the module documentation.
        d.in_place.push("tags".into());
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{EphemeralSpec, RedirectStatus};

    const EXAMPLE: &str = r#"{"load_balancers": [{"name": "a", "subnets": ["subnet-1", "subnet-2"],
      "security_groups": ["sg-1"], "attributes": {"idle_timeout.timeout_seconds": "120"},
      "listeners": [{"port": 80, "protocol": "HTTP", "default_actions": [{"type": "redirect",
        "redirect": {"protocol": "HTTPS", "port": "443", "status_code": "HTTP_301"}}],
        "rules": [{"priority": 1, "conditions": [{"field": "path-pattern", "values": ["/a"]}],
        "actions": [{"type": "fixed-response", "fixed_response": {"status_code": "200"}}]}]}]}],
      "kafka_clusters": []}"#;

    #[test]
    fn a_spec_matches_itself_and_defaults_match_placeholders() {
        let spec = EphemeralSpec::from_json(EXAMPLE).expect("example is valid");
        let lb = &spec.load_balancers[0];
        assert!(lb_differences(lb, lb).is_empty());
        let h = RedirectSpec {
            protocol: Some("HTTPS".into()),
            port: Some("443".into()),
            host: Some("#{host}".into()),
            path: Some("/#{path}".into()),
            query: Some("#{query}".into()),
            status_code: RedirectStatus::Http301,
        };
        let w = RedirectSpec {
            host: None,
            path: None,
            query: None,
            ..h.clone()
        };
        assert!(redirect_matches(&h, &w));
        assert!(!redirect_matches(&w, &h));
    }

    #[test]
    fn listener_attribute_defaults_follow_aws() {
        assert_eq!(
            listener_attribute_default(
                "routing.http.request.x_amzn_mtls_clientcert_serial_number.header_name"
            )
            .as_deref(),
            Some("X-Amzn-Mtls-Clientcert-Serial-Number")
        );
        assert_eq!(
            listener_attribute_default("routing.http.response.server.enabled").as_deref(),
            Some("true")
        );
        assert_eq!(
            listener_attribute_default(
                "routing.http.response.strict_transport_security.header_value"
            )
            .as_deref(),
            Some("")
        );
        let mut a = BTreeMap::new();
        a.insert(
            "routing.http.response.server.enabled".to_string(),
            "true".to_string(),
        );
        assert!(non_default_listener_attributes(&a).is_empty());
        a.insert(
            "routing.http.response.server.enabled".to_string(),
            "false".to_string(),
        );
        assert_eq!(non_default_listener_attributes(&a).len(), 1);
    }

    #[test]
    fn defaults_are_not_differences() {
        let mut a = BTreeMap::new();
        a.insert("idle_timeout.timeout_seconds".to_string(), "60".to_string());
        a.insert(
            "load_balancing.cross_zone.enabled".to_string(),
            "true".to_string(),
        );
        assert!(non_default_attributes(&a).is_empty());
        a.insert("routing.http2.enabled".to_string(), "false".to_string());
        assert_eq!(non_default_attributes(&a).len(), 1);
    }
}
