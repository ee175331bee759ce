//! The ephemeral-tier spec: what costctl deletes on pause and recreates on resume.
//!
//! The format is documented in `docs/ephemeral-spec.md`. The same document is sent by Terraform
//! (`aws_lambda_invocation`), accepted by `costctl apply-spec`, and captured into the manifest
//! before anything is deleted, so the types here are `Serialize` as well as `Deserialize`, and
//! compare field by field (`BTreeMap` keeps attributes and tags in a stable order).
//!
//! [`EphemeralSpec::from_json`] / [`EphemeralSpec::from_value`] parse *and* validate: a value of
//! this type that came from outside has been checked against every rule in [`SpecProblem`].

mod network;
#[cfg(test)]
mod tests;
mod validate;

pub use network::{
    DnsOptionsSpec, EndpointIpAddressType, NatConnectivity, NatGatewaySpec, NatRouteSpec,
    VpcEndpointSpec, default_dns_record_ip_type,
};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use validate::{check_ids, check_tags};
pub use validate::{check_ssm_parameter_name, valid_alb_name, valid_msk_name};

/// The whole ephemeral tier of one stack.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EphemeralSpec {
    /// Optional (absent = none), as every list of the spec: a spec of a network tier only
    /// need not name the others.
    #[serde(default)]
    pub load_balancers: Vec<LoadBalancerSpec>,
    #[serde(default)]
    pub kafka_clusters: Vec<KafkaClusterSpec>,
    /// NAT gateways with the routes that point at them (the `private-nat` network mode).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nat_gateways: Vec<NatGatewaySpec>,
    /// Interface VPC endpoints (the `private-endpoints` network mode).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vpc_endpoints: Vec<VpcEndpointSpec>,
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
    #[error("`{id}` is not an ID of this kind (expected `{prefix}…`)")]
    InvalidId { id: String, prefix: &'static str },
    #[error(
        "a public NAT gateway needs `allocation_id` (its Elastic IP); a private one takes none"
    )]
    NatAllocation,
    #[error("`{0}` is not a valid address or CIDR block")]
    InvalidAddress(String),
    #[error(
        "a route needs exactly one of `destination_cidr_block`, `destination_ipv6_cidr_block`, `destination_prefix_list_id`"
    )]
    RouteDestination,
    #[error(
        "invalid VPC endpoint service name `{0}` (expected e.g. `com.amazonaws.us-east-1.ecr.api`)"
    )]
    InvalidServiceName(String),
    #[error("an endpoint policy must be a JSON object (an IAM policy document)")]
    PolicyNotObject,
    #[error("invalid DNS record IP type `{0}`: expected ipv4, dualstack, ipv6 or service-defined")]
    InvalidDnsRecordIpType(String),
    #[error(
        "must include the stack's tags ({0}): costctl finds the NAT gateways and endpoints it created by them"
    )]
    MissingStackTags(String),
}
