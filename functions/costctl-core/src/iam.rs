//! Which IAM action each AWS call of costctl needs, declared in one place.
//!
//! The Terraform module grants the Lambda roles exactly these actions; a test compares the two
//! both ways, so a new SDK call without a grant (or a grant nobody uses) fails CI instead of
//! failing at 2 a.m. in a real account. Calls that only the command line makes (creating the
//! state table) are listed too, but no Lambda role gets them.

use std::collections::BTreeSet;

/// Which deployment may make a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Both the full function and the reduce-only (budget) function: reads only, and (for the
    /// reduce-only function) `PutItem` into its own partition of the state table.
    Both,
    /// Only the full function: it changes resources (scaling, stopping, deleting, creating…).
    /// The reduce-only function changes none: it records lowering requests that the full
    /// function's tick carries out, so IAM — not its code — keeps it from raising cost.
    FullOnly,
    /// Only the `costctl` command line (an engineer's own credentials), never a Lambda role.
    CliOnly,
}

/// One AWS API call and the IAM action it is authorised by.
#[derive(Debug, Clone, Copy)]
pub struct Permission {
    /// The API operation as the SDK names it, e.g. `ecs:UpdateService`.
    pub call: &'static str,
    /// The IAM action that authorises it (usually the same string).
    pub action: &'static str,
    pub scope: Scope,
}

/// A permission the service checks on the caller besides the call's own action (MSK Serverless
/// creates and deletes VPC endpoints with the caller's rights).
const fn also(call: &'static str, action: &'static str, scope: Scope) -> Permission {
    Permission {
        call,
        action,
        scope,
    }
}

const fn p(call: &'static str, scope: Scope) -> Permission {
    Permission {
        call,
        action: call,
        scope,
    }
}

/// Every AWS call the engine makes.
pub const PERMISSIONS: &[Permission] = &[
    // State store.
    p("dynamodb:GetItem", Scope::Both),
    p("dynamodb:PutItem", Scope::Both),
    p("dynamodb:UpdateItem", Scope::FullOnly),
    p("dynamodb:Query", Scope::Both),
    p("dynamodb:Scan", Scope::Both),
    // The full function drops the reduce-only partition's requests once it handled them.
    p("dynamodb:DeleteItem", Scope::FullOnly),
    p("dynamodb:DescribeTable", Scope::CliOnly),
    p("dynamodb:CreateTable", Scope::CliOnly),
    // Configuration from SSM and published endpoints.
    p("ssm:GetParameter", Scope::Both),
    p("ssm:PutParameter", Scope::FullOnly),
    // Transition events (both functions: a budget lockout is the reduce-only function's).
    p("events:PutEvents", Scope::Both),
    // ECS services.
    p("ecs:ListClusters", Scope::Both),
    p("ecs:ListServices", Scope::Both),
    p("ecs:DescribeServices", Scope::Both),
    p("ecs:UpdateService", Scope::FullOnly),
    // Application Auto Scaling of those services.
    p(
        "application-autoscaling:DescribeScalableTargets",
        Scope::Both,
    ),
    p(
        "application-autoscaling:RegisterScalableTarget",
        Scope::FullOnly,
    ),
    // RDS.
    p("rds:DescribeDBInstances", Scope::Both),
    p("rds:DescribeDBSnapshots", Scope::Both),
    // The KMS key of an encrypted instance must be usable before it is hibernated.
    p("kms:DescribeKey", Scope::Both),
    p("rds:StopDBInstance", Scope::FullOnly),
    p("rds:DeleteDBInstance", Scope::FullOnly),
    p("rds:CreateDBSnapshot", Scope::FullOnly),
    p("rds:StartDBInstance", Scope::FullOnly),
    p("rds:RestoreDBInstanceFromDBSnapshot", Scope::FullOnly),
    p("rds:AddTagsToResource", Scope::FullOnly),
    // What a restore cannot set (storage autoscaling, monitoring, …), right after it.
    p("rds:ModifyDBInstance", Scope::FullOnly),
    // Setting the recorded enhanced-monitoring role passes it to RDS.
    also("rds:ModifyDBInstance", "iam:PassRole", Scope::FullOnly),
    // ALB (ephemeral tier).
    p("elasticloadbalancing:DescribeLoadBalancers", Scope::Both),
    p(
        "elasticloadbalancing:DescribeLoadBalancerAttributes",
        Scope::Both,
    ),
    p("elasticloadbalancing:DescribeListeners", Scope::Both),
    p(
        "elasticloadbalancing:DescribeListenerAttributes",
        Scope::Both,
    ),
    p(
        "elasticloadbalancing:DescribeListenerCertificates",
        Scope::Both,
    ),
    p("elasticloadbalancing:DescribeRules", Scope::Both),
    p("elasticloadbalancing:DescribeTags", Scope::Both),
    p("elasticloadbalancing:DeleteLoadBalancer", Scope::FullOnly),
    // Checked before a load balancer is created (its listeners forward to them).
    p("elasticloadbalancing:DescribeTargetGroups", Scope::FullOnly),
    p("acm:DescribeCertificate", Scope::FullOnly),
    // apply-spec checks the networking a spec names before it creates anything.
    p("ec2:DescribeSubnets", Scope::FullOnly),
    p("ec2:DescribeSecurityGroups", Scope::FullOnly),
    // Bringing an existing load balancer to its spec (apply-spec, resume after a partial create).
    p("elasticloadbalancing:ModifyListener", Scope::FullOnly),
    p(
        "elasticloadbalancing:ModifyListenerAttributes",
        Scope::FullOnly,
    ),
    p("elasticloadbalancing:DeleteListener", Scope::FullOnly),
    p(
        "elasticloadbalancing:RemoveListenerCertificates",
        Scope::FullOnly,
    ),
    p("elasticloadbalancing:ModifyRule", Scope::FullOnly),
    p("elasticloadbalancing:DeleteRule", Scope::FullOnly),
    p("elasticloadbalancing:RemoveTags", Scope::FullOnly),
    p("elasticloadbalancing:CreateLoadBalancer", Scope::FullOnly),
    p(
        "elasticloadbalancing:ModifyLoadBalancerAttributes",
        Scope::FullOnly,
    ),
    p("elasticloadbalancing:CreateListener", Scope::FullOnly),
    p(
        "elasticloadbalancing:AddListenerCertificates",
        Scope::FullOnly,
    ),
    p("elasticloadbalancing:CreateRule", Scope::FullOnly),
    p("elasticloadbalancing:AddTags", Scope::FullOnly),
    // The WAF web ACL of a load balancer: read with its capture, associated again on resume
    // (AWS checks elasticloadbalancing:SetWebAcl on the load balancer as well).
    p("wafv2:GetWebACLForResource", Scope::Both),
    p("wafv2:AssociateWebACL", Scope::FullOnly),
    also(
        "wafv2:AssociateWebACL",
        "elasticloadbalancing:SetWebAcl",
        Scope::FullOnly,
    ),
    p("wafv2:DisassociateWebACL", Scope::FullOnly),
    also(
        "wafv2:DisassociateWebACL",
        "elasticloadbalancing:SetWebAcl",
        Scope::FullOnly,
    ),
    // CloudWatch alarms on the load balancers: found by dimension (both functions observe),
    // muted while paused, re-pointed at a recreated load balancer and unmuted on resume.
    p("cloudwatch:DescribeAlarms", Scope::Both),
    p("cloudwatch:ListTagsForResource", Scope::Both),
    // Shield Advanced: a protected load balancer is kept (its protection names its ARN).
    p("shield:DescribeProtection", Scope::Both),
    p("cloudwatch:DisableAlarmActions", Scope::FullOnly),
    p("cloudwatch:EnableAlarmActions", Scope::FullOnly),
    p("cloudwatch:PutMetricAlarm", Scope::FullOnly),
    // The OIDC client secret a spec names (AWS never returns it from a listener).
    p("secretsmanager:GetSecretValue", Scope::FullOnly),
    // MSK Serverless (ephemeral tier).
    p("kafka:ListClustersV2", Scope::Both),
    p("kafka:DescribeClusterV2", Scope::Both),
    p("kafka:GetBootstrapBrokers", Scope::Both),
    p("kafka:DeleteCluster", Scope::FullOnly),
    p("kafka:CreateClusterV2", Scope::FullOnly),
    // MSK Serverless creates the cluster's VPC endpoints with the caller's permissions.
    also(
        "kafka:CreateClusterV2",
        "ec2:DescribeSubnets",
        Scope::FullOnly,
    ),
    also(
        "kafka:CreateClusterV2",
        "ec2:DescribeSecurityGroups",
        Scope::FullOnly,
    ),
    also("kafka:CreateClusterV2", "ec2:DescribeVpcs", Scope::FullOnly),
    also(
        "kafka:CreateClusterV2",
        "ec2:DescribeVpcEndpoints",
        Scope::FullOnly,
    ),
    also(
        "kafka:CreateClusterV2",
        "ec2:CreateVpcEndpoint",
        Scope::FullOnly,
    ),
    also("kafka:CreateClusterV2", "ec2:CreateTags", Scope::FullOnly),
    also(
        "kafka:DeleteCluster",
        "ec2:DeleteVpcEndpoints",
        Scope::FullOnly,
    ),
    // NAT gateways (with the routes that point at them) and interface VPC endpoints of the
    // private network modes (ephemeral tier): found by the stack's tags (both functions
    // observe), deleted on pause, recreated on resume; a NAT gateway takes the Elastic IP
    // Terraform keeps, which apply-spec checks first.
    p("ec2:DescribeNatGateways", Scope::Both),
    p("ec2:DescribeRouteTables", Scope::Both),
    p("ec2:DescribeVpcEndpoints", Scope::Both),
    p("ec2:DescribeAddresses", Scope::FullOnly),
    p("ec2:CreateNatGateway", Scope::FullOnly),
    p("ec2:DeleteNatGateway", Scope::FullOnly),
    p("ec2:CreateRoute", Scope::FullOnly),
    p("ec2:ReplaceRoute", Scope::FullOnly),
    p("ec2:CreateVpcEndpoint", Scope::FullOnly),
    p("ec2:DeleteVpcEndpoints", Scope::FullOnly),
    // Tags set at creation (TagSpecifications) are authorized as ec2:CreateTags too: the Service
    // Authorization Reference ("Actions, resources, and condition keys for Amazon EC2") lists it
    // as the one dependent action of CreateNatGateway and of CreateVpcEndpoint. It lists no
    // other: no ec2:AssociateAddress for a NAT gateway's AllocationId, no
    // route53:AssociateVPCWithHostedZone for an endpoint's private DNS (AWS's own hosted zone),
    // nothing for DeleteNatGateway, DeleteVpcEndpoints, CreateRoute or ReplaceRoute.
    also("ec2:CreateNatGateway", "ec2:CreateTags", Scope::FullOnly),
    also("ec2:CreateVpcEndpoint", "ec2:CreateTags", Scope::FullOnly),
    // DNS.
    p("route53:ListResourceRecordSets", Scope::Both),
    p("route53:ChangeResourceRecordSets", Scope::FullOnly),
];

/// Which Lambda deployment a role belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    /// Schedules, manual invokes, Terraform: may create and start.
    Full,
    /// Budget alerts only: may only reduce cost.
    ReduceOnly,
}

/// The IAM actions a Lambda role of `function` must hold, and no more.
pub fn actions_for(function: Function) -> BTreeSet<&'static str> {
    PERMISSIONS
        .iter()
        .filter(|perm| match (perm.scope, function) {
            (Scope::CliOnly, _) => false,
            (Scope::Both, _) => true,
            (Scope::FullOnly, Function::Full) => true,
            (Scope::FullOnly, Function::ReduceOnly) => false,
        })
        .map(|perm| perm.action)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reduce_only_cannot_create_start_or_restore() {
        for action in actions_for(Function::ReduceOnly) {
            let verb = action.split(':').nth(1).unwrap();
            let increasing = ["Create", "Start", "Restore", "AddListener", "Modify"]
                .iter()
                .any(|v| verb.starts_with(v));
            // CreateDBSnapshot is the one "Create" a pause needs: a final snapshot saves data.
            assert!(
                !increasing || action == "rds:CreateDBSnapshot",
                "{action} must not be granted to the reduce-only function"
            );
        }
    }

    /// The reduce-only function changes nothing but its own partition of the state table
    /// (`PutItem`, which the module scopes with `dynamodb:LeadingKeys`): every other action it
    /// holds reads, apart from publishing its own events (`events:PutEvents`, which changes no
    /// resource; the module scopes it to one bus and `events:source` = `costctl`).
    #[test]
    fn reduce_only_holds_reads_and_its_own_put_only() {
        for action in actions_for(Function::ReduceOnly) {
            let verb = action.split(':').nth(1).unwrap();
            let reads = ["Describe", "List", "Get", "Query", "Scan"]
                .iter()
                .any(|v| verb.starts_with(v));
            assert!(
                reads || action == "dynamodb:PutItem" || action == "events:PutEvents",
                "{action} changes something: the reduce-only function must not hold it"
            );
        }
    }

    #[test]
    fn full_is_a_superset_of_reduce_only() {
        let full = actions_for(Function::Full);
        assert!(actions_for(Function::ReduceOnly).is_subset(&full));
        assert!(full.contains("kafka:CreateClusterV2"));
        assert!(!full.contains("dynamodb:CreateTable"));
    }
}
