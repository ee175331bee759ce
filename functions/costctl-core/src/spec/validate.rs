//! Parsing and validating a spec: every rule of [`SpecProblem`], each reported with the path of
//! the field it concerns, all at once.

use super::*;

impl EphemeralSpec {
    /// No load balancer, cluster, NAT gateway or endpoint.
    pub fn is_empty(&self) -> bool {
        self.load_balancers.is_empty()
            && self.kafka_clusters.is_empty()
            && self.nat_gateways.is_empty()
            && self.vpc_endpoints.is_empty()
    }

    /// The resources of `self` whose names (subnets, service names) `other` does not have: what
    /// an update from `self` to `other` must delete, or nothing would ever delete them again.
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
            nat_gateways: self
                .nat_gateways
                .iter()
                .filter(|p| {
                    !other
                        .nat_gateways
                        .iter()
                        .any(|n| n.subnet_id == p.subnet_id)
                })
                .cloned()
                .collect(),
            vpc_endpoints: self
                .vpc_endpoints
                .iter()
                .filter(|p| {
                    !other
                        .vpc_endpoints
                        .iter()
                        .any(|n| n.service_name == p.service_name)
                })
                .cloned()
                .collect(),
        }
    }

    /// The NAT gateways and endpoints whose tags lack one of `stack_tags` (a tag selector's):
    /// costctl would create them and then not find them again. Checked by apply-spec, which
    /// knows the stack's selector.
    pub fn check_stack_tags(&self, stack_tags: &BTreeMap<String, String>) -> Result<(), SpecError> {
        let missing = |tags: &BTreeMap<String, String>| {
            stack_tags.iter().any(|(k, v)| tags.get(k) != Some(v))
        };
        let wanted = stack_tags
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(", ");
        let mut v = Vec::new();
        for (i, n) in self.nat_gateways.iter().enumerate() {
            if missing(&n.tags) {
                v.push(SpecViolation {
                    path: format!("nat_gateways[{i}].tags"),
                    problem: SpecProblem::MissingStackTags(wanted.clone()),
                });
            }
        }
        for (i, e) in self.vpc_endpoints.iter().enumerate() {
            if missing(&e.tags) {
                v.push(SpecViolation {
                    path: format!("vpc_endpoints[{i}].tags"),
                    problem: SpecProblem::MissingStackTags(wanted.clone()),
                });
            }
        }
        if v.is_empty() {
            Ok(())
        } else {
            Err(SpecError::Invalid(v))
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

        super::network::check_network(&self.nat_gateways, &self.vpc_endpoints, &mut push);

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

pub(super) fn check_ids(ids: &[String], p: &str, push: &mut impl FnMut(String, SpecProblem)) {
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

pub(super) fn check_tags(
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
