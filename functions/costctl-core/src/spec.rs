//! The ephemeral-tier spec: what costctl deletes on pause and recreates on resume.
//!
//! The format is documented in `docs/ephemeral-spec.md`. The same document is sent by Terraform
//! (`aws_lambda_invocation`), accepted by `costctl apply-spec`, and captured into the manifest
//! before anything is deleted, so the types here are `Serialize` as well as `Deserialize`, and
//! compare field by field (`BTreeMap` keeps attributes and tags in a stable order).
//!
//! [`EphemeralSpec::from_json`] / [`EphemeralSpec::from_value`] parse *and* validate: a value of
//! this type that came from outside has been checked against every rule in [`SpecProblem`].

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// The whole ephemeral tier of one stack.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EphemeralSpec {
    pub load_balancers: Vec<LoadBalancerSpec>,
    pub kafka_clusters: Vec<KafkaClusterSpec>,
}

/// An Application Load Balancer with its listeners and rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoadBalancerSpec {
    pub name: String,
    #[serde(default)]
    pub scheme: Scheme,
    #[serde(default, rename = "type")]
    pub lb_type: LoadBalancerType,
    #[serde(default)]
    pub ip_address_type: IpAddressType,
    pub subnets: Vec<String>,
    pub security_groups: Vec<String>,
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// The AWS WAF (v2, regional) web ACL associated with the load balancer. Associations
    /// disappear with the load balancer, so costctl records it and associates it again before
    /// any service scales up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub web_acl_arn: Option<String>,
    /// SSM parameter that receives the new DNS name after each (re)creation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_name_parameter: Option<String>,
    /// Route53 alias records pointed at the new load balancer after each (re)creation.
    #[serde(default)]
    pub aliases: Vec<AliasSpec>,
    pub listeners: Vec<ListenerSpec>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scheme {
    #[default]
    InternetFacing,
    Internal,
}

/// Only Application Load Balancers are part of the ephemeral tier.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LoadBalancerType {
    #[default]
    Application,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum IpAddressType {
    #[default]
    Ipv4,
    Dualstack,
    DualstackWithoutPublicIpv4,
}

/// A Route53 alias record (`A`/`AAAA`) in a hosted zone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AliasSpec {
    pub zone_id: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListenerSpec {
    pub port: u16,
    pub protocol: ListenerProtocol,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssl_policy: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_arn: Option<String>,
    #[serde(default)]
    pub additional_certificate_arns: Vec<String>,
    /// Mutual TLS (HTTPS listeners only); absent means off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mutual_authentication: Option<MutualAuthenticationSpec>,
    /// Listener attributes as AWS names them (`routing.http.response.server.enabled`, the
    /// response header values, the renamed mTLS/TLS request headers); a capture holds those that
    /// differ from AWS's defaults.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, String>,
    pub default_actions: Vec<ActionSpec>,
    #[serde(default)]
    pub rules: Vec<RuleSpec>,
}

/// Mutual TLS of an HTTPS listener.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MutualAuthenticationSpec {
    pub mode: MutualAuthenticationMode,
    /// Required in `verify` mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trust_store_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignore_client_certificate_expiry: Option<bool>,
    /// `on` or `off` (AWS's default `off`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub advertise_trust_store_ca_names: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MutualAuthenticationMode {
    Off,
    Passthrough,
    Verify,
}

/// ALB listeners speak HTTP or HTTPS only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum ListenerProtocol {
    Http,
    Https,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    pub priority: u32,
    pub conditions: Vec<ConditionSpec>,
    pub actions: Vec<ActionSpec>,
}

/// A rule condition, tagged by `field` as in the ELBv2 API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "field", rename_all = "kebab-case", deny_unknown_fields)]
pub enum ConditionSpec {
    PathPattern {
        values: Vec<String>,
    },
    HostHeader {
        values: Vec<String>,
    },
    HttpRequestMethod {
        values: Vec<String>,
    },
    SourceIp {
        values: Vec<String>,
    },
    HttpHeader {
        http_header_name: String,
        values: Vec<String>,
    },
    QueryString {
        query_string: Vec<QueryStringPair>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueryStringPair {
    /// Optional: a condition on the value alone matches any key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    pub value: String,
}

/// A listener or rule action, tagged by `type`.
///
/// A list of actions is zero or one authentication action (`authenticate-cognito`,
/// `authenticate-oidc`; HTTPS listeners only) followed by exactly one of `forward`, `redirect`
/// or `fixed-response`, as AWS allows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case", deny_unknown_fields)]
pub enum ActionSpec {
    Forward {
        /// A forward to one target group. Either this or `forward_config` is required; optional
        /// in the type only so that a missing one is reported by [`EphemeralSpec::validate`]
        /// with its path instead of as a bare parse error.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        target_group_arn: Option<String>,
        /// A weighted forward to one or more target groups, with target-group stickiness.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        forward_config: Option<ForwardConfigSpec>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        order: Option<u32>,
    },
    Redirect {
        redirect: RedirectSpec,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        order: Option<u32>,
    },
    FixedResponse {
        fixed_response: FixedResponseSpec,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        order: Option<u32>,
    },
    AuthenticateCognito {
        authenticate_cognito: CognitoAuthSpec,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        order: Option<u32>,
    },
    AuthenticateOidc {
        authenticate_oidc: OidcAuthSpec,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        order: Option<u32>,
    },
}

impl ActionSpec {
    pub fn order(&self) -> Option<u32> {
        match self {
            Self::Forward { order, .. }
            | Self::Redirect { order, .. }
            | Self::FixedResponse { order, .. }
            | Self::AuthenticateCognito { order, .. }
            | Self::AuthenticateOidc { order, .. } => *order,
        }
    }

    /// `forward`, `redirect` or `fixed-response`: the action that ends a list.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            Self::Forward { .. } | Self::Redirect { .. } | Self::FixedResponse { .. }
        )
    }

    /// The target groups a forward sends to, with their weights (a single `target_group_arn`
    /// is weight 1), and its stickiness: the form AWS itself answers with, so a spec written
    /// either way compares equal to what was created from it.
    pub fn forward_targets(&self) -> Option<(Vec<(&str, u32)>, Stickiness)> {
        let Self::Forward {
            target_group_arn,
            forward_config,
            ..
        } = self
        else {
            return None;
        };
        let mut groups: Vec<(&str, u32)> = match forward_config {
            Some(fc) if !fc.target_groups.is_empty() => fc
                .target_groups
                .iter()
                .map(|t| (t.target_group_arn.as_str(), t.weight.unwrap_or(1)))
                .collect(),
            _ => target_group_arn.iter().map(|a| (a.as_str(), 1)).collect(),
        };
        groups.sort_unstable();
        let stickiness = forward_config
            .as_ref()
            .and_then(|fc| fc.stickiness)
            .filter(|s| s.enabled)
            .map_or(Stickiness::default(), |s| Stickiness {
                enabled: true,
                duration_seconds: s.duration_seconds,
            });
        Some((groups, stickiness))
    }
}

/// A weighted forward (`ForwardConfig` in the ELBv2 API).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForwardConfigSpec {
    pub target_groups: Vec<WeightedTargetGroup>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stickiness: Option<Stickiness>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WeightedTargetGroup {
    pub target_group_arn: String,
    /// 0-999; AWS's default is 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<u32>,
}

/// Target-group stickiness of a forward.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stickiness {
    pub enabled: bool,
    /// 1-604800 seconds; required when enabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_seconds: Option<u32>,
}

/// `authenticate-cognito`: every field of `AuthenticateCognitoActionConfig`. Optional fields
/// left out match AWS's defaults (`AWSELBAuthSessionCookie`, `openid`, 604800 s,
/// `authenticate`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CognitoAuthSpec {
    pub user_pool_arn: String,
    pub user_pool_client_id: String,
    pub user_pool_domain: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_cookie_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_timeout: Option<u64>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub authentication_request_extra_params: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_unauthenticated_request: Option<UnauthenticatedBehaviour>,
}

/// `authenticate-oidc`: every field of `AuthenticateOidcActionConfig`. AWS never returns the
/// client secret, so a captured action has no `client_secret_arn`; only a spec that names the
/// Secrets Manager secret holding it can be recreated (see `docs/fidelity.md`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcAuthSpec {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub user_info_endpoint: String,
    pub client_id: String,
    /// ARN of the Secrets Manager secret whose `SecretString` is the client secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_cookie_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_timeout: Option<u64>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub authentication_request_extra_params: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_unauthenticated_request: Option<UnauthenticatedBehaviour>,
}

/// What an authentication action does with a request that is not authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UnauthenticatedBehaviour {
    Deny,
    Allow,
    Authenticate,
}

impl UnauthenticatedBehaviour {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Deny => "deny",
            Self::Allow => "allow",
            Self::Authenticate => "authenticate",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "deny" => Self::Deny,
            "allow" => Self::Allow,
            "authenticate" => Self::Authenticate,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedirectSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    pub status_code: RedirectStatus,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RedirectStatus {
    #[serde(rename = "HTTP_301")]
    Http301,
    #[serde(rename = "HTTP_302")]
    Http302,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FixedResponseSpec {
    pub status_code: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_body: Option<String>,
}

/// An MSK Serverless cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaClusterSpec {
    pub name: String,
    pub vpc_configs: Vec<VpcConfigSpec>,
    pub client_authentication: ClientAuthenticationSpec,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// SSM parameter that receives the bootstrap broker string once the cluster is ACTIVE.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bootstrap_parameter: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VpcConfigSpec {
    pub subnet_ids: Vec<String>,
    pub security_group_ids: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientAuthenticationSpec {
    /// MSK Serverless supports SASL/IAM only, so this must be `true`.
    pub sasl_iam: bool,
}

/// Why a spec was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SpecError {
    /// Not valid JSON, or not the shape of the format (unknown field, wrong type, missing field).
    #[error("invalid spec at `{path}`: {message}")]
    Parse { path: String, message: String },
    /// Well-formed, but breaks one or more rules. Every violation is listed.
    #[error("invalid spec: {}", join_violations(.0))]
    Invalid(Vec<SpecViolation>),
}

fn join_violations(v: &[SpecViolation]) -> String {
    v.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// One broken rule and where (a JSON path such as `load_balancers[0].listeners[1].port`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecViolation {
    pub path: String,
    pub problem: SpecProblem,
}

impl fmt::Display for SpecViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}`: {}", self.path, self.problem)
    }
}

/// The rules a spec must satisfy, most of them AWS's own limits checked before any call is made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecProblem {
    #[error("duplicate name `{0}`")]
    DuplicateName(String),
    #[error(
        "invalid load balancer name `{0}`: 1-32 characters, letters, digits and hyphens, not starting or ending with a hyphen, not starting with `internal-`"
    )]
    InvalidLoadBalancerName(String),
    #[error(
        "invalid MSK cluster name `{0}`: 1-64 characters, letters, digits and hyphens, starting with a letter or digit"
    )]
    InvalidClusterName(String),
    #[error("an HTTPS listener needs `certificate_arn`")]
    HttpsWithoutCertificate,
    #[error("`{0}` is only valid on an HTTPS listener")]
    TlsSettingOnHttp(&'static str),
    #[error("duplicate listener port {0}")]
    DuplicatePort(u16),
    #[error("port 0 is not a valid listener port")]
    InvalidPort,
    #[error("duplicate rule priority {0} in this listener")]
    DuplicatePriority(u32),
    #[error("priority {0} is outside 1..=50000")]
    PriorityOutOfRange(u32),
    #[error("action order {0} is outside 1..=50000")]
    OrderOutOfRange(u32),
    #[error("an ALB needs at least 2 subnets (in different availability zones), got {0}")]
    TooFewSubnets(usize),
    #[error("an MSK Serverless VPC config needs at least 2 subnets, got {0}")]
    TooFewClusterSubnets(usize),
    #[error("duplicate entry `{0}`")]
    DuplicateEntry(String),
    #[error("must not be empty")]
    Empty,
    #[error("no actions: exactly one forward, redirect or fixed-response action is required")]
    EmptyActions,
    #[error("{0} actions: exactly one forward, redirect or fixed-response action is allowed")]
    TooManyActions(usize),
    #[error(
        "at most one authentication action (authenticate-cognito or authenticate-oidc) is allowed, before the forward, redirect or fixed-response action"
    )]
    MisplacedAuthentication,
    #[error("authentication actions are only valid on an HTTPS listener")]
    AuthenticationOnHttp,
    #[error("a forward needs `target_group_arn` or `forward_config` with 1 to 5 target groups")]
    ForwardTargetGroups,
    #[error("`target_group_arn` and `forward_config` name different target groups")]
    ForwardConflict,
    #[error("weight {0} is outside 0..=999")]
    WeightOutOfRange(u32),
    #[error("stickiness needs `duration_seconds` in 1..=604800 when enabled")]
    StickinessDuration,
    #[error("session timeout {0} is outside 1..=604800 seconds")]
    SessionTimeout(u64),
    #[error("`verify` mode needs `trust_store_arn`; `off` and `passthrough` take none")]
    TrustStore,
    #[error("a rule needs at least one condition")]
    EmptyConditions,
    #[error("a forward action needs `target_group_arn`")]
    ForwardWithoutTargetGroup,
    #[error("`{0}` is not an ARN (expected `arn:…`)")]
    InvalidArn(String),
    #[error("an MSK Serverless cluster needs at least one entry in `vpc_configs`")]
    NoVpcConfigs,
    #[error("MSK Serverless supports only SASL/IAM: `sasl_iam` must be true")]
    SaslIamRequired,
    #[error("invalid SSM parameter name `{name}`: {reason}")]
    InvalidParameterName { name: String, reason: &'static str },
    #[error("invalid tag key `{0}`: 1-128 characters, not starting with `aws:`")]
    InvalidTagKey(String),
    #[error("tag value for `{0}` is longer than 256 characters")]
    TagValueTooLong(String),
    #[error("invalid fixed-response status code `{0}`: expected 2XX, 4XX or 5XX")]
    InvalidFixedResponseStatus(String),
    #[error(
        "invalid content type `{0}`: expected text/plain, text/css, text/html, application/javascript or application/json"
    )]
    InvalidContentType(String),
    #[error("message body is longer than 1024 characters")]
    MessageBodyTooLong,
    #[error("invalid DNS name `{0}`")]
    InvalidDnsName(String),
}

impl EphemeralSpec {
    /// No load balancer and no cluster.
    pub fn is_empty(&self) -> bool {
        self.load_balancers.is_empty() && self.kafka_clusters.is_empty()
    }

    /// The load balancers and clusters of `self` whose names `other` does not have: what an
    /// update from `self` to `other` must delete, or nothing would ever delete them again.
    pub fn without(&self, other: &EphemeralSpec) -> EphemeralSpec {
        EphemeralSpec {
            load_balancers: self
                .load_balancers
                .iter()
                .filter(|p| !other.load_balancers.iter().any(|n| n.name == p.name))
                .cloned()
                .collect(),
            kafka_clusters: self
                .kafka_clusters
                .iter()
                .filter(|p| !other.kafka_clusters.iter().any(|n| n.name == p.name))
                .cloned()
                .collect(),
        }
    }

    /// Parses and validates a spec document.
    pub fn from_json(json: &str) -> Result<Self, SpecError> {
        let mut de = serde_json::Deserializer::from_str(json);
        let spec: Self = serde_path_to_error::deserialize(&mut de).map_err(parse_error)?;
        de.end().map_err(|e| SpecError::Parse {
            path: ".".into(),
            message: e.to_string(),
        })?;
        spec.validate()?;
        Ok(spec)
    }

    /// Parses and validates a spec that is already a JSON value (the `spec` field of an event).
    pub fn from_value(value: &serde_json::Value) -> Result<Self, SpecError> {
        let spec = Self::from_value_unvalidated(value)?;
        spec.validate()?;
        Ok(spec)
    }

    /// Parses the shape only, without the rules of [`validate`](Self::validate). For deleting
    /// what an older spec created: a rule added since must not make `terraform destroy` impossible.
    pub fn from_value_unvalidated(value: &serde_json::Value) -> Result<Self, SpecError> {
        serde_path_to_error::deserialize(value).map_err(parse_error)
    }

    /// Checks every rule and reports all violations at once, each with its path.
    pub fn validate(&self) -> Result<(), SpecError> {
        let mut v = Vec::new();
        let mut push = |path: String, problem: SpecProblem| {
            v.push(SpecViolation { path, problem });
        };

        let mut lb_names = BTreeSet::new();
        for (i, lb) in self.load_balancers.iter().enumerate() {
            let p = format!("load_balancers[{i}]");
            if !valid_alb_name(&lb.name) {
                push(
                    format!("{p}.name"),
                    SpecProblem::InvalidLoadBalancerName(lb.name.clone()),
                );
            }
            if !lb_names.insert(lb.name.as_str()) {
                push(
                    format!("{p}.name"),
                    SpecProblem::DuplicateName(lb.name.clone()),
                );
            }
            if lb.subnets.len() < 2 {
                push(
                    format!("{p}.subnets"),
                    SpecProblem::TooFewSubnets(lb.subnets.len()),
                );
            }
            check_ids(&lb.subnets, &format!("{p}.subnets"), &mut push);
            check_ids(
                &lb.security_groups,
                &format!("{p}.security_groups"),
                &mut push,
            );
            for key in lb.attributes.keys() {
                if key.trim().is_empty() {
                    push(format!("{p}.attributes"), SpecProblem::Empty);
                }
            }
            check_tags(&lb.tags, &format!("{p}.tags"), &mut push);
            if let Some(param) = &lb.dns_name_parameter {
                check_parameter(param, &format!("{p}.dns_name_parameter"), &mut push);
            }
            let mut aliases = BTreeSet::new();
            for (j, a) in lb.aliases.iter().enumerate() {
                let ap = format!("{p}.aliases[{j}]");
                if a.zone_id.trim().is_empty() {
                    push(format!("{ap}.zone_id"), SpecProblem::Empty);
                }
                if !valid_dns_name(&a.name) {
                    push(
                        format!("{ap}.name"),
                        SpecProblem::InvalidDnsName(a.name.clone()),
                    );
                }
                let key = (a.zone_id.as_str(), a.name.trim_end_matches('.'));
                if !aliases.insert(key) {
                    push(
                        format!("{ap}.name"),
                        SpecProblem::DuplicateEntry(a.name.clone()),
                    );
                }
            }
            let mut ports = BTreeSet::new();
            for (j, l) in lb.listeners.iter().enumerate() {
                let lp = format!("{p}.listeners[{j}]");
                check_listener(l, &lp, &mut push);
                if !ports.insert(l.port) {
                    push(format!("{lp}.port"), SpecProblem::DuplicatePort(l.port));
                }
            }
        }

        let mut msk_names = BTreeSet::new();
        for (i, c) in self.kafka_clusters.iter().enumerate() {
            let p = format!("kafka_clusters[{i}]");
            if !valid_msk_name(&c.name) {
                push(
                    format!("{p}.name"),
                    SpecProblem::InvalidClusterName(c.name.clone()),
                );
            }
            if !msk_names.insert(c.name.as_str()) {
                push(
                    format!("{p}.name"),
                    SpecProblem::DuplicateName(c.name.clone()),
                );
            }
            if c.vpc_configs.is_empty() {
                push(format!("{p}.vpc_configs"), SpecProblem::NoVpcConfigs);
            }
            for (j, vc) in c.vpc_configs.iter().enumerate() {
                let vp = format!("{p}.vpc_configs[{j}]");
                if vc.subnet_ids.len() < 2 {
                    push(
                        format!("{vp}.subnet_ids"),
                        SpecProblem::TooFewClusterSubnets(vc.subnet_ids.len()),
                    );
                }
                check_ids(&vc.subnet_ids, &format!("{vp}.subnet_ids"), &mut push);
                check_ids(
                    &vc.security_group_ids,
                    &format!("{vp}.security_group_ids"),
                    &mut push,
                );
            }
            if !c.client_authentication.sasl_iam {
                push(
                    format!("{p}.client_authentication.sasl_iam"),
                    SpecProblem::SaslIamRequired,
                );
            }
            check_tags(&c.tags, &format!("{p}.tags"), &mut push);
            if let Some(param) = &c.bootstrap_parameter {
                check_parameter(param, &format!("{p}.bootstrap_parameter"), &mut push);
            }
        }

        if v.is_empty() {
            Ok(())
        } else {
            Err(SpecError::Invalid(v))
        }
    }
}

fn parse_error<E: fmt::Display>(e: serde_path_to_error::Error<E>) -> SpecError {
    SpecError::Parse {
        path: e.path().to_string(),
        message: e.inner().to_string(),
    }
}

fn check_listener(l: &ListenerSpec, p: &str, push: &mut impl FnMut(String, SpecProblem)) {
    if l.port == 0 {
        push(format!("{p}.port"), SpecProblem::InvalidPort);
    }
    match l.protocol {
        ListenerProtocol::Https => match &l.certificate_arn {
            None => push(
                format!("{p}.certificate_arn"),
                SpecProblem::HttpsWithoutCertificate,
            ),
            Some(arn) => check_arn(arn, &format!("{p}.certificate_arn"), push),
        },
        ListenerProtocol::Http => {
            if l.certificate_arn.is_some() {
                push(
                    format!("{p}.certificate_arn"),
                    SpecProblem::TlsSettingOnHttp("certificate_arn"),
                );
            }
            if l.ssl_policy.is_some() {
                push(
                    format!("{p}.ssl_policy"),
                    SpecProblem::TlsSettingOnHttp("ssl_policy"),
                );
            }
            if !l.additional_certificate_arns.is_empty() {
                push(
                    format!("{p}.additional_certificate_arns"),
                    SpecProblem::TlsSettingOnHttp("additional_certificate_arns"),
                );
            }
            if l.mutual_authentication.is_some() {
                push(
                    format!("{p}.mutual_authentication"),
                    SpecProblem::TlsSettingOnHttp("mutual_authentication"),
                );
            }
            let authenticates = |actions: &[ActionSpec]| actions.iter().any(|a| !a.is_terminal());
            if authenticates(&l.default_actions) {
                push(
                    format!("{p}.default_actions"),
                    SpecProblem::AuthenticationOnHttp,
                );
            }
            for (k, r) in l.rules.iter().enumerate() {
                if authenticates(&r.actions) {
                    push(
                        format!("{p}.rules[{k}].actions"),
                        SpecProblem::AuthenticationOnHttp,
                    );
                }
            }
        }
    }
    if let Some(m) = &l.mutual_authentication {
        let verify = m.mode == MutualAuthenticationMode::Verify;
        match &m.trust_store_arn {
            Some(arn) if verify => check_arn(
                arn,
                &format!("{p}.mutual_authentication.trust_store_arn"),
                push,
            ),
            None if !verify => {}
            _ => push(
                format!("{p}.mutual_authentication.trust_store_arn"),
                SpecProblem::TrustStore,
            ),
        }
    }
    if let Some(policy) = &l.ssl_policy
        && policy.trim().is_empty()
    {
        push(format!("{p}.ssl_policy"), SpecProblem::Empty);
    }
    for (k, arn) in l.additional_certificate_arns.iter().enumerate() {
        check_arn(arn, &format!("{p}.additional_certificate_arns[{k}]"), push);
    }
    check_actions(&l.default_actions, &format!("{p}.default_actions"), push);
    let mut priorities = BTreeSet::new();
    for (k, r) in l.rules.iter().enumerate() {
        let rp = format!("{p}.rules[{k}]");
        if !(1..=50_000).contains(&r.priority) {
            push(
                format!("{rp}.priority"),
                SpecProblem::PriorityOutOfRange(r.priority),
            );
        }
        if !priorities.insert(r.priority) {
            push(
                format!("{rp}.priority"),
                SpecProblem::DuplicatePriority(r.priority),
            );
        }
        if r.conditions.is_empty() {
            push(format!("{rp}.conditions"), SpecProblem::EmptyConditions);
        }
        for (m, c) in r.conditions.iter().enumerate() {
            check_condition(c, &format!("{rp}.conditions[{m}]"), push);
        }
        check_actions(&r.actions, &format!("{rp}.actions"), push);
    }
}

fn check_condition(c: &ConditionSpec, p: &str, push: &mut impl FnMut(String, SpecProblem)) {
    let values = match c {
        ConditionSpec::PathPattern { values }
        | ConditionSpec::HostHeader { values }
        | ConditionSpec::HttpRequestMethod { values }
        | ConditionSpec::SourceIp { values } => values,
        ConditionSpec::HttpHeader {
            http_header_name,
            values,
        } => {
            if http_header_name.trim().is_empty() {
                push(format!("{p}.http_header_name"), SpecProblem::Empty);
            }
            values
        }
        ConditionSpec::QueryString { query_string } => {
            if query_string.is_empty() {
                push(format!("{p}.query_string"), SpecProblem::Empty);
            }
            for (i, q) in query_string.iter().enumerate() {
                if q.value.is_empty() {
                    push(format!("{p}.query_string[{i}].value"), SpecProblem::Empty);
                }
            }
            return;
        }
    };
    if values.is_empty() {
        push(format!("{p}.values"), SpecProblem::Empty);
    }
    for (i, value) in values.iter().enumerate() {
        if value.trim().is_empty() {
            push(format!("{p}.values[{i}]"), SpecProblem::Empty);
        }
    }
}

fn check_actions(actions: &[ActionSpec], p: &str, push: &mut impl FnMut(String, SpecProblem)) {
    let terminal = actions.iter().filter(|a| a.is_terminal()).count();
    match terminal {
        0 => push(p.to_string(), SpecProblem::EmptyActions),
        1 => {}
        n => push(p.to_string(), SpecProblem::TooManyActions(n)),
    }
    // Authentication first (by order when given, else by position), and at most one.
    let mut sorted: Vec<&ActionSpec> = actions.iter().collect();
    sorted.sort_by_key(|a| a.order().unwrap_or(u32::MAX));
    let auth = actions.iter().filter(|a| !a.is_terminal()).count();
    let last_is_terminal = sorted.last().is_some_and(|a| a.is_terminal());
    if auth > 1 || (auth == 1 && !last_is_terminal) {
        push(p.to_string(), SpecProblem::MisplacedAuthentication);
    }
    for (i, a) in actions.iter().enumerate() {
        let ap = format!("{p}[{i}]");
        if let Some(order) = a.order()
            && !(1..=50_000).contains(&order)
        {
            push(format!("{ap}.order"), SpecProblem::OrderOutOfRange(order));
        }
        match a {
            ActionSpec::Forward {
                target_group_arn,
                forward_config,
                ..
            } => check_forward(
                target_group_arn.as_ref(),
                forward_config.as_ref(),
                &ap,
                push,
            ),
            ActionSpec::Redirect { .. } => {}
            ActionSpec::FixedResponse { fixed_response, .. } => {
                check_fixed_response(fixed_response, &format!("{ap}.fixed_response"), push);
            }
            ActionSpec::AuthenticateCognito {
                authenticate_cognito: c,
                ..
            } => {
                let cp = format!("{ap}.authenticate_cognito");
                check_arn(&c.user_pool_arn, &format!("{cp}.user_pool_arn"), push);
                for (field, value) in [
                    ("user_pool_client_id", &c.user_pool_client_id),
                    ("user_pool_domain", &c.user_pool_domain),
                ] {
                    if value.trim().is_empty() {
                        push(format!("{cp}.{field}"), SpecProblem::Empty);
                    }
                }
                check_session_timeout(c.session_timeout, &cp, push);
            }
            ActionSpec::AuthenticateOidc {
                authenticate_oidc: o,
                ..
            } => {
                let op = format!("{ap}.authenticate_oidc");
                for (field, value) in [
                    ("issuer", &o.issuer),
                    ("authorization_endpoint", &o.authorization_endpoint),
                    ("token_endpoint", &o.token_endpoint),
                    ("user_info_endpoint", &o.user_info_endpoint),
                    ("client_id", &o.client_id),
                ] {
                    if value.trim().is_empty() {
                        push(format!("{op}.{field}"), SpecProblem::Empty);
                    }
                }
                if let Some(arn) = &o.client_secret_arn {
                    check_arn(arn, &format!("{op}.client_secret_arn"), push);
                }
                check_session_timeout(o.session_timeout, &op, push);
            }
        }
    }
}

fn check_forward(
    target_group_arn: Option<&String>,
    forward_config: Option<&ForwardConfigSpec>,
    ap: &str,
    push: &mut impl FnMut(String, SpecProblem),
) {
    let Some(fc) = forward_config else {
        match target_group_arn {
            None => push(
                format!("{ap}.target_group_arn"),
                SpecProblem::ForwardWithoutTargetGroup,
            ),
            Some(arn) => check_arn(arn, &format!("{ap}.target_group_arn"), push),
        }
        return;
    };
    let fp = format!("{ap}.forward_config");
    if fc.target_groups.is_empty() || fc.target_groups.len() > 5 {
        push(
            format!("{fp}.target_groups"),
            SpecProblem::ForwardTargetGroups,
        );
    }
    let mut seen = BTreeSet::new();
    for (j, t) in fc.target_groups.iter().enumerate() {
        let tp = format!("{fp}.target_groups[{j}]");
        check_arn(&t.target_group_arn, &format!("{tp}.target_group_arn"), push);
        if !seen.insert(t.target_group_arn.as_str()) {
            push(
                format!("{tp}.target_group_arn"),
                SpecProblem::DuplicateEntry(t.target_group_arn.clone()),
            );
        }
        if let Some(w) = t.weight
            && w > 999
        {
            push(format!("{tp}.weight"), SpecProblem::WeightOutOfRange(w));
        }
    }
    if let Some(arn) = target_group_arn
        && !(fc.target_groups.len() == 1 && &fc.target_groups[0].target_group_arn == arn)
    {
        push(
            format!("{ap}.target_group_arn"),
            SpecProblem::ForwardConflict,
        );
    }
    if let Some(st) = fc.stickiness
        && st.enabled
        && !st
            .duration_seconds
            .is_some_and(|d| (1..=604_800).contains(&d))
    {
        push(
            format!("{fp}.stickiness.duration_seconds"),
            SpecProblem::StickinessDuration,
        );
    }
}

fn check_session_timeout(t: Option<u64>, p: &str, push: &mut impl FnMut(String, SpecProblem)) {
    if let Some(t) = t
        && !(1..=604_800).contains(&t)
    {
        push(
            format!("{p}.session_timeout"),
            SpecProblem::SessionTimeout(t),
        );
    }
}

fn check_fixed_response(
    fixed_response: &FixedResponseSpec,
    fp: &str,
    push: &mut impl FnMut(String, SpecProblem),
) {
    let code = fixed_response.status_code.as_bytes();
    let ok = code.len() == 3
        && matches!(code[0], b'2' | b'4' | b'5')
        && code.iter().all(u8::is_ascii_digit);
    if !ok {
        push(
            format!("{fp}.status_code"),
            SpecProblem::InvalidFixedResponseStatus(fixed_response.status_code.clone()),
        );
    }
    if let Some(ct) = &fixed_response.content_type
        && !matches!(
            ct.as_str(),
            "text/plain" | "text/css" | "text/html" | "application/javascript" | "application/json"
        )
    {
        push(
            format!("{fp}.content_type"),
            SpecProblem::InvalidContentType(ct.clone()),
        );
    }
    if let Some(body) = &fixed_response.message_body
        && body.chars().count() > 1024
    {
        push(
            format!("{fp}.message_body"),
            SpecProblem::MessageBodyTooLong,
        );
    }
}

fn check_ids(ids: &[String], p: &str, push: &mut impl FnMut(String, SpecProblem)) {
    let mut seen = BTreeSet::new();
    for (i, id) in ids.iter().enumerate() {
        if id.trim().is_empty() {
            push(format!("{p}[{i}]"), SpecProblem::Empty);
        } else if !seen.insert(id.as_str()) {
            push(format!("{p}[{i}]"), SpecProblem::DuplicateEntry(id.clone()));
        }
    }
}

fn check_arn(arn: &str, p: &str, push: &mut impl FnMut(String, SpecProblem)) {
    if !arn.starts_with("arn:") || arn.len() <= 4 || arn.chars().any(char::is_whitespace) {
        push(p.to_string(), SpecProblem::InvalidArn(arn.to_string()));
    }
}

fn check_tags(
    tags: &BTreeMap<String, String>,
    p: &str,
    push: &mut impl FnMut(String, SpecProblem),
) {
    for (k, v) in tags {
        if k.is_empty() || k.chars().count() > 128 || k.to_ascii_lowercase().starts_with("aws:") {
            push(p.to_string(), SpecProblem::InvalidTagKey(k.clone()));
        }
        if v.chars().count() > 256 {
            push(p.to_string(), SpecProblem::TagValueTooLong(k.clone()));
        }
    }
}

fn check_parameter(name: &str, p: &str, push: &mut impl FnMut(String, SpecProblem)) {
    if let Err(reason) = check_ssm_parameter_name(name) {
        push(
            p.to_string(),
            SpecProblem::InvalidParameterName {
                name: name.to_string(),
                reason,
            },
        );
    }
}

/// SSM Parameter Store naming rules: `[A-Za-z0-9_.-/]`, at most 1011 characters, a hierarchy
/// starts with `/` and has at most 15 levels, no level is empty, and no name starts with the
/// reserved prefixes `aws` or `ssm` (case-insensitive).
pub fn check_ssm_parameter_name(name: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        return Err("empty");
    }
    if name.len() > 1011 {
        return Err("longer than 1011 characters");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-' | b'/'))
    {
        return Err("only letters, digits and `_ . - /` are allowed");
    }
    let hierarchical = name.contains('/');
    if hierarchical && !name.starts_with('/') {
        return Err("a hierarchical name must start with `/`");
    }
    let body = name.strip_prefix('/').unwrap_or(name);
    if body.is_empty() || body.ends_with('/') || body.contains("//") {
        return Err("empty path segment");
    }
    if body.split('/').count() > 15 {
        return Err("more than 15 levels");
    }
    let lower = body.to_ascii_lowercase();
    if lower.starts_with("aws") || lower.starts_with("ssm") {
        return Err("names starting with `aws` or `ssm` are reserved");
    }
    Ok(())
}

/// ALB name: 1-32 characters, ASCII letters, digits and hyphens, no leading or trailing hyphen,
/// not starting with `internal-` (AWS reserves it for the DNS names of internal balancers).
pub fn valid_alb_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 32
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-')
        && !name.to_ascii_lowercase().starts_with("internal-")
}

/// MSK cluster name: `[0-9A-Za-z][0-9A-Za-z-]{0,63}`.
pub fn valid_msk_name(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.len() <= 64
        && b[0].is_ascii_alphanumeric()
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
}

fn valid_dns_name(name: &str) -> bool {
    let n = name.strip_suffix('.').unwrap_or(name);
    !n.is_empty()
        && n.len() <= 253
        && n.split('.').enumerate().all(|(i, label)| {
            !label.is_empty()
                && label.len() <= 63
                && (label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                    || (i == 0 && label == "*"))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) const EXAMPLE: &str = r#"{
      "load_balancers": [{
        "name": "ot-dev-alb",
        "subnets": ["subnet-0aaa", "subnet-0bbb"],
        "security_groups": ["sg-0alb"],
        "attributes": {"idle_timeout.timeout_seconds": "120"},
        "tags": {"Project": "order-tracking"},
        "dns_name_parameter": "/order-tracking/dev/alb_dns_name",
        "aliases": [{"zone_id": "Z0123456789ABC", "name": "app.example.com"}],
        "listeners": [
          {"port": 80, "protocol": "HTTP", "default_actions": [
            {"type": "redirect", "redirect": {"protocol": "HTTPS", "port": "443", "status_code": "HTTP_301"}}]},
          {"port": 443, "protocol": "HTTPS", "ssl_policy": "ELBSecurityPolicy-TLS13-1-2-2021-06",
           "certificate_arn": "arn:aws:acm:eu-west-1:123456789012:certificate/abc",
           "default_actions": [{"type": "forward", "target_group_arn": "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/ot-dev-tg/1"}],
           "rules": [
             {"priority": 10, "conditions": [{"field": "path-pattern", "values": ["/api/*"]}],
              "actions": [{"type": "forward", "target_group_arn": "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/ot-dev-api/2"}]},
             {"priority": 20, "conditions": [{"field": "http-header", "http_header_name": "X-Canary", "values": ["1"]}],
              "actions": [{"type": "fixed-response", "fixed_response": {"status_code": "503", "content_type": "text/plain", "message_body": "paused"}}]}
           ]}
        ]
      }],
      "kafka_clusters": [{
        "name": "ot-dev-msk",
        "vpc_configs": [{"subnet_ids": ["subnet-0aaa", "subnet-0bbb"], "security_group_ids": ["sg-0msk"]}],
        "client_authentication": {"sasl_iam": true},
        "bootstrap_parameter": "/order-tracking/dev/kafka_bootstrap"
      }]
    }"#;

    fn problems(json: &str) -> Vec<(String, SpecProblem)> {
        match EphemeralSpec::from_json(json) {
            Err(SpecError::Invalid(v)) => v.into_iter().map(|v| (v.path, v.problem)).collect(),
            other => panic!("expected validation error, got {other:?}"),
        }
    }

    fn edit(f: impl FnOnce(&mut serde_json::Value)) -> String {
        let mut v: serde_json::Value = serde_json::from_str(EXAMPLE).unwrap();
        f(&mut v);
        v.to_string()
    }

    #[test]
    fn example_parses_with_defaults() {
        let spec = EphemeralSpec::from_json(EXAMPLE).unwrap();
        let lb = &spec.load_balancers[0];
        assert_eq!(lb.scheme, Scheme::InternetFacing);
        assert_eq!(lb.lb_type, LoadBalancerType::Application);
        assert_eq!(lb.ip_address_type, IpAddressType::Ipv4);
        assert_eq!(lb.listeners[1].rules.len(), 2);
        assert!(lb.listeners[0].rules.is_empty());
        assert!(spec.kafka_clusters[0].tags.is_empty());
    }

    #[test]
    fn serialise_parse_round_trip() {
        let spec = EphemeralSpec::from_json(EXAMPLE).unwrap();
        let json = serde_json::to_string(&spec).unwrap();
        assert_eq!(EphemeralSpec::from_json(&json).unwrap(), spec);
    }

    #[test]
    fn parse_errors_carry_the_path() {
        let json = edit(|v| v["load_balancers"][0]["listeners"][1]["port"] = "443".into());
        match EphemeralSpec::from_json(&json) {
            Err(SpecError::Parse { path, .. }) => {
                assert_eq!(path, "load_balancers[0].listeners[1].port")
            }
            other => panic!("{other:?}"),
        }
        let json = edit(|v| v["kafka_clusters"][0]["colour"] = "red".into());
        match EphemeralSpec::from_json(&json) {
            Err(SpecError::Parse { path, message }) => {
                assert_eq!(path, "kafka_clusters[0].colour");
                assert!(message.contains("colour"), "{message}");
            }
            other => panic!("{other:?}"),
        }
        let err = EphemeralSpec::from_json("{").unwrap_err();
        assert!(matches!(err, SpecError::Parse { .. }));
    }

    #[test]
    fn https_without_certificate_and_http_with_one() {
        let json = edit(|v| {
            let l = &mut v["load_balancers"][0]["listeners"];
            l[1].as_object_mut().unwrap().remove("certificate_arn");
            l[0]["certificate_arn"] = "arn:aws:acm:x".into();
        });
        let p = problems(&json);
        assert!(p.contains(&(
            "load_balancers[0].listeners[1].certificate_arn".into(),
            SpecProblem::HttpsWithoutCertificate
        )));
        assert!(p.contains(&(
            "load_balancers[0].listeners[0].certificate_arn".into(),
            SpecProblem::TlsSettingOnHttp("certificate_arn")
        )));
    }

    #[test]
    fn duplicates_are_reported() {
        let json = edit(|v| {
            let lb = v["load_balancers"][0].clone();
            v["load_balancers"].as_array_mut().unwrap().push(lb);
            let l = &mut v["load_balancers"][0]["listeners"];
            l[0]["port"] = 443.into();
            l[1]["rules"][1]["priority"] = 10.into();
        });
        let p = problems(&json);
        assert!(p.contains(&(
            "load_balancers[1].name".into(),
            SpecProblem::DuplicateName("ot-dev-alb".into())
        )));
        assert!(p.contains(&(
            "load_balancers[0].listeners[1].port".into(),
            SpecProblem::DuplicatePort(443)
        )));
        assert!(p.contains(&(
            "load_balancers[0].listeners[1].rules[1].priority".into(),
            SpecProblem::DuplicatePriority(10)
        )));
    }

    #[test]
    fn priority_range_subnets_actions_forward() {
        let json = edit(|v| {
            let lb = &mut v["load_balancers"][0];
            lb["subnets"] = serde_json::json!(["subnet-1"]);
            let l = &mut lb["listeners"][1];
            l["rules"][0]["priority"] = 50_001.into();
            l["rules"][1]["actions"] = serde_json::json!([]);
            l["default_actions"] = serde_json::json!([{"type": "forward"}]);
        });
        let p = problems(&json);
        let lp = "load_balancers[0].listeners[1]";
        assert!(p.contains(&(
            format!("{lp}.rules[0].priority"),
            SpecProblem::PriorityOutOfRange(50_001)
        )));
        assert!(p.contains(&(format!("{lp}.rules[1].actions"), SpecProblem::EmptyActions)));
        assert!(p.contains(&(
            format!("{lp}.default_actions[0].target_group_arn"),
            SpecProblem::ForwardWithoutTargetGroup
        )));
        assert!(p.contains(&(
            "load_balancers[0].subnets".into(),
            SpecProblem::TooFewSubnets(1)
        )));
    }

    #[test]
    fn names_and_parameters() {
        let json = edit(|v| {
            v["load_balancers"][0]["name"] = "internal-app".into();
            v["load_balancers"][0]["dns_name_parameter"] = "order-tracking/dev".into();
            v["kafka_clusters"][0]["name"] = "-msk".into();
            v["kafka_clusters"][0]["vpc_configs"] = serde_json::json!([]);
            v["kafka_clusters"][0]["bootstrap_parameter"] = "/aws/reserved".into();
        });
        let p = problems(&json);
        assert!(p.iter().any(|(path, pr)| path == "load_balancers[0].name"
            && matches!(pr, SpecProblem::InvalidLoadBalancerName(_))));
        assert!(
            p.iter()
                .any(|(path, pr)| path == "load_balancers[0].dns_name_parameter"
                    && matches!(pr, SpecProblem::InvalidParameterName { .. }))
        );
        assert!(p.iter().any(|(path, pr)| path == "kafka_clusters[0].name"
            && matches!(pr, SpecProblem::InvalidClusterName(_))));
        assert!(p.contains(&(
            "kafka_clusters[0].vpc_configs".into(),
            SpecProblem::NoVpcConfigs
        )));
        assert!(
            p.iter()
                .any(|(path, _)| path == "kafka_clusters[0].bootstrap_parameter")
        );
    }

    #[test]
    fn without_keeps_only_the_names_the_other_lacks() {
        let full = EphemeralSpec::from_json(EXAMPLE).unwrap();
        let lb_only = EphemeralSpec {
            kafka_clusters: Vec::new(),
            ..full.clone()
        };
        let removed = full.without(&lb_only);
        assert!(removed.load_balancers.is_empty());
        assert_eq!(removed.kafka_clusters, full.kafka_clusters);
        assert!(lb_only.without(&full).is_empty());
        assert!(full.without(&full).is_empty());
    }

    #[test]
    fn name_rules() {
        assert!(valid_alb_name("ot-dev-alb"));
        assert!(valid_alb_name(&"a".repeat(32)));
        assert!(!valid_alb_name(&"a".repeat(33)));
        assert!(!valid_alb_name("alb-"));
        assert!(!valid_alb_name("a_b"));
        assert!(!valid_alb_name(""));
        assert!(valid_msk_name("0-msk"));
        assert!(valid_msk_name(&"m".repeat(64)));
        assert!(!valid_msk_name(&"m".repeat(65)));
        assert!(!valid_msk_name("msk.dev"));
        assert!(check_ssm_parameter_name("/a/b").is_ok());
        assert!(check_ssm_parameter_name("plain_name").is_ok());
        assert!(check_ssm_parameter_name("/a//b").is_err());
        assert!(check_ssm_parameter_name("/a b").is_err());
        assert!(check_ssm_parameter_name("/SSM/x").is_err());
        assert!(check_ssm_parameter_name(&"/a".repeat(16)).is_err());
    }

    #[test]
    fn conditions_and_actions_are_tagged() {
        let json = edit(|v| {
            v["load_balancers"][0]["listeners"][1]["rules"][0]["conditions"] =
                serde_json::json!([{"field": "cookie", "values": ["x"]}]);
        });
        assert!(matches!(
            EphemeralSpec::from_json(&json),
            Err(SpecError::Parse { .. })
        ));
        let json = edit(|v| {
            v["load_balancers"][0]["listeners"][1]["rules"][0]["conditions"] =
                serde_json::json!([{"field": "path-pattern", "values": ["/"], "extra": 1}]);
        });
        assert!(matches!(
            EphemeralSpec::from_json(&json),
            Err(SpecError::Parse { .. })
        ));
    }
}
