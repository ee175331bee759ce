//! Property tests: no decoder panics on any input, and specs survive serialise → parse.
//!
//! Inputs are both fully arbitrary and *near-valid*: real fixtures with one sub-value replaced by
//! arbitrary JSON, and budget letters with lines dropped, duplicated or garbled — these reach deep
//! into the decoders where purely random input never gets.

use costctl_core::budget::{BudgetAlert, BudgetPeriod, evaluate, lockout_until};
use costctl_core::config::{BudgetConfig, BudgetRule, Config};
use costctl_core::event::Request;
use costctl_core::spec::*;
use costctl_core::{DesiredState, budget::AlertType};
use proptest::prelude::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        ".{0,12}".prop_map(Value::String),
        prop::sample::select(vec![
            "pause",
            "resume",
            "apply-spec",
            "delete-spec",
            "aws:sns",
            "aws.rds",
            "RDS-EVENT-0154",
            "order-tracking-dev",
            "create",
            "update",
            "delete",
            "HTTPS",
            "forward",
        ])
        .prop_map(|s| Value::String(s.into())),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(
                prop::sample::select(vec![
                    "action",
                    "stack",
                    "level",
                    "force",
                    "trigger",
                    "spec",
                    "tf",
                    "Records",
                    "Sns",
                    "Message",
                    "source",
                    "detail-type",
                    "detail",
                    "EventID",
                    "x",
                ])
                .prop_map(String::from),
                inner,
                0..6
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn fixtures() -> &'static [Value] {
    static ALL: std::sync::OnceLock<Vec<Value>> = std::sync::OnceLock::new();
    ALL.get_or_init(load_fixtures)
}

fn load_fixtures() -> Vec<Value> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            let text = std::fs::read_to_string(&path).unwrap();
            out.push(serde_json::from_str(&text).unwrap());
        }
    }
    out.sort_by_key(|v: &Value| v.to_string());
    out
}

/// Replaces the `n`-th node (pre-order, modulo the node count) of `v` with `with`.
fn replace_nth(v: &mut Value, n: usize, with: Value) {
    fn count(v: &Value) -> usize {
        1 + match v {
            Value::Array(a) => a.iter().map(count).sum(),
            Value::Object(o) => o.values().map(count).sum(),
            _ => 0,
        }
    }
    fn go(v: &mut Value, n: &mut usize, with: &mut Option<Value>) {
        if *n == 0 {
            if let Some(w) = with.take() {
                *v = w;
            }
            return;
        }
        *n -= 1;
        match v {
            Value::Array(a) => a.iter_mut().for_each(|c| go(c, n, with)),
            Value::Object(o) => o.values_mut().for_each(|c| go(c, n, with)),
            _ => {}
        }
    }
    let mut n = n % count(v);
    go(v, &mut n, &mut Some(with));
}

const LETTER: &str = "AWS Budget Notification November 27, 2026\nAWS Account 123456789012\n\nDear AWS Customer,\n\nYou requested that we alert you when the ACTUAL Cost associated with your order-tracking-dev-monthly budget is greater than $80.00 for the current month. The ACTUAL Cost associated with this budget is $85.21.\n\nBudget Name: order-tracking-dev-monthly\nBudget Type: Cost\nBudgeted Amount: $100.00\nAlert Type: ACTUAL\nAlert Threshold: > $80.00\nACTUAL Amount: $85.21\n";

fn budget() -> BudgetConfig {
    BudgetConfig {
        name: "order-tracking-dev-monthly".into(),
        rules: vec![
            BudgetRule {
                alert_type: AlertType::Forecasted,
                threshold_percent: 100.0,
                level: DesiredState::Paused,
                lockout: false,
            },
            BudgetRule {
                alert_type: AlertType::Actual,
                threshold_percent: 100.0,
                level: DesiredState::Hibernated,
                lockout: true,
            },
        ],
    }
}

fn name() -> impl Strategy<Value = String> {
    prop_oneof!["[a-z][a-z0-9-]{0,10}[a-z0-9]", ".{0,6}"]
}

fn id_list() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec("(subnet|sg)-0[a-f0-9]{3}", 0..4)
}

fn tags() -> impl Strategy<Value = BTreeMap<String, String>> {
    prop::collection::btree_map("[A-Za-z]{1,8}", "[a-z0-9-]{0,8}", 0..3)
}

fn opt_string() -> impl Strategy<Value = Option<String>> {
    prop::option::of("[/a-zA-Z0-9_.-]{0,12}")
}

fn action() -> impl Strategy<Value = ActionSpec> {
    let order = prop::option::of(0u32..60_000);
    prop_oneof![
        (prop::option::of("arn:aws:[a-z:/0-9-]{0,20}"), order.clone()).prop_map(
            |(target_group_arn, order)| ActionSpec::Forward {
                forward_config: None,
                target_group_arn,
                order
            }
        ),
        (opt_string(), opt_string(), prop::bool::ANY, order.clone()).prop_map(
            |(protocol, port, permanent, order)| ActionSpec::Redirect {
                redirect: RedirectSpec {
                    protocol,
                    port,
                    host: None,
                    path: Some("/#{path}".into()),
                    query: None,
                    status_code: if permanent {
                        RedirectStatus::Http301
                    } else {
                        RedirectStatus::Http302
                    },
                },
                order
            }
        ),
        ("[0-9]{3}", opt_string(), opt_string(), order).prop_map(
            |(status_code, content_type, message_body, order)| ActionSpec::FixedResponse {
                fixed_response: FixedResponseSpec {
                    status_code,
                    content_type,
                    message_body
                },
                order
            }
        ),
    ]
}

fn condition() -> impl Strategy<Value = ConditionSpec> {
    let values = prop::collection::vec("[a-z/*.]{0,6}", 0..3);
    prop_oneof![
        values
            .clone()
            .prop_map(|values| ConditionSpec::PathPattern { values }),
        values
            .clone()
            .prop_map(|values| ConditionSpec::HostHeader { values }),
        values
            .clone()
            .prop_map(|values| ConditionSpec::HttpRequestMethod { values }),
        values
            .clone()
            .prop_map(|values| ConditionSpec::SourceIp { values }),
        ("[A-Za-z-]{0,8}", values).prop_map(|(http_header_name, values)| {
            ConditionSpec::HttpHeader {
                http_header_name,
                values,
            }
        }),
        prop::collection::vec((prop::option::of("[a-z]{1,4}"), "[a-z0-9]{0,4}"), 0..3).prop_map(
            |pairs| ConditionSpec::QueryString {
                query_string: pairs
                    .into_iter()
                    .map(|(key, value)| QueryStringPair { key, value })
                    .collect()
            }
        ),
    ]
}

fn listener() -> impl Strategy<Value = ListenerSpec> {
    let rule = (
        0u32..60_000,
        prop::collection::vec(condition(), 0..3),
        prop::collection::vec(action(), 0..2),
    )
        .prop_map(|(priority, conditions, actions)| RuleSpec {
            priority,
            conditions,
            actions,
        });
    (
        any::<u16>(),
        prop::bool::ANY,
        opt_string(),
        prop::option::of("arn:aws:acm:[a-z0-9:/-]{0,12}"),
        prop::collection::vec(action(), 0..2),
        prop::collection::vec(rule, 0..3),
    )
        .prop_map(
            |(port, https, ssl_policy, certificate_arn, default_actions, rules)| ListenerSpec {
                attributes: Default::default(),
                mutual_authentication: None,
                port,
                protocol: if https {
                    ListenerProtocol::Https
                } else {
                    ListenerProtocol::Http
                },
                ssl_policy,
                certificate_arn,
                additional_certificate_arns: vec![],
                default_actions,
                rules,
            },
        )
}

fn arb_spec() -> impl Strategy<Value = EphemeralSpec> {
    let lb = (
        name(),
        prop::bool::ANY,
        prop::sample::select(vec![
            IpAddressType::Ipv4,
            IpAddressType::Dualstack,
            IpAddressType::DualstackWithoutPublicIpv4,
        ]),
        id_list(),
        id_list(),
        tags(),
        opt_string(),
        prop::collection::vec(
            ("Z[A-Z0-9]{4}", "[a-z]{1,5}\\.example\\.com")
                .prop_map(|(zone_id, name)| AliasSpec { zone_id, name }),
            0..2,
        ),
        prop::collection::vec(listener(), 0..3),
    )
        .prop_map(
            |(name, internal, ip, subnets, sgs, tags, param, aliases, listeners)| {
                LoadBalancerSpec {
                    web_acl_arn: None,
                    name,
                    scheme: if internal {
                        Scheme::Internal
                    } else {
                        Scheme::InternetFacing
                    },
                    lb_type: LoadBalancerType::Application,
                    ip_address_type: ip,
                    subnets,
                    security_groups: sgs,
                    attributes: tags.clone(),
                    tags,
                    dns_name_parameter: param,
                    aliases,
                    listeners,
                }
            },
        );
    let msk = (
        name(),
        prop::collection::vec(
            (id_list(), id_list()).prop_map(|(subnet_ids, security_group_ids)| VpcConfigSpec {
                subnet_ids,
                security_group_ids,
            }),
            0..2,
        ),
        prop::bool::ANY,
        tags(),
        opt_string(),
    )
        .prop_map(|(name, vpc_configs, sasl_iam, tags, bootstrap_parameter)| {
            KafkaClusterSpec {
                name,
                vpc_configs,
                client_authentication: ClientAuthenticationSpec { sasl_iam },
                tags,
                bootstrap_parameter,
            }
        });
    (
        prop::collection::vec(lb, 0..3),
        prop::collection::vec(msk, 0..3),
    )
        .prop_map(|(load_balancers, kafka_clusters)| EphemeralSpec {
            load_balancers,
            kafka_clusters,
            ..EphemeralSpec::default()
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn request_decoder_never_panics_on_arbitrary_json(v in arb_json()) {
        let _ = Request::from_value(&v);
    }

    #[test]
    fn request_decoder_never_panics_on_mutated_fixtures(
        i in any::<prop::sample::Index>(),
        n in any::<usize>(),
        with in arb_json(),
    ) {
        let all = fixtures();
        let mut v = all[i.index(all.len())].clone();
        replace_nth(&mut v, n, with);
        if let Ok(r) = Request::from_value(&v) {
            let _ = (r.request_kind(), r.increases_cost(), serde_json::to_string(&r));
        }
    }

    #[test]
    fn budget_parser_never_panics(subject in prop::option::of(".{0,80}"), message in "(?s).{0,400}") {
        if let Ok(a) = BudgetAlert::parse(subject.as_deref(), &message) {
            let _ = evaluate(&a, &budget());
        }
    }

    #[test]
    fn budget_parser_never_panics_on_garbled_letters(
        keep in prop::collection::vec(any::<bool>(), 16),
        garble in prop::collection::vec((any::<prop::sample::Index>(), "[ $,.%0-9>a-zA-Z:\r\t-]{0,12}"), 0..4),
    ) {
        let mut lines: Vec<String> = LETTER
            .lines()
            .zip(keep.iter().cycle())
            .filter(|(_, k)| **k)
            .map(|(l, _)| l.to_string())
            .collect();
        for (idx, text) in garble {
            if lines.is_empty() { break; }
            let i = idx.index(lines.len());
            let line = &mut lines[i];
            let cut = line.char_indices().map(|(p, _)| p).nth(line.chars().count() / 2).unwrap_or(0);
            line.truncate(cut);
            line.push_str(&text);
        }
        let message = lines.join("\r\n");
        if let Ok(a) = BudgetAlert::parse(None, &message) {
            let d = evaluate(&a, &budget());
            if let Some(d) = d {
                prop_assert!(d.level != DesiredState::Running);
            }
        }
    }

    #[test]
    fn config_loader_never_panics(s in "(?s).{0,200}", v in arb_json()) {
        let _ = Config::from_json(&s);
        let _ = Config::from_json(&v.to_string());
        let wrapped = serde_json::json!({"stacks": {"s": v}});
        let _ = Config::from_json(&wrapped.to_string());
    }

    #[test]
    fn spec_parser_never_panics(s in "(?s).{0,200}", v in arb_json()) {
        let _ = EphemeralSpec::from_json(&s);
        let _ = EphemeralSpec::from_json(&v.to_string());
    }

    #[test]
    fn lockout_is_after_now_and_never_panics(
        secs in -377_705_116_800i64..253_402_300_800i64,
        offset_secs in -86_399i32..86_400,
    ) {
        let offset = time::UtcOffset::from_whole_seconds(offset_secs).unwrap();
        if let Ok(now) = time::OffsetDateTime::from_unix_timestamp(secs) {
            let now = now.checked_to_offset(offset).unwrap_or(now);
            for period in [BudgetPeriod::Daily, BudgetPeriod::Monthly, BudgetPeriod::Quarterly, BudgetPeriod::Annually] {
                let until = period.next_start(now);
                prop_assert!(until >= now || until == time::PrimitiveDateTime::MAX.assume_utc());
            }
            let _ = lockout_until(now);
        }
    }

    #[test]
    fn spec_round_trips(spec in arb_spec()) {
        let json = serde_json::to_string(&spec).unwrap();
        let value: Value = serde_json::from_str(&json).unwrap();
        prop_assert_eq!(&EphemeralSpec::from_value_unvalidated(&value).unwrap(), &spec);
        match spec.validate() {
            Ok(()) => prop_assert_eq!(&EphemeralSpec::from_json(&json).unwrap(), &spec),
            Err(e) => prop_assert_eq!(EphemeralSpec::from_json(&json).unwrap_err(), e),
        }
    }
}
