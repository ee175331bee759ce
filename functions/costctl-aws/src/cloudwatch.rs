//! CloudWatch metric alarms on the stack's load balancers: found by their `LoadBalancer`
//! dimension, muted while the stack is paused, re-pointed at a recreated load balancer.
//!
//! DescribeAlarms has no dimension filter, so the account's metric alarms are listed (paged)
//! and kept when a dimension names `app/NAME/…` of one of the stack's load balancer names,
//! whatever the ID. PutMetricAlarm replaces an alarm's whole configuration, so the definition
//! carries every field DescribeAlarms returns; what it cannot carry (a metric-math query or an
//! anomaly band naming the load balancer, the newer evaluation settings) is reported as
//! unsupported and keeps the load balancer (lossless or kept).

use crate::aws::AwsCloud;
use crate::error::{CloudError, CloudResult, FromSdk};
use aws_sdk_cloudwatch::types::{
    AlarmType, ComparisonOperator, Dimension, MetricAlarm, StandardUnit, Statistic,
};
use costctl_core::observation::{AlarmDefinition, AlarmObs, lb_dimension_name};
use costctl_engine::cloud::ListedAlarm;
use futures::{StreamExt, TryStreamExt};
use std::collections::BTreeMap;

/// Every load balancer name a dimension list names (`LoadBalancer` = `app/NAME/ID`), in order,
/// with the value naming it.
fn named(dims: &[Dimension]) -> impl Iterator<Item = (String, String)> + '_ {
    dims.iter().filter_map(|d| {
        let value = d.value()?;
        let name = lb_dimension_name(value)?;
        (d.name() == Some("LoadBalancer")).then(|| (name.to_string(), value.to_string()))
    })
}

/// The alarm as costctl records it, if it watches any application load balancer: the load
/// balancers it names (its own dimensions first, then its metric-math queries'), and the
/// alarm with the load balancer left for the caller to choose among them.
fn listed(a: &MetricAlarm) -> Option<ListedAlarm> {
    let name = a.alarm_name()?.to_string();
    let arn = a.alarm_arn()?.to_string();
    let mut unsupported = Vec::new();
    let mut load_balancers: Vec<(String, String)> = named(a.dimensions()).collect();
    // A metric-math alarm names the load balancer inside its queries.
    load_balancers.extend(
        a.metrics()
            .iter()
            .filter_map(|q| q.metric_stat()?.metric())
            .flat_map(|m| named(m.dimensions())),
    );
    if load_balancers.is_empty() {
        return None;
    }
    if !a.metrics().is_empty() {
        unsupported.push("a metric-math (Metrics) alarm".to_string());
    }
    for (set, field) in [
        (a.threshold_metric_id().is_some(), "ThresholdMetricId"),
        (a.evaluation_window().is_some(), "EvaluationWindow"),
        (a.warm_up_configuration().is_some(), "WarmUpConfiguration"),
        (a.evaluation_criteria().is_some(), "EvaluationCriteria"),
        (a.evaluation_interval().is_some(), "EvaluationInterval"),
        (a.action_configuration().is_some(), "ActionConfiguration"),
    ] {
        if set {
            unsupported.push(format!("{field} is set"));
        }
    }
    let strings = |v: &[String]| v.to_vec();
    let alarm = AlarmObs {
        name,
        load_balancer: String::new(),
        dimension: String::new(),
        actions_enabled: a.actions_enabled().unwrap_or(true),
        tags: Default::default(),
        of_stack: true,
        unsupported,
        definition: AlarmDefinition {
            description: a.alarm_description().map(str::to_string),
            ok_actions: strings(a.ok_actions()),
            alarm_actions: strings(a.alarm_actions()),
            insufficient_data_actions: strings(a.insufficient_data_actions()),
            metric_name: a.metric_name().map(str::to_string),
            namespace: a.namespace().map(str::to_string),
            statistic: a.statistic().map(|s| s.as_str().to_string()),
            extended_statistic: a.extended_statistic().map(str::to_string),
            dimensions: a
                .dimensions()
                .iter()
                .filter_map(|d| Some((d.name()?.to_string(), d.value()?.to_string())))
                .collect(),
            period: a.period(),
            unit: a.unit().map(|u| u.as_str().to_string()),
            evaluation_periods: a.evaluation_periods(),
            datapoints_to_alarm: a.datapoints_to_alarm(),
            threshold: a.threshold().map(|t| t.to_string()),
            comparison_operator: a.comparison_operator().map(|c| c.as_str().to_string()),
            treat_missing_data: a.treat_missing_data().map(str::to_string),
            evaluate_low_sample_count_percentile: a
                .evaluate_low_sample_count_percentile()
                .map(str::to_string),
        },
    };
    Some(ListedAlarm {
        arn,
        load_balancers,
        alarm,
    })
}

impl AwsCloud {
    /// The account's metric alarms on application load balancers (DescribeAlarms, paged:
    /// it has no dimension filter), without their tags.
    pub(crate) async fn cw_list(&self) -> CloudResult<Vec<ListedAlarm>> {
        let pages: Vec<_> = self
            .cloudwatch
            .describe_alarms()
            .alarm_types(AlarmType::MetricAlarm)
            .into_paginator()
            .send()
            .try_collect()
            .await
            .map_err(|e| CloudError::from_sdk("cloudwatch:DescribeAlarms", "*", e))?;
        Ok(pages
            .iter()
            .flat_map(|p| p.metric_alarms())
            .filter_map(listed)
            .collect())
    }

    /// The tags of these alarms, by ARN (DescribeAlarms does not return them).
    pub(crate) async fn cw_tags(
        &self,
        arns: &[String],
    ) -> CloudResult<BTreeMap<String, BTreeMap<String, String>>> {
        // Owned ARNs: a stream over borrowed ones would not be `Send` for every lifetime,
        // which the `async_trait` method that awaits this needs.
        futures::stream::iter(arns.to_vec())
            .map(|arn| async move {
                let out = self
                    .cloudwatch
                    .list_tags_for_resource()
                    .resource_arn(&arn)
                    .send()
                    .await
                    .map_err(|e| CloudError::from_sdk("cloudwatch:ListTagsForResource", &arn, e))?;
                let tags = out
                    .tags()
                    .iter()
                    .filter_map(|t| {
                        Some((t.key()?.to_string(), t.value().unwrap_or("").to_string()))
                    })
                    .collect();
                Ok::<_, CloudError>((arn, tags))
            })
            .buffered(self.concurrency)
            .try_collect()
            .await
    }

    pub(crate) async fn cw_set_actions(&self, names: &[String], enabled: bool) -> CloudResult<()> {
        let resource = format!("cloudwatch:{}", names.join(","));
        // At most 100 names per call (the API's limit).
        for chunk in names.chunks(100) {
            if enabled {
                self.cloudwatch
                    .enable_alarm_actions()
                    .set_alarm_names(Some(chunk.to_vec()))
                    .send()
                    .await
                    .map_err(|e| {
                        CloudError::from_sdk("cloudwatch:EnableAlarmActions", &resource, e)
                    })?;
            } else {
                self.cloudwatch
                    .disable_alarm_actions()
                    .set_alarm_names(Some(chunk.to_vec()))
                    .send()
                    .await
                    .map_err(|e| {
                        CloudError::from_sdk("cloudwatch:DisableAlarmActions", &resource, e)
                    })?;
            }
        }
        Ok(())
    }

    pub(crate) async fn cw_put(
        &self,
        name: &str,
        d: &AlarmDefinition,
        actions_enabled: bool,
    ) -> CloudResult<()> {
        let threshold = match d.threshold.as_deref().map(str::parse::<f64>) {
            Some(Ok(t)) => Some(t),
            Some(Err(_)) => {
                return Err(CloudError::refused(
                    format!("cloudwatch:{name}"),
                    format!("recorded threshold {:?} is not a number", d.threshold),
                ));
            }
            None => None,
        };
        self.cloudwatch
            .put_metric_alarm()
            .alarm_name(name)
            .set_alarm_description(d.description.clone())
            .actions_enabled(actions_enabled)
            .set_ok_actions(Some(d.ok_actions.clone()))
            .set_alarm_actions(Some(d.alarm_actions.clone()))
            .set_insufficient_data_actions(Some(d.insufficient_data_actions.clone()))
            .set_metric_name(d.metric_name.clone())
            .set_namespace(d.namespace.clone())
            .set_statistic(d.statistic.as_deref().map(Statistic::from))
            .set_extended_statistic(d.extended_statistic.clone())
            .set_dimensions(Some(
                d.dimensions
                    .iter()
                    .map(|(k, v)| Dimension::builder().name(k).value(v).build())
                    .collect(),
            ))
            .set_period(d.period)
            .set_unit(d.unit.as_deref().map(StandardUnit::from))
            .set_evaluation_periods(d.evaluation_periods)
            .set_datapoints_to_alarm(d.datapoints_to_alarm)
            .set_threshold(threshold)
            .set_comparison_operator(
                d.comparison_operator
                    .as_deref()
                    .map(ComparisonOperator::from),
            )
            .set_treat_missing_data(d.treat_missing_data.clone())
            .set_evaluate_low_sample_count_percentile(
                d.evaluate_low_sample_count_percentile.clone(),
            )
            .send()
            .await
            .map_err(|e| {
                CloudError::from_sdk("cloudwatch:PutMetricAlarm", format!("cloudwatch:{name}"), e)
            })?;
        Ok(())
    }
}
