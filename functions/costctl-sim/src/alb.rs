//! The simulated side of the ALB apply loop (`costctl_aws::alb_apply`): the same pure diff and
//! the same fenced loop as production, each [`AlbCall`] applied to the world as AWS would store
//! it, with its own latency and faults. A call that skipped its fence, or a list in the wrong
//! order, shows up as a violation or a divergence in some seed.

use crate::caller::{not_found, rejected};
use crate::cloud::SimCloud;
use crate::ephemeral::{SimLb, SimListener, listener_arn, rule_arn};
use crate::ephemeral::{aws_listener, create_lb, lb_mut};
use crate::world::{Direction, World};
use async_trait::async_trait;
use costctl_core::alb::{AlbCall, LiveAlb, LiveListener, listener, rule};
use costctl_core::ephemeral::{alb_attribute_ignored, non_default_listener_attributes};
use costctl_core::spec::{ListenerSpec, LoadBalancerSpec, RuleSpec};
use costctl_engine::alb_apply::{AlbCalls, AlbTarget, Learnt};
use costctl_engine::error::{CloudError, CloudResult};

#[async_trait]
impl AlbCalls for SimCloud {
    async fn check_alb_dependencies(&self, spec: &LoadBalancerSpec) -> CloudResult<()> {
        self.check_lb_dependencies(spec).await
    }

    async fn live_alb(&self, name: &str) -> CloudResult<Option<LiveAlb>> {
        self.call(
            "elasticloadbalancing:DescribeLoadBalancers",
            &format!("alb:{name}"),
            None,
            |w| {
                Ok(w.eph.lb_by_name(name).map(|lb| LiveAlb {
                    arn: lb.arn.clone(),
                    attributes: lb.attributes.clone(),
                    tags: lb.tags.clone(),
                    web_acl_arn: lb.web_acl_arn.clone(),
                    listeners: lb
                        .listeners
                        .values()
                        .map(|l| LiveListener {
                            arn: l.arn.clone(),
                            spec: l.spec.clone(),
                            rule_arns: l.rule_arns.clone(),
                        })
                        .collect(),
                }))
            },
        )
        .await
    }

    fn now_ms(&self) -> i64 {
        self.0.clock.now()
    }

    async fn send_alb_call(
        &self,
        spec: &LoadBalancerSpec,
        call: &AlbCall,
        target: &AlbTarget,
    ) -> CloudResult<Learnt> {
        let resource = format!("alb:{}", spec.name);
        let op = call.operation();
        let lb = target.arn.clone();
        let new_listener = self
            .call(op, &resource, Some(Direction::Up), |w| {
                apply(w, spec, call, &lb, target)
            })
            .await?;
        Ok(match (call, new_listener) {
            (AlbCall::CreateLoadBalancer, Some(arn)) => Learnt::LoadBalancer(arn),
            (AlbCall::CreateListener { port }, Some(arn)) => Learnt::Listener(*port, arn),
            (AlbCall::DeleteListener { port, .. }, _) => Learnt::ListenerGone(*port),
            _ => Learnt::Nothing,
        })
    }
}

/// One call's effect on the world; answers the ARN a create makes.
fn apply(
    w: &mut World,
    spec: &LoadBalancerSpec,
    call: &AlbCall,
    lb_arn: &str,
    target: &AlbTarget,
) -> CloudResult<Option<String>> {
    let op = call.operation();
    let unplanned = || {
        CloudError::refused(
            format!("alb:{}", spec.name),
            format!("internal error: {call:?} names nothing of the spec"),
        )
    };
    if let AlbCall::CreateLoadBalancer = call {
        return create_lb(w, spec).map(Some);
    }
    if let AlbCall::AssociateWebAcl { web_acl_arn } = call
        && !w.eph.web_acls.contains(web_acl_arn)
    {
        return Err(rejected(
            op,
            web_acl_arn,
            "WAFNonexistentItemException",
            "AWS WAF couldn't perform the operation because your resource doesn't exist.",
        ));
    }
    let id = w.eph.next_id();
    let lb = lb_mut(w, lb_arn)?;
    match call {
        AlbCall::CreateLoadBalancer => unreachable!("handled above"),
        AlbCall::ModifyLoadBalancerAttributes { changes } => {
            for (k, v) in changes {
                if !alb_attribute_ignored(k) {
                    lb.attributes.insert(k.clone(), v.clone());
                }
            }
        }
        AlbCall::AddTags { tags } => lb.tags.extend(tags.clone()),
        AlbCall::RemoveTags { keys } => lb.tags.retain(|k, _| !keys.contains(k)),
        AlbCall::DeleteListener { port, arn } => {
            if lb.listeners.get(port).is_none_or(|l| l.arn != *arn) {
                return Err(not_found(op, arn, "ListenerNotFound"));
            }
            lb.listeners.remove(port);
        }
        AlbCall::CreateListener { port } => {
            let want = listener(spec, *port).ok_or_else(unplanned)?;
            if lb.listeners.contains_key(port) {
                return Err(rejected(
                    op,
                    lb_arn,
                    "DuplicateListener",
                    "A listener already exists on this port for this load balancer",
                ));
            }
            let arn = listener_arn(lb_arn, id);
            lb.listeners.insert(
                *port,
                SimListener {
                    arn: arn.clone(),
                    spec: aws_listener(&ListenerSpec {
                        attributes: Default::default(),
                        additional_certificate_arns: Vec::new(),
                        rules: Vec::new(),
                        ..want.clone()
                    }),
                    rule_arns: Default::default(),
                },
            );
            return Ok(Some(arn));
        }
        AlbCall::ModifyListener {
            port, mutual_off, ..
        } => {
            let want = listener(spec, *port).ok_or_else(unplanned)?;
            let l = listener_mut(lb, target, op, *port)?;
            let have = l.spec.clone();
            let mut set = aws_listener(&ListenerSpec {
                attributes: have.attributes.clone(),
                additional_certificate_arns: have.additional_certificate_arns.clone(),
                rules: have.rules.clone(),
                ..want.clone()
            });
            // An absent MutualAuthentication leaves it as it is.
            if set.mutual_authentication.is_none() && !mutual_off {
                set.mutual_authentication = have.mutual_authentication;
            }
            l.spec = set;
        }
        AlbCall::ModifyListenerAttributes { port, changes } => {
            let l = listener_mut(lb, target, op, *port)?;
            let mut all = l.spec.attributes.clone();
            all.extend(changes.clone());
            l.spec.attributes = non_default_listener_attributes(&all);
        }
        AlbCall::AddListenerCertificates { port, certificates } => {
            let l = listener_mut(lb, target, op, *port)?;
            for c in certificates {
                if !l.spec.additional_certificate_arns.contains(c) {
                    l.spec.additional_certificate_arns.push(c.clone());
                }
            }
            l.spec.additional_certificate_arns.sort();
        }
        AlbCall::RemoveListenerCertificates { port, certificates } => {
            let l = listener_mut(lb, target, op, *port)?;
            l.spec
                .additional_certificate_arns
                .retain(|c| !certificates.contains(c));
        }
        AlbCall::DeleteRule {
            port,
            priority,
            arn,
        } => {
            let l = listener_mut(lb, target, op, *port)?;
            if l.rule_arns.get(priority) != Some(arn) {
                return Err(not_found(op, arn, "RuleNotFound"));
            }
            l.rule_arns.remove(priority);
            l.spec.rules.retain(|r| r.priority != *priority);
        }
        AlbCall::ModifyRule {
            port,
            priority,
            arn,
        } => {
            let want = rule(spec, *port, *priority).ok_or_else(unplanned)?;
            let l = listener_mut(lb, target, op, *port)?;
            if l.rule_arns.get(priority) != Some(arn) {
                return Err(not_found(op, arn, "RuleNotFound"));
            }
            set_rule(&mut l.spec, want);
        }
        AlbCall::CreateRule { port, priority } => {
            let want = rule(spec, *port, *priority).ok_or_else(unplanned)?;
            let l = listener_mut(lb, target, op, *port)?;
            if l.rule_arns.contains_key(priority) {
                return Err(rejected(
                    op,
                    &l.arn,
                    "PriorityInUse",
                    "The specified priority is in use",
                ));
            }
            let arn = rule_arn(&l.arn, id);
            l.rule_arns.insert(*priority, arn);
            set_rule(&mut l.spec, want);
        }
        AlbCall::AssociateWebAcl { web_acl_arn } => lb.web_acl_arn = Some(web_acl_arn.clone()),
        AlbCall::DisassociateWebAcl => lb.web_acl_arn = None,
    }
    Ok(None)
}

/// The listener on `port`, as the caller knows it by ARN.
fn listener_mut<'l>(
    lb: &'l mut SimLb,
    target: &AlbTarget,
    op: &'static str,
    port: u16,
) -> CloudResult<&'l mut SimListener> {
    let arn = target.listener(port);
    lb.listeners
        .get_mut(&port)
        .filter(|l| l.arn == arn)
        .ok_or_else(|| not_found(op, arn, "ListenerNotFound"))
}

/// Stores `rule` as AWS does (a redirect's missing parts as placeholders), by priority.
fn set_rule(l: &mut ListenerSpec, rule: &RuleSpec) {
    let stored = aws_listener(&ListenerSpec {
        rules: vec![rule.clone()],
        ..l.clone()
    })
    .rules
    .remove(0);
    l.rules.retain(|r| r.priority != rule.priority);
    l.rules.push(stored);
    l.rules.sort_by_key(|r| r.priority);
}

/// A rich load balancer for the fence trials: two listeners, rules, an additional certificate,
/// listener and load-balancer attributes, tags and a web ACL; `version` 1 changes most of it.
fn trial_spec(version: u32) -> LoadBalancerSpec {
    use crate::scenario::{CERT, CERT_API, TG_API, TG_WEB, WEB_ACL};
    let v = serde_json::json!({"kafka_clusters": [], "load_balancers": [{
        "name": "ot-dev-alb",
        "subnets": ["subnet-0a", "subnet-0b"],
        "security_groups": ["sg-0alb"],
        "attributes": {"idle_timeout.timeout_seconds": if version == 0 {"120"} else {"300"}},
        "tags": {"Project": "order-tracking", "Version": version.to_string()},
        "web_acl_arn": (version == 0).then_some(WEB_ACL),
        "listeners": [
            {"port": 80, "protocol": "HTTP", "default_actions": [
                {"type": "redirect", "redirect": {"protocol": "HTTPS", "port": "443", "status_code": "HTTP_301"}}]},
            {"port": 443, "protocol": "HTTPS", "certificate_arn": CERT,
             "additional_certificate_arns": if version == 0 {vec![CERT_API]} else {vec![]},
             "attributes": {"routing.http.response.server.enabled": if version == 0 {"false"} else {"true"}},
             "default_actions": [{"type": "forward", "target_group_arn": TG_WEB}],
             "rules": [
                {"priority": 10, "conditions": [{"field": "path-pattern", "values": [if version == 0 {"/api/*"} else {"/v2/*"}]}],
                 "actions": [{"type": "forward", "target_group_arn": TG_API}]},
                {"priority": 20 + version, "conditions": [{"field": "http-header", "http_header_name": "X-Canary", "values": ["1"]}],
                 "actions": [{"type": "fixed-response", "fixed_response": {"status_code": "503", "content_type": "text/plain"}}]}
             ]}
        ]
    }]});
    costctl_core::spec::EphemeralSpec::from_value(&v)
        .expect("the trial's spec is valid")
        .load_balancers
        .remove(0)
}

/// One fence trial of the production ALB apply loop: from nothing (even seeds) or from the
/// first version of a rich spec (odd seeds), `apply_alb` to a spec under a lease end drawn at
/// random, with answers that often come minutes late. Checks the `Cloud` contract the engine
/// relies on: no changing call is sent once the clock reaches `not_after`; and that a second
/// apply with time to spare completes what the first left (the load balancer then matches its
/// spec). The engine's own step deadline (lease end less one attempt timeout) would hide a
/// missing fence from whole scenarios, so the contract is tried on its own here.
/// Answers the number of changing calls sent, and whether the fence cut the first apply short.
pub fn fence_trial(seed: u64) -> Result<(usize, bool), String> {
    use crate::clock::{Executor, SimClock, Step};
    use crate::cloud::{Caller, Shared};
    use crate::rng::Rng;
    use crate::world::Faults;
    use costctl_engine::alb_apply::apply_alb;
    use std::sync::{Arc, Mutex};

    const START: i64 = 1_767_225_600_000;
    let mut rng = Rng::new(seed);
    let clock = SimClock::new(START);
    let mut world = World::new(rng.fork(), START);
    crate::scenario::ephemeral_world(&mut world);
    let shared = Shared(Arc::new(Mutex::new(world)));
    let cloud = |inv: usize| {
        SimCloud(Caller {
            world: shared.clone(),
            clock: clock.clone(),
            inv,
            owner: format!("trial{inv}"),
            stack: "fence-trial".into(),
            terraform: false,
        })
    };
    let run = |inv: usize, spec: LoadBalancerSpec, not_after: i64| {
        let c = cloud(inv);
        let mut exec: Executor<CloudResult<()>> = Executor::new(clock.clone(), Rng::new(seed));
        exec.spawn_at(
            clock.now(),
            inv,
            Box::pin(async move { apply_alb(&c, &spec, not_after).await }),
        );
        loop {
            match exec.step() {
                Step::Polled {
                    output: Some(out), ..
                } => return out,
                Step::Idle => return Err(CloudError::refused("trial", "never finished")),
                Step::Advanced { to } => shared.lock().advance(to),
                Step::Polled { .. } => {}
            }
        }
    };
    let fresh = seed.is_multiple_of(2);
    if !fresh {
        run(1, trial_spec(0), i64::MAX).map_err(|e| format!("setting up: {e}"))?;
    }
    let want = trial_spec(u32::from(!fresh));
    shared.lock().faults = Faults {
        stall: 0,
        alb_stall: 300,
        ..Faults::default()
    };
    let from = shared.lock().sent.len();
    let not_after = clock.now() + rng.range(1_000, 600_000);
    let first = run(2, want.clone(), not_after);
    let late: Vec<String> = shared.lock().sent[from..]
        .iter()
        .filter(|(at, _)| *at >= not_after)
        .map(|(at, op)| format!("{op} sent {}s after the fence", (at - not_after) / 1000))
        .collect();
    if !late.is_empty() {
        return Err(format!("seed {seed}: {}", late.join("; ")));
    }
    if let Err(e) = &first
        && !e.is_transient()
    {
        return Err(format!("seed {seed}: the fenced apply failed: {e}"));
    }
    shared.lock().faults = Faults::default();
    run(3, want.clone(), i64::MAX).map_err(|e| format!("seed {seed}: the second apply: {e}"))?;
    let w = shared.lock();
    let lb = w
        .eph
        .lb_by_name(&want.name)
        .ok_or_else(|| format!("seed {seed}: no load balancer"))?;
    let diff = costctl_core::ephemeral::lb_differences(&lb.obs().spec, &want);
    if !diff.is_empty() || lb.web_acl_arn != want.web_acl_arn {
        return Err(format!(
            "seed {seed}: after the second apply the load balancer differs: {diff:?}, web ACL {:?}",
            lb.web_acl_arn
        ));
    }
    Ok((w.sent.len() - from, first.is_err()))
}

impl SimCloud {
    pub(crate) fn enabled(&self) -> bool {
        self.0.world.lock().eph.enabled
    }

    /// The adapter's check before a load balancer is created or updated: certificates, then
    /// target groups.
    pub(crate) async fn check_lb_dependencies(&self, spec: &LoadBalancerSpec) -> CloudResult<()> {
        let resource = format!("alb:{}", spec.name);
        self.call("acm:DescribeCertificate", &resource, None, |w| {
            for l in &spec.listeners {
                for c in l.certificate_arn.iter().chain(&l.additional_certificate_arns) {
                    if !w.eph.certificates.contains(c) {
                        return Err(CloudError::refused(
                            &resource,
                            format!("cannot create or update: certificate {c} of listener {} does not exist (nothing was created)", l.port),
                        ));
                    }
                }
            }
            Ok(())
        })
        .await?;
        self.call("elasticloadbalancing:DescribeTargetGroups", &resource, None, |w| {
            if let Some(tg) = crate::ephemeral::target_groups(spec).find(|tg| !w.eph.target_groups.contains(*tg)) {
                return Err(CloudError::refused(
                    &resource,
                    format!("cannot create or update: target group {tg} does not exist (nothing was created)"),
                ));
            }
            Ok(())
        })
        .await?;
        Ok(())
    }
}
