//! The checks apply-spec makes before it records or creates anything: every subnet, security
//! group, certificate and target group a spec names exists. AWS would refuse a missing one only
//! at the create call, after the other resources of the spec had been created (an MSK cluster
//! next to an ALB that cannot exist), and with an error that does not say which spec field.

use crate::aws::AwsCloud;
use crate::error::{CloudError, CloudResult, FromSdk};
use aws_sdk_ec2::types::Filter;
use costctl_core::spec::EphemeralSpec;
use std::collections::BTreeSet;

impl AwsCloud {
    pub(crate) async fn check_dependencies(&self, spec: &EphemeralSpec) -> CloudResult<()> {
        // (resource, subnets, security groups) of every load balancer and cluster.
        let mut users: Vec<(String, Vec<String>, Vec<String>)> = Vec::new();
        for lb in &spec.load_balancers {
            users.push((
                format!("alb:{}", lb.name),
                lb.subnets.clone(),
                lb.security_groups.clone(),
            ));
        }
        for c in &spec.kafka_clusters {
            for v in &c.vpc_configs {
                users.push((
                    format!("msk:{}", c.name),
                    v.subnet_ids.clone(),
                    v.security_group_ids.clone(),
                ));
            }
        }
        for n in &spec.nat_gateways {
            users.push((
                format!("nat:{}", n.subnet_id),
                vec![n.subnet_id.clone()],
                vec![],
            ));
        }
        for e in &spec.vpc_endpoints {
            users.push((
                format!("vpce:{}", e.service_name),
                e.subnet_ids.clone(),
                e.security_group_ids.clone(),
            ));
        }
        let subnets: BTreeSet<String> = users.iter().flat_map(|u| u.1.clone()).collect();
        let groups: BTreeSet<String> = users.iter().flat_map(|u| u.2.clone()).collect();
        let allocations: BTreeSet<String> = spec
            .nat_gateways
            .iter()
            .filter_map(|n| n.allocation_id.clone())
            .collect();
        let tables: BTreeSet<String> = spec
            .nat_gateways
            .iter()
            .flat_map(|n| n.routes.iter().map(|r| r.route_table_id.clone()))
            .collect();
        let (found_subnets, found_groups, found_allocations, found_tables) = futures::try_join!(
            self.existing_subnets(&subnets),
            self.existing_groups(&groups),
            self.existing_allocations(&allocations),
            self.existing_route_tables(&tables),
        )?;
        for n in &spec.nat_gateways {
            let resource = format!("nat:{}", n.subnet_id);
            if let Some(a) = n
                .allocation_id
                .as_ref()
                .filter(|a| !found_allocations.contains(*a))
            {
                return Err(CloudError::refused(
                    resource,
                    format!(
                        "cannot create: Elastic IP allocation {a} does not exist (nothing was created)"
                    ),
                ));
            }
            if let Some(r) = n
                .routes
                .iter()
                .find(|r| !found_tables.contains(&r.route_table_id))
            {
                return Err(CloudError::refused(
                    resource,
                    format!(
                        "cannot create: route table {} does not exist (nothing was created)",
                        r.route_table_id
                    ),
                ));
            }
        }
        for (resource, subnets, groups) in &users {
            let missing = |kind: &str, id: &String| {
                CloudError::refused(
                    resource,
                    format!("cannot create: {kind} {id} does not exist (nothing was created)"),
                )
            };
            if let Some(s) = subnets.iter().find(|s| !found_subnets.contains(*s)) {
                return Err(missing("subnet", s));
            }
            if let Some(g) = groups.iter().find(|g| !found_groups.contains(*g)) {
                return Err(missing("security group", g));
            }
        }
        for lb in &spec.load_balancers {
            self.elb_check_dependencies(lb).await?;
        }
        Ok(())
    }

    /// The subnets of `ids` that exist (a filter, so that a missing one is no error).
    async fn existing_subnets(&self, ids: &BTreeSet<String>) -> CloudResult<BTreeSet<String>> {
        if ids.is_empty() {
            return Ok(BTreeSet::new());
        }
        let filter = Filter::builder()
            .name("subnet-id")
            .set_values(Some(ids.iter().cloned().collect()))
            .build();
        let out = self
            .ec2
            .describe_subnets()
            .filters(filter)
            .send()
            .await
            .map_err(|e| CloudError::from_sdk("ec2:DescribeSubnets", "*", e))?;
        Ok(out
            .subnets()
            .iter()
            .filter_map(|s| s.subnet_id().map(str::to_string))
            .collect())
    }

    /// The security groups of `ids` that exist.
    async fn existing_groups(&self, ids: &BTreeSet<String>) -> CloudResult<BTreeSet<String>> {
        if ids.is_empty() {
            return Ok(BTreeSet::new());
        }
        let filter = Filter::builder()
            .name("group-id")
            .set_values(Some(ids.iter().cloned().collect()))
            .build();
        let out = self
            .ec2
            .describe_security_groups()
            .filters(filter)
            .send()
            .await
            .map_err(|e| CloudError::from_sdk("ec2:DescribeSecurityGroups", "*", e))?;
        Ok(out
            .security_groups()
            .iter()
            .filter_map(|g| g.group_id().map(str::to_string))
            .collect())
    }
}
