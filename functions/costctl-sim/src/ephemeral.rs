//! The ephemeral tier of the simulated world: Application Load Balancers, MSK Serverless
//! clusters, SSM parameters and Route53 alias records, with AWS's own rules and durations.
//!
//! What AWS does and the simulation therefore does too:
//! - an ALB is `provisioning` for 1–3 minutes, then `active`; its name is unique in the region,
//!   and CreateLoadBalancer with the name of an existing one and the same settings answers with
//!   the existing one (different settings: `DuplicateLoadBalancerName`); DeleteLoadBalancer
//!   takes effect at once (its target groups stay);
//! - an MSK Serverless cluster is `CREATING` for several minutes, then `ACTIVE`; names are *not*
//!   unique: a second CreateClusterV2 with the same name creates a second cluster (the
//!   "$550 a month double-create"); DeleteCluster is refused while the cluster is `CREATING`, and
//!   a deleted cluster stays `DELETING` for minutes;
//! - subnets, security groups, certificates and target groups a request names must exist.

use crate::caller::{not_found, rejected};
use crate::world::{MINUTE, World};
use costctl_core::DesiredState;
use costctl_core::ephemeral::{
    kafka_differences, lb_differences, lb_recreation_blockers, non_default_attributes,
};
use costctl_core::observation::{AliasObs, KafkaObs, LoadBalancerObs, alias_key, normalise_dns};
use costctl_core::plan::MskOnPause;
use costctl_core::spec::{
    ActionSpec, EphemeralSpec, IpAddressType, KafkaClusterSpec, ListenerProtocol, ListenerSpec,
    LoadBalancerSpec, LoadBalancerType, RedirectSpec, Scheme,
};
use costctl_engine::error::CloudResult;
use std::collections::{BTreeMap, BTreeSet};

/// The canonical hosted zone of ALBs in the simulated region.
pub const ALB_ZONE: &str = "Z32O12XQLNTSW2";
pub const REGION: &str = "eu-west-1";

#[derive(Debug, Clone)]
pub struct SimListener {
    pub arn: String,
    pub spec: ListenerSpec,
    /// Rule ARNs by priority.
    pub rule_arns: BTreeMap<u32, String>,
}

#[derive(Debug, Clone)]
pub struct SimLb {
    pub arn: String,
    pub name: String,
    /// `provisioning` or `active`.
    pub state: String,
    pub ready_at: i64,
    pub dns_name: String,
    pub scheme: Scheme,
    pub ip_address_type: IpAddressType,
    pub subnets: Vec<String>,
    pub security_groups: Vec<String>,
    /// Only the attributes set explicitly; the others are at AWS's default.
    pub attributes: BTreeMap<String, String>,
    pub tags: BTreeMap<String, String>,
    pub listeners: BTreeMap<u16, SimListener>,
    /// The associated WAF web ACL (an association ends with the load balancer).
    pub web_acl_arn: Option<String>,
}

impl SimLb {
    /// What the adapter captures (DescribeLoadBalancers, attributes, listeners, rules, tags).
    pub fn obs(&self) -> LoadBalancerObs {
        let mut subnets = self.subnets.clone();
        subnets.sort();
        let mut security_groups = self.security_groups.clone();
        security_groups.sort();
        LoadBalancerObs {
            arn: self.arn.clone(),
            dns_name: self.dns_name.clone(),
            zone_id: ALB_ZONE.into(),
            state: self.state.clone(),
            deletion_protection: self.deletion_protection(),
            spec: LoadBalancerSpec {
                name: self.name.clone(),
                scheme: self.scheme,
                lb_type: LoadBalancerType::Application,
                ip_address_type: self.ip_address_type,
                subnets,
                security_groups,
                attributes: non_default_attributes(&self.attributes),
                tags: self.tags.clone(),
                web_acl_arn: self.web_acl_arn.clone(),
                dns_name_parameter: None,
                aliases: Vec::new(),
                listeners: self.listeners.values().map(|l| l.spec.clone()).collect(),
            },
            unsupported: Vec::new(),
        }
    }

    pub fn deletion_protection(&self) -> bool {
        self.attributes
            .get("deletion_protection.enabled")
            .is_some_and(|v| v == "true")
    }

    /// The settings CreateLoadBalancer compares when the name exists already.
    pub fn same_settings(&self, spec: &LoadBalancerSpec) -> bool {
        let set = |v: &[String]| v.iter().cloned().collect::<BTreeSet<_>>();
        self.scheme == spec.scheme
            && self.ip_address_type == spec.ip_address_type
            && set(&self.subnets) == set(&spec.subnets)
            && set(&self.security_groups) == set(&spec.security_groups)
    }
}

#[derive(Debug, Clone)]
pub struct SimKafka {
    pub arn: String,
    pub name: String,
    /// `CREATING`, `ACTIVE` or `DELETING`.
    pub state: String,
    /// When the current transition ends.
    pub until: i64,
    pub spec: KafkaClusterSpec,
    pub bootstrap: String,
}

impl SimKafka {
    pub fn obs(&self) -> KafkaObs {
        KafkaObs {
            unsupported: Vec::new(),
            arn: self.arn.clone(),
            state: self.state.clone(),
            bootstrap: (self.state == "ACTIVE").then(|| self.bootstrap.clone()),
            spec: self.spec.clone(),
        }
    }
}

/// The ephemeral tier of the world, and what exists around it.
#[derive(Debug, Default)]
pub struct Ephemeral {
    /// Whether the simulated cloud has an ephemeral tier at all; without one it observes
    /// nothing and makes no call for it (as the `Cloud` trait's defaults), so that a scenario
    /// without one is the same run it was before the tier existed.
    pub enabled: bool,
    /// By ARN.
    pub lbs: BTreeMap<String, SimLb>,
    /// By ARN.
    pub kafkas: BTreeMap<String, SimKafka>,
    pub parameters: BTreeMap<String, String>,
    /// By [`alias_key`].
    pub aliases: BTreeMap<String, AliasObs>,
    pub subnets: BTreeSet<String>,
    pub security_groups: BTreeSet<String>,
    pub certificates: BTreeSet<String>,
    pub target_groups: BTreeSet<String>,
    /// WAF web ACLs that exist (AssociateWebACL refuses another).
    pub web_acls: BTreeSet<String>,
    /// Names of load balancers and clusters of another stack (never touched), with their ARN.
    pub foreign: BTreeMap<String, String>,
    /// Elastic IPs, route tables, NAT gateways and interface endpoints.
    pub net: crate::network::Network,
    seq: u64,
    /// Names for which two live clusters were already reported (reported once).
    reported: BTreeSet<String>,
}

impl Ephemeral {
    pub fn next_id(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    pub fn lb_by_name(&self, name: &str) -> Option<&SimLb> {
        self.lbs.values().find(|l| l.name == name)
    }

    /// Clusters of that name that AWS still bills for or is creating (not `DELETING`).
    pub fn live_kafkas(&self, name: &str) -> Vec<&SimKafka> {
        self.kafkas
            .values()
            .filter(|c| c.name == name && c.state != "DELETING")
            .collect()
    }

    /// Lets time pass: ALBs become active, clusters become active or disappear.
    pub fn advance(&mut self, now: i64, lines: &mut Vec<String>) -> bool {
        let mut changed = false;
        for lb in self.lbs.values_mut() {
            if lb.state == "provisioning" && now >= lb.ready_at {
                lb.state = "active".into();
                lines.push(format!("alb {} ({}) active", lb.name, short(&lb.arn)));
                changed = true;
            }
        }
        let mut gone = Vec::new();
        for c in self.kafkas.values_mut() {
            if now < c.until {
                continue;
            }
            match c.state.as_str() {
                "CREATING" => {
                    c.state = "ACTIVE".into();
                    lines.push(format!("msk {} ({}) ACTIVE", c.name, short(&c.arn)));
                    changed = true;
                }
                "DELETING" => gone.push(c.arn.clone()),
                _ => {}
            }
        }
        for arn in gone {
            if let Some(c) = self.kafkas.remove(&arn) {
                lines.push(format!("msk {} ({}) deleted", c.name, short(&arn)));
                changed = true;
            }
        }
        changed |= self.net.advance(now, lines);
        changed
    }

    /// At most one load balancer and one (not deleting) cluster per name, at every instant;
    /// resources of another stack are never touched.
    pub fn check(&mut self, v: &mut Vec<String>) {
        let mut lbs: BTreeMap<&str, usize> = BTreeMap::new();
        for lb in self.lbs.values() {
            *lbs.entry(lb.name.as_str()).or_default() += 1;
        }
        for (name, n) in lbs {
            if n > 1 {
                v.push(format!("{n} load balancers named {name} exist at once"));
            }
        }
        let mut kafkas: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for c in self.kafkas.values().filter(|c| c.state != "DELETING") {
            kafkas.entry(c.name.clone()).or_default().push(format!(
                "{} {}",
                short(&c.arn),
                c.state
            ));
        }
        for (name, arns) in kafkas {
            if arns.len() > 1 && self.reported.insert(name.clone()) {
                v.push(format!(
                    "{} MSK Serverless clusters named {name} exist at once: {}",
                    arns.len(),
                    arns.join(", ")
                ));
            }
        }
        for (name, arn) in &self.foreign {
            let there = self.lbs.contains_key(arn)
                || self.kafkas.get(arn).is_some_and(|c| c.state == "ACTIVE");
            if !there {
                v.push(format!("foreign {name} was touched"));
            }
        }
        self.net.check(v);
    }

    /// How the ephemeral tier differs from `desired` for a stack whose desired spec is `spec`
    /// (what Terraform gave, not yet deleted) and whose manifest remembers `recorded`.
    pub fn differs_from(
        &self,
        desired: DesiredState,
        msk_on_pause: MskOnPause,
        spec: Option<&EphemeralSpec>,
        recorded: &EphemeralSpec,
    ) -> Vec<String> {
        let mut d = Vec::new();
        let mut lbs: BTreeMap<&str, &LoadBalancerSpec> = BTreeMap::new();
        let mut kafkas: BTreeMap<&str, &KafkaClusterSpec> = BTreeMap::new();
        // The spec Terraform gave wins over what a pause captured.
        for s in recorded
            .load_balancers
            .iter()
            .chain(spec.iter().flat_map(|s| &s.load_balancers))
        {
            lbs.insert(&s.name, s);
        }
        for s in recorded
            .kafka_clusters
            .iter()
            .chain(spec.iter().flat_map(|s| &s.kafka_clusters))
        {
            kafkas.insert(&s.name, s);
        }
        // Exactly the spec's: a load balancer or live cluster of this stack that no spec or
        // record names any more (Terraform deleted it from the spec) must be gone.
        for lb in self.lbs.values() {
            let foreign = self.foreign.contains_key(&format!("alb:{}", lb.name));
            if !foreign && !lbs.contains_key(lb.name.as_str()) && !lb.deletion_protection() {
                d.push(format!("alb:{} exists but no spec names it", lb.name));
            }
        }
        for c in self.kafkas.values() {
            let foreign = self.foreign.contains_key(&format!("msk:{}", c.name));
            if !foreign && !kafkas.contains_key(c.name.as_str()) && c.state != "DELETING" {
                d.push(format!(
                    "msk:{} ({}) exists but no spec names it",
                    c.name, c.state
                ));
            }
        }
        let given: BTreeMap<&str, &LoadBalancerSpec> = spec
            .iter()
            .flat_map(|s| &s.load_balancers)
            .map(|l| (l.name.as_str(), l))
            .collect();
        for (name, want) in lbs {
            let have = self.lb_by_name(name);
            match (desired, have) {
                (DesiredState::Running, None) => d.push(format!("alb:{name} does not exist")),
                (DesiredState::Running, Some(lb)) => {
                    let obs = lb.obs();
                    let diff = lb_differences(&obs.spec, want);
                    if lb.state != "active" || !diff.is_empty() {
                        d.push(format!(
                            "alb:{name} is {} and differs in {diff:?}",
                            lb.state
                        ));
                    }
                    let dns = normalise_dns(&lb.dns_name);
                    if let Some(p) = &want.dns_name_parameter
                        && self.parameters.get(p).map(|v| normalise_dns(v)) != Some(dns.clone())
                    {
                        d.push(format!("ssm:{p} does not hold the DNS name of alb:{name}"));
                    }
                    for a in &want.aliases {
                        let at = self.aliases.get(&alias_key(&a.zone_id, &a.name));
                        if at.is_none_or(|at| {
                            at.a.as_ref() != Some(&dns) || at.aaaa.as_ref() != Some(&dns)
                        }) {
                            d.push(format!("alias {} does not point at alb:{name}", a.name));
                        }
                    }
                }
                // Paused: gone, unless deletion protection or the lossless-or-kept rule
                // (production's `lb_recreation_blockers`, judged against the given spec) keeps it.
                (_, Some(lb)) if !lb.deletion_protection() => {
                    let obs = lb.obs();
                    let want = given.get(name).copied().unwrap_or(&obs.spec);
                    if lb_recreation_blockers(&obs, want).is_empty() {
                        d.push(format!("alb:{name} exists ({})", lb.state));
                    }
                }
                _ => {}
            }
        }
        for (name, want) in kafkas {
            let all: Vec<&SimKafka> = self.kafkas.values().filter(|c| c.name == name).collect();
            if desired == DesiredState::Running {
                let active: Vec<&&SimKafka> = all.iter().filter(|c| c.state == "ACTIVE").collect();
                let [c] = active[..] else {
                    d.push(format!("msk:{name}: {} active clusters", active.len()));
                    continue;
                };
                if !kafka_differences(&c.spec, want).fixed.is_empty() {
                    d.push(format!("msk:{name} differs from its spec"));
                }
                if let Some(p) = &want.bootstrap_parameter
                    && self.parameters.get(p) != Some(&c.bootstrap)
                {
                    d.push(format!(
                        "ssm:{p} does not hold the bootstrap brokers of msk:{name}"
                    ));
                }
            } else if msk_on_pause == MskOnPause::Keep {
                // Kept as it is, whatever its state (at most one: checked at every step).
            } else if !all.is_empty() {
                d.push(format!(
                    "msk:{name} exists ({})",
                    all.iter()
                        .map(|c| c.state.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
        }
        d
    }
}

/// The last part of an ARN, for the trace.
pub fn short(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

/// Durations.
pub fn alb_provisioning_ms(w: &mut World) -> i64 {
    w.rng.range(MINUTE, 3 * MINUTE)
}
pub fn msk_creating_ms(w: &mut World) -> i64 {
    w.rng.range(4 * MINUTE, 12 * MINUTE)
}
pub fn msk_deleting_ms(w: &mut World) -> i64 {
    w.rng.range(2 * MINUTE, 8 * MINUTE)
}

pub fn lb_arn(name: &str, id: u64) -> String {
    format!("arn:aws:elasticloadbalancing:{REGION}:123456789012:loadbalancer/app/{name}/{id:016x}")
}
pub fn msk_arn(name: &str, id: u64) -> String {
    format!(
        "arn:aws:kafka:{REGION}:123456789012:cluster/{name}/{id:08x}-0000-4000-8000-000000000000-s1"
    )
}
pub fn listener_arn(lb_arn: &str, id: u64) -> String {
    format!(
        "{}/{id:016x}",
        lb_arn.replace(":loadbalancer/", ":listener/")
    )
}
pub fn rule_arn(listener_arn: &str, id: u64) -> String {
    format!(
        "{}/{id:016x}",
        listener_arn.replace(":listener/", ":listener-rule/")
    )
}

// ---- changes of the ephemeral tier, shared by the simulated cloud and its ALB apply ----

pub(crate) fn tag_pairs(tags: &BTreeMap<String, String>) -> impl Iterator<Item = (&str, &str)> {
    tags.iter().map(|(k, v)| (k.as_str(), v.as_str()))
}

/// Every target group a load balancer spec forwards to.
pub(crate) fn target_groups(spec: &LoadBalancerSpec) -> impl Iterator<Item = &String> {
    spec.listeners
        .iter()
        .flat_map(|l| {
            l.default_actions
                .iter()
                .chain(l.rules.iter().flat_map(|r| &r.actions))
        })
        .filter_map(|a| match a {
            ActionSpec::Forward {
                target_group_arn, ..
            } => target_group_arn.as_ref(),
            _ => None,
        })
}

pub(crate) fn lb_mut<'w>(w: &'w mut World, arn: &str) -> CloudResult<&'w mut SimLb> {
    w.eph
        .lbs
        .get_mut(arn)
        .ok_or_else(|| not_found("elasticloadbalancing:*", arn, "LoadBalancerNotFound"))
}

/// CreateLoadBalancer: names are unique in a region; the same name with the same settings
/// answers with the existing load balancer, with other settings `DuplicateLoadBalancerName`.
/// Every subnet and security group must exist. Returns the ARN.
pub(crate) fn create_lb(w: &mut World, spec: &LoadBalancerSpec) -> CloudResult<String> {
    const OP: &str = "elasticloadbalancing:CreateLoadBalancer";
    if let Some(lb) = w.eph.lb_by_name(&spec.name) {
        if lb.same_settings(spec) {
            return Ok(lb.arn.clone());
        }
        return Err(rejected(
            OP,
            &spec.name,
            "DuplicateLoadBalancerName",
            "A load balancer with the same name exists but with different settings",
        ));
    }
    if let Some((code, message)) = missing_network(w, &spec.subnets, &spec.security_groups) {
        return Err(rejected(OP, &spec.name, code.alb, &message));
    }
    let id = w.eph.next_id();
    let took = alb_provisioning_ms(w);
    let arn = lb_arn(&spec.name, id);
    w.eph.lbs.insert(
        arn.clone(),
        SimLb {
            arn: arn.clone(),
            name: spec.name.clone(),
            state: "provisioning".into(),
            ready_at: w.now + took,
            dns_name: format!(
                "{}-{id}.{}.elb.amazonaws.com",
                spec.name,
                crate::ephemeral::REGION
            ),
            scheme: spec.scheme,
            ip_address_type: spec.ip_address_type,
            subnets: spec.subnets.clone(),
            security_groups: spec.security_groups.clone(),
            attributes: BTreeMap::new(),
            tags: spec.tags.clone(),
            listeners: BTreeMap::new(),
            web_acl_arn: None,
        },
    );
    Ok(arn)
}

/// The error codes ELBv2 and MSK answer for a missing subnet or security group.
pub(crate) struct NetworkCode {
    alb: &'static str,
    msk: &'static str,
}

/// The first subnet or security group of a create request that does not exist.
pub(crate) fn missing_network(
    w: &World,
    subnets: &[String],
    security_groups: &[String],
) -> Option<(NetworkCode, String)> {
    if let Some(s) = subnets.iter().find(|s| !w.eph.subnets.contains(*s)) {
        let code = NetworkCode {
            alb: "SubnetNotFound",
            msk: "BadRequestException",
        };
        return Some((code, format!("The subnet ID '{s}' does not exist")));
    }
    let g = security_groups
        .iter()
        .find(|g| !w.eph.security_groups.contains(*g))?;
    let code = NetworkCode {
        alb: "InvalidSecurityGroup",
        msk: "BadRequestException",
    };
    Some((code, format!("The security group '{g}' does not exist")))
}

/// CreateClusterV2: a new cluster every time, whatever the name (MSK names are not unique).
pub(crate) fn create_kafka(w: &mut World, spec: &KafkaClusterSpec) -> CloudResult<()> {
    const OP: &str = "kafka:CreateClusterV2";
    for v in &spec.vpc_configs {
        if let Some((code, message)) = missing_network(w, &v.subnet_ids, &v.security_group_ids) {
            return Err(rejected(OP, &spec.name, code.msk, &message));
        }
    }
    let id = w.eph.next_id();
    let took = msk_creating_ms(w);
    let arn = msk_arn(&spec.name, id);
    let stored = KafkaClusterSpec {
        bootstrap_parameter: None,
        ..spec.clone()
    };
    w.eph.kafkas.insert(
        arn.clone(),
        SimKafka {
            arn,
            name: spec.name.clone(),
            state: "CREATING".into(),
            until: w.now + took,
            spec: stored,
            bootstrap: format!(
                "boot-{id:04}.c1.kafka-serverless.{}.amazonaws.com:9098",
                crate::ephemeral::REGION
            ),
        },
    );
    Ok(())
}

/// A listener as AWS stores it: an HTTPS listener without an SSL policy gets the default one,
/// a redirect's missing parts become their `#{…}` placeholders.
pub(crate) fn aws_listener(l: &ListenerSpec) -> ListenerSpec {
    let mut l = l.clone();
    if l.protocol == ListenerProtocol::Https && l.ssl_policy.is_none() {
        l.ssl_policy = Some("ELBSecurityPolicy-2016-08".into());
    }
    let fill = |actions: &mut Vec<ActionSpec>| {
        for a in actions {
            if let ActionSpec::Redirect { redirect, .. } = a {
                let r: &mut RedirectSpec = redirect;
                r.protocol.get_or_insert_with(|| "#{protocol}".into());
                r.port.get_or_insert_with(|| "#{port}".into());
                r.host.get_or_insert_with(|| "#{host}".into());
                r.path.get_or_insert_with(|| "/#{path}".into());
                r.query.get_or_insert_with(|| "#{query}".into());
            }
        }
    };
    fill(&mut l.default_actions);
    for r in &mut l.rules {
        fill(&mut r.actions);
    }
    l
}
