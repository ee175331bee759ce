//! Observation of a stack: what its selector finds, plus whatever the manifest remembers.

use crate::cloud::Cloud;
use crate::error::CloudResult;
use costctl_core::observation::AlarmObs;
use costctl_core::observation::{scalable_resource_id, split_service_key};
use costctl_core::spec::EphemeralSpec;
use costctl_core::{Manifest, Observation, Selector};
use std::collections::{BTreeMap, BTreeSet};

/// Looks at every resource of the stack. Resources the manifest remembers are looked up by name
/// even when the selector no longer finds them (a deleted instance, an untagged service), so a
/// resume can bring back what a pause took away. With a desired ephemeral-tier `spec`, the load
/// balancers and clusters it names are looked up by name too, and so are the SSM parameters and
/// alias records it publishes to.
///
/// `known_services`: the ECS services the selector found earlier in the same reconcile. They
/// are described by key (DescribeServices, 10 per call) instead of discovered again
/// (ListClusters, then ListServices per cluster, then DescribeServices). Within one reconcile the
/// set of services does not change in a way that matters, and discovery is the part of an
/// observation that grows with the number of clusters.
///
/// The engine observes through `Engine::observe`, which stamps the time the look began.
pub async fn observe_known<C: Cloud + ?Sized>(
    cloud: &C,
    selector: &Selector,
    manifest: &Manifest,
    spec: Option<&EphemeralSpec>,
    known_services: Option<&[String]>,
) -> CloudResult<Observation> {
    look(cloud, selector, manifest, spec, known_services, None).await
}

/// The parts of a stack's observation a look reads again; a partial look keeps the rest from
/// the look before it (see [`observe_parts`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Parts {
    /// These services (by `cluster/service` key) and their scalable targets.
    pub services: BTreeSet<String>,
    /// Database instances and snapshots.
    pub databases: bool,
    /// Load balancers, and the alarms on them (an alarm is re-pointed at a load balancer).
    pub load_balancers: bool,
    pub kafka: bool,
    /// The SSM parameters and alias records costctl publishes to.
    pub published: bool,
    /// NAT gateways, interface endpoints and the recorded routes.
    pub network: bool,
}

impl Parts {
    /// Everything a look reads, `services` being the look's services.
    pub fn all(services: impl IntoIterator<Item = String>) -> Parts {
        Parts {
            services: services.into_iter().collect(),
            databases: true,
            load_balancers: true,
            kafka: true,
            published: true,
            network: true,
        }
    }

    /// What either names.
    pub fn union(mut self, other: &Parts) -> Parts {
        self.services.extend(other.services.iter().cloned());
        self.databases |= other.databases;
        self.load_balancers |= other.load_balancers;
        self.kafka |= other.kafka;
        self.published |= other.published;
        self.network |= other.network;
        self
    }

    /// What `read` does not name of `all`.
    pub fn except(all: &Parts, read: &Parts) -> Parts {
        Parts {
            services: all.services.difference(&read.services).cloned().collect(),
            databases: all.databases && !read.databases,
            load_balancers: all.load_balancers && !read.load_balancers,
            kafka: all.kafka && !read.kafka,
            published: all.published && !read.published,
            network: all.network && !read.network,
        }
    }

    fn others(&self) -> bool {
        self.databases || self.load_balancers || self.kafka || self.published || self.network
    }
}

/// A look at `parts` of the stack: those are read again as [`observe_known`] reads them (the
/// services by key, as [`observe_services`] does); everything else is taken from `before`.
/// The engine uses it after a pass that acted: `parts` are what that pass's steps changed,
/// plus whatever the look it planned from had kept in its turn, so that no part is older
/// than the look before (`Changed` in `engine/reconcile.rs`). `before`'s time stamp is kept
/// when anything is: it says when the oldest part was seen.
pub async fn observe_parts<C: Cloud + ?Sized>(
    cloud: &C,
    selector: &Selector,
    manifest: &Manifest,
    spec: Option<&EphemeralSpec>,
    before: &Observation,
    parts: &Parts,
) -> CloudResult<Observation> {
    let keys: Vec<String> = parts.services.iter().cloned().collect();
    let (obs, others) = futures::try_join!(
        async {
            if keys.is_empty() {
                Ok(before.clone())
            } else {
                observe_services(cloud, before, &keys).await
            }
        },
        async {
            if parts.others() {
                look(cloud, selector, manifest, spec, Some(&[]), Some(parts))
                    .await
                    .map(Some)
            } else {
                Ok(None)
            }
        }
    )?;
    let mut obs = obs;
    if let Some(o) = others {
        if parts.databases {
            obs.db_instances = o.db_instances;
            obs.db_snapshots = o.db_snapshots;
        }
        if parts.load_balancers {
            obs.load_balancers = o.load_balancers;
            obs.alarms = o.alarms;
        }
        if parts.kafka {
            obs.kafka_clusters = o.kafka_clusters;
        }
        if parts.published {
            obs.parameters = o.parameters;
            obs.aliases = o.aliases;
        }
        if parts.network {
            obs.nat_gateways = o.nat_gateways;
            obs.vpc_endpoints = o.vpc_endpoints;
            obs.routes = o.routes;
        }
    }
    Ok(obs)
}

/// One look: everything (`only` is `None`), or the parts `only` names other than services (the
/// services are then neither discovered nor described).
async fn look<C: Cloud + ?Sized>(
    cloud: &C,
    selector: &Selector,
    manifest: &Manifest,
    spec: Option<&EphemeralSpec>,
    known_services: Option<&[String]>,
    only: Option<&Parts>,
) -> CloudResult<Observation> {
    let reads = |part: fn(&Parts) -> bool| only.is_none_or(part);
    let (read_dbs, read_lbs, read_kafka, read_published, read_network) = (
        reads(|p| p.databases),
        reads(|p| p.load_balancers),
        reads(|p| p.kafka),
        reads(|p| p.published),
        reads(|p| p.network),
    );
    let mut lb_names: BTreeSet<String> = manifest.load_balancers.keys().cloned().collect();
    let mut msk_names: BTreeSet<String> = manifest.kafka_clusters.keys().cloned().collect();
    let mut parameters = BTreeSet::new();
    let mut aliases = BTreeSet::new();
    if let Some(spec) = spec {
        for lb in &spec.load_balancers {
            lb_names.insert(lb.name.clone());
            parameters.extend(lb.dns_name_parameter.clone());
            aliases.extend(
                lb.aliases
                    .iter()
                    .map(|a| (a.zone_id.clone(), a.name.clone())),
            );
        }
        for c in &spec.kafka_clusters {
            msk_names.insert(c.name.clone());
            parameters.extend(c.bootstrap_parameter.clone());
        }
    }
    // The network tier: NAT gateways by subnet, endpoints by (VPC, service), and the routes
    // recorded or given with the gateways.
    let mut nat_subnets: BTreeSet<String> = manifest.nat_gateways.keys().cloned().collect();
    let mut endpoint_names: BTreeSet<(String, String)> = manifest
        .vpc_endpoints
        .values()
        .map(|e| (e.vpc_id.clone(), e.service_name.clone()))
        .collect();
    let mut routes: BTreeSet<(String, String)> = manifest
        .nat_gateways
        .values()
        .flat_map(|n| &n.routes)
        .map(|r| (r.route_table_id.clone(), r.destination().to_string()))
        .collect();
    if let Some(spec) = spec {
        for n in &spec.nat_gateways {
            nat_subnets.insert(n.subnet_id.clone());
            routes.extend(
                n.routes
                    .iter()
                    .map(|r| (r.route_table_id.clone(), r.destination().to_string())),
            );
        }
        endpoint_names.extend(
            spec.vpc_endpoints
                .iter()
                .map(|e| (e.vpc_id.clone(), e.service_name.clone())),
        );
    }
    let nat_subnets: Vec<String> = nat_subnets.into_iter().collect();
    let endpoint_names: Vec<(String, String)> = endpoint_names.into_iter().collect();
    let routes: Vec<(String, String)> = routes.into_iter().collect();
    let lb_names: Vec<String> = lb_names.into_iter().collect();
    let msk_names: Vec<String> = msk_names.into_iter().collect();
    let parameters: Vec<String> = parameters.into_iter().collect();
    let aliases: Vec<(String, String)> = aliases.into_iter().collect();
    // With the services known, their scalable targets can be read in the same round trip as
    // the services themselves (the resource id follows from the key).
    let early_ids: Vec<String> = known_services
        .unwrap_or_default()
        .iter()
        .filter_map(|k| split_service_key(k))
        .map(|(cluster, service)| scalable_resource_id(cluster, service))
        .collect();
    let network = when(read_network, async {
        futures::try_join!(
            cloud.find_nat_gateways(selector, &nat_subnets),
            cloud.find_vpc_endpoints(selector, &endpoint_names),
            async {
                if routes.is_empty() {
                    Ok(BTreeMap::new())
                } else {
                    cloud.describe_routes(&routes).await
                }
            },
        )
    });
    // Snapshots the manifest records (a database deleted to one): read with everything else.
    let snapshots: Vec<String> = manifest
        .db_instances
        .values()
        .filter_map(|r| r.snapshot.clone())
        .collect();
    // Alarms on any load balancer of the stack: those that exist, and those remembered or
    // named (an alarm outlives the load balancer it watches). The account's alarms are listed
    // while the load balancers are found when the look expects one: a load balancer is
    // recorded or named, or nothing is recorded yet (a first look cannot know, and one listing
    // costs less than a round trip). Otherwise they are listed only once one is found. The
    // stack's are chosen by name and their tags read as soon as both are known.
    let list_at_once = !lb_names.is_empty() || (manifest.is_empty() && spec.is_none());
    let (
        (services, early_targets, asked),
        dbs,
        (lbs, alarms),
        kafkas,
        parameters,
        aliases,
        (nats, endpoints, routes),
        snaps,
    ) = futures::try_join!(
        async {
            match known_services {
                Some([]) => Ok((Vec::new(), BTreeMap::new(), Vec::new())),
                Some(keys) => {
                    let (found, targets) = futures::try_join!(
                        cloud.describe_services(keys),
                        cloud.scalable_targets(&early_ids)
                    )?;
                    Ok((found, targets, early_ids.clone()))
                }
                None => {
                    // Found services' targets at once, not after the rest of the look.
                    let found = cloud.find_services(selector).await?;
                    let ids: Vec<String> = found
                        .iter()
                        .map(|s| scalable_resource_id(&s.cluster, &s.name))
                        .collect();
                    let targets = if ids.is_empty() {
                        BTreeMap::new()
                    } else {
                        cloud.scalable_targets(&ids).await?
                    };
                    Ok((found, targets, ids))
                }
            }
        },
        when(read_dbs, cloud.find_db_instances(selector)),
        when(read_lbs, async {
            let (lbs, listed) = if list_at_once {
                futures::try_join!(
                    cloud.find_load_balancers(selector, &lb_names),
                    cloud.list_alarms()
                )?
            } else {
                let lbs = cloud.find_load_balancers(selector, &lb_names).await?;
                let listed = if lbs.is_empty() {
                    Vec::new()
                } else {
                    cloud.list_alarms().await?
                };
                (lbs, listed)
            };
            let names: BTreeSet<&str> = lb_names
                .iter()
                .map(String::as_str)
                .chain(lbs.iter().map(|lb| lb.spec.name.as_str()))
                .collect();
            let mut alarms: Vec<(String, AlarmObs)> = listed
                .iter()
                .filter_map(|l| Some((l.arn.clone(), l.on(&names)?)))
                .collect();
            if !alarms.is_empty() {
                let arns: Vec<String> = alarms.iter().map(|(arn, _)| arn.clone()).collect();
                let mut tags = cloud.alarm_tags(&arns).await?;
                for (arn, alarm) in &mut alarms {
                    alarm.tags = tags.remove(arn.as_str()).unwrap_or_default();
                }
            }
            Ok((lbs, alarms))
        }),
        when(read_kafka, cloud.find_kafka_clusters(selector, &msk_names)),
        when(read_published, cloud.get_parameters(&parameters)),
        when(read_published, cloud.get_aliases(&aliases)),
        network,
        when(read_dbs, cloud.describe_db_snapshots(&snapshots)),
    )?;
    let mut obs = Observation {
        services,
        db_instances: dbs,
        load_balancers: lbs
            .into_iter()
            .map(|lb| (lb.spec.name.clone(), lb))
            .collect(),
        kafka_clusters: kafkas
            .into_iter()
            .map(|c| (c.spec.name.clone(), c))
            .collect(),
        parameters,
        aliases,
        nat_gateways: by_key(
            nats,
            selector,
            |n| n.spec.subnet_id.clone(),
            |n| &n.spec.tags,
            |n| &n.state,
            |n, of_stack, duplicates| {
                n.of_stack = of_stack;
                n.duplicates = duplicates;
            },
            |n| n.id.clone(),
        ),
        vpc_endpoints: by_key(
            endpoints,
            selector,
            |e| e.spec.service_name.clone(),
            |e| &e.spec.tags,
            |e| &e.state,
            |e, of_stack, duplicates| {
                e.of_stack = of_stack;
                e.duplicates = duplicates;
            },
            |e| e.id.clone(),
        ),
        routes,
        ..Observation::default()
    };

    // Sets, not `obs.service(k)` per record: a linear search per record is quadratic in the
    // size of the stack.
    let seen_services: BTreeSet<String> = obs.services.iter().map(|s| s.key()).collect();
    let seen_dbs: BTreeSet<&str> = obs.db_instances.iter().map(|d| d.id.as_str()).collect();
    let missing_services: Vec<String> = manifest
        .services
        .keys()
        .filter(|k| only.is_none() && !seen_services.contains(*k))
        .cloned()
        .collect();
    let missing_dbs: Vec<String> = manifest
        .db_instances
        .keys()
        .filter(|id| read_dbs && !seen_dbs.contains(id.as_str()))
        .cloned()
        .collect();

    let (more_services, more_dbs) = futures::try_join!(
        async {
            if missing_services.is_empty() {
                Ok(Vec::new())
            } else {
                cloud.describe_services(&missing_services).await
            }
        },
        async {
            if missing_dbs.is_empty() {
                Ok(Vec::new())
            } else {
                cloud.describe_db_instances(&missing_dbs).await
            }
        },
    )?;
    obs.alarms = alarms
        .into_iter()
        .map(|(_, mut a)| {
            // A tag selector says which alarms are the stack's; found through a name selector,
            // an alarm on the stack's load balancer is taken as the stack's.
            a.of_stack = match selector {
                Selector::Tags(_) => {
                    selector.matches_tags(a.tags.iter().map(|(k, v)| (k.as_str(), v.as_str())))
                }
                Selector::Names(_) => true,
            };
            if !a.of_stack {
                a.unsupported.push(format!(
                    "it does not carry the stack's tags ({selector}), so costctl may not re-point it"
                ));
            }
            (a.name.clone(), a)
        })
        .collect();
    obs.services.extend(more_services);
    obs.db_instances.extend(more_dbs);
    obs.db_snapshots = snaps;

    // Targets of the services found only now (recorded, not selected).
    let asked: BTreeSet<&String> = asked.iter().collect();
    let ids: Vec<String> = obs
        .services
        .iter()
        .map(|s| scalable_resource_id(&s.cluster, &s.name))
        .filter(|id| !asked.contains(id))
        .collect();
    obs.scalable_targets = early_targets;
    if !ids.is_empty() {
        obs.scalable_targets
            .extend(cloud.scalable_targets(&ids).await?);
    }
    obs.services.sort_by_key(|s| s.key());
    obs.db_instances.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(obs)
}

/// `read`'s answer, or the empty one of a part the look keeps (the call is never sent).
async fn when<T: Default>(
    read: bool,
    call: impl std::future::Future<Output = CloudResult<T>>,
) -> CloudResult<T> {
    if read { call.await } else { Ok(T::default()) }
}

/// A look at some services: those `changed` names, and their scalable targets, are read again
/// (DescribeServices and DescribeScalableTargets by key, in one round trip); everything else is
/// taken from `before`. [`observe_parts`] uses it for the services part of a partial look: a
/// pause's drain check so reads the services it drains instead of the whole stack again
/// (DescribeLoadBalancers, its tags, listeners and rules, the databases, the clusters, the
/// alarms…), and the ALB's capture chain is off its critical path. `before`'s time stamp is
/// kept: it says when the oldest part was seen.
pub async fn observe_services<C: Cloud + ?Sized>(
    cloud: &C,
    before: &Observation,
    changed: &[String],
) -> CloudResult<Observation> {
    let ids: Vec<String> = changed
        .iter()
        .filter_map(|k| split_service_key(k))
        .map(|(cluster, service)| scalable_resource_id(cluster, service))
        .collect();
    let (found, targets) = futures::try_join!(
        cloud.describe_services(changed),
        cloud.scalable_targets(&ids)
    )?;
    let mut found: BTreeMap<String, _> = found.into_iter().map(|s| (s.key(), s)).collect();
    let changed: BTreeSet<&str> = changed.iter().map(String::as_str).collect();
    let mut obs = before.clone();
    // A changed service that is not found any more is gone from the look too.
    obs.services = std::mem::take(&mut obs.services)
        .into_iter()
        .filter_map(|s| {
            let key = s.key();
            if changed.contains(key.as_str()) {
                found.remove(&key)
            } else {
                Some(s)
            }
        })
        .collect();
    obs.services.extend(found.into_values());
    obs.services.sort_by_key(|s| s.key());
    for id in &ids {
        obs.scalable_targets.remove(id);
    }
    obs.scalable_targets.extend(targets);
    Ok(obs)
}

/// NAT gateways (by subnet) or endpoints (by service), one per key: the stack's own before
/// anyone else's, then the most alive (`available`, `pending`, `deleting`, the rest); the other
/// live ones of the stack under the same key are its `duplicates`. A tag selector says what is
/// the stack's; with a name selector whatever is found under a recorded key is taken as the
/// stack's.
fn by_key<T>(
    found: Vec<T>,
    selector: &Selector,
    key: impl Fn(&T) -> String,
    tags: impl Fn(&T) -> &BTreeMap<String, String>,
    state: impl Fn(&T) -> &String,
    set: impl Fn(&mut T, bool, Vec<String>),
    id: impl Fn(&T) -> String,
) -> BTreeMap<String, T> {
    let rank = |s: &str| match s {
        "available" => 0,
        "pending" => 1,
        "deleting" => 2,
        _ => 3,
    };
    let of_stack = |t: &T| match selector {
        Selector::Tags(_) => {
            selector.matches_tags(tags(t).iter().map(|(k, v)| (k.as_str(), v.as_str())))
        }
        Selector::Names(_) => true,
    };
    let mut groups: BTreeMap<String, Vec<(bool, T)>> = BTreeMap::new();
    for t in found {
        groups.entry(key(&t)).or_default().push((of_stack(&t), t));
    }
    groups
        .into_iter()
        .filter_map(|(k, mut group)| {
            group.sort_by_key(|(ours, t)| (!*ours, rank(state(t))));
            let mut it = group.into_iter();
            let (ours, mut first) = it.next()?;
            let duplicates: Vec<String> = it
                .filter(|(o, t)| *o && ours && state(t) != "deleting")
                .map(|(_, t)| id(&t))
                .collect();
            set(&mut first, ours, duplicates);
            Some((k, first))
        })
        .collect()
}
