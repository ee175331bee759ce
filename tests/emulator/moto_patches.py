"""Patches for gaps in moto 5.2.1 that costctl's engine would hit.

Every patch imitates documented / observed behaviour of the real AWS API and is
listed, with that behaviour, in tests/emulator/README.md.  Each one was first
reproduced with boto3 against a plain ``moto.server`` and is proven by a test in
tests/emulator/test_emulator.py.

``apply(msk_create_seconds, nat_seconds, endpoint_seconds)`` installs them (idempotent).
The patches are pure monkeypatches of moto's backend / response classes: no moto file
is changed.
"""

from __future__ import annotations

import base64
import copy
import fnmatch
import inspect
import ipaddress
import json
import random
import string
import threading
import time
from datetime import datetime, timezone
from typing import Any
from urllib.parse import unquote

import moto

PINNED_MOTO = "5.2.1"

# The default CA of new RDS DB instances (Using SSL/TLS to encrypt a connection to a DB instance:
# rds-ca-rsa2048-g1 is the default when none is specified).
DEFAULT_CA = "rds-ca-rsa2048-g1"

# Settings read by the patches at request time (the launcher sets them).
SETTINGS: dict[str, Any] = {"msk_create_seconds": 0.0, "nat_seconds": 0.0, "endpoint_seconds": 0.0}

_applied = False
_lock = threading.RLock()


def _iso_z(dt: datetime | None = None) -> str:
    """ISO-8601 in UTC with a 'Z' offset and milliseconds, as real MSK sends."""
    dt = dt or datetime.now(timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


# --------------------------------------------------------------------------
# Kafka (MSK)
# --------------------------------------------------------------------------
def _patch_kafka() -> None:
    from moto.core.exceptions import JsonRESTError
    from moto.kafka import models as km
    from moto.kafka import responses as kr

    class KafkaNotFound(JsonRESTError):
        """Real MSK: HTTP 404, header x-amzn-ErrorType: NotFoundException,
        body {"message": ...} (REST-JSON; the Rust SDK reads the header)."""

        code = 404

        def __init__(self, msg: str):
            super().__init__("NotFoundException", msg)
            self.description = json.dumps({"message": msg})

    class KafkaBadRequest(JsonRESTError):
        code = 400

        def __init__(self, msg: str):
            super().__init__("BadRequestException", msg)
            self.description = json.dumps({"message": msg})

    # PATCH kafka-arn-and-time: real MSK Serverless ARNs look like
    # arn:aws:kafka:REGION:ACCOUNT:cluster/NAME/UUID-s1 (moto: serverless-cluster/UUID),
    # which matters for name-scoped IAM resources (cluster/NAME/*).
    # creationTime is ISO-8601 with a 'Z' (moto: naive local time without offset,
    # which the Rust SDK rejects when parsing the timestamp).
    orig_init = km.FakeKafkaCluster.__init__

    def cluster_init(self: Any, *args: Any, **kwargs: Any) -> None:
        orig_init(self, *args, **kwargs)
        self.creation_time = _iso_z()
        self._costctl_created = time.monotonic()
        self._costctl_deleted: float | None = None
        suffix = "s1" if self.cluster_type == "SERVERLESS" else "1"
        self.arn = (
            f"arn:aws:kafka:{self.region_name}:{self.account_id}:cluster/"
            f"{self.cluster_name}/{self.cluster_id}-{suffix}"
        )

    km.FakeKafkaCluster.__init__ = cluster_init

    def _advance(backend: Any) -> None:
        """PATCH kafka-lifecycle: CREATING -> ACTIVE after --msk-create-seconds
        (0: ACTIVE from the first read on); DELETING clusters disappear after the
        same delay (0: at once, DeleteCluster still answers state DELETING)."""
        delay = float(SETTINGS["msk_create_seconds"])
        now = time.monotonic()
        for arn, cl in list(backend.clusters.items()):
            if cl._costctl_deleted is not None:
                if now - cl._costctl_deleted >= delay:
                    backend.clusters.pop(arn, None)
            elif cl.state == "CREATING" and now - cl._costctl_created >= delay:
                cl.state = "ACTIVE"

    def _get(backend: Any, arn: str) -> Any:
        _advance(backend)
        cl = backend.clusters.get(arn)
        if cl is None:
            # PATCH kafka-404: moto raises KeyError -> HTTP 500 (retried by SDKs).
            raise KafkaNotFound(f"Cluster {arn} does not exist.")
        return cl

    orig_describe_v2 = km.KafkaBackend.describe_cluster_v2
    orig_describe = km.KafkaBackend.describe_cluster
    orig_list_v2 = km.KafkaBackend.list_clusters_v2
    orig_list = km.KafkaBackend.list_clusters
    orig_tags = km.KafkaBackend.list_tags_for_resource

    def describe_cluster_v2(self: Any, cluster_arn: str) -> dict[str, Any]:
        with _lock:
            _get(self, cluster_arn)
            return orig_describe_v2(self, cluster_arn)

    def describe_cluster(self: Any, cluster_arn: str) -> dict[str, Any]:
        with _lock:
            _get(self, cluster_arn)
            return orig_describe(self, cluster_arn)

    def list_clusters_v2(
        self: Any,
        cluster_name_filter: str | None,
        cluster_type_filter: str | None,
        max_results: Any,
        next_token: str | None,
    ) -> tuple[list[dict[str, Any]], str | None]:
        # PATCH kafka-list-filters: moto ignores clusterNameFilter (real: name
        # prefix), clusterTypeFilter, maxResults and nextToken.
        with _lock:
            _advance(self)
            items, _ = orig_list_v2(self, None, None, None, None)
        if cluster_name_filter:
            items = [i for i in items if i["clusterName"].startswith(cluster_name_filter)]
        if cluster_type_filter:
            items = [i for i in items if i["clusterType"] == cluster_type_filter]
        return _paginate(items, max_results, next_token, default=10, maximum=100)

    def list_clusters(self: Any, cluster_name_filter: str | None, max_results: Any, next_token: str | None) -> list[dict[str, Any]]:
        with _lock:
            _advance(self)
            items = orig_list(self, None, None, None)
        if cluster_name_filter:
            items = [i for i in items if i["clusterName"].startswith(cluster_name_filter)]
        return items

    def list_tags_for_resource(self: Any, resource_arn: str) -> dict[str, str]:
        if ":kafka:" in resource_arn and ":cluster/" in resource_arn:
            _get(self, resource_arn)
        return orig_tags(self, resource_arn)

    def delete_cluster(self: Any, cluster_arn: str, current_version: str) -> tuple[str, str]:
        # PATCH kafka-delete: real MSK answers {"clusterArn", "state": "DELETING"}.
        with _lock:
            cl = _get(self, cluster_arn)
            if cl._costctl_deleted is None:
                cl._costctl_deleted = time.monotonic()
            cl.state = "DELETING"
            _advance(self)
            return cluster_arn, "DELETING"

    def get_bootstrap_brokers(self: Any, cluster_arn: str) -> dict[str, str]:
        # PATCH kafka-bootstrap: not implemented in moto (HTTP 500).  Real MSK
        # Serverless answers bootstrapBrokerStringSaslIam (port 9098) once the
        # cluster is ACTIVE, and 400 BadRequestException before that.
        with _lock:
            cl = _get(self, cluster_arn)
            if cl.state != "ACTIVE":
                raise KafkaBadRequest(
                    f"You can't get bootstrap broker nodes for a cluster in {cl.state} state."
                )
            tag = cl.cluster_id.replace("-", "")[:8].lower()
            if cl.cluster_type == "SERVERLESS":
                return {
                    "bootstrapBrokerStringSaslIam": f"boot-{tag}.c1.kafka-serverless.{cl.region_name}.amazonaws.com:9098"
                }
            n = cl.number_of_broker_nodes or 1
            hosts = [f"b-{i}.{cl.cluster_name}.{tag}.c1.kafka.{cl.region_name}.amazonaws.com" for i in range(1, n + 1)]
            return {
                "bootstrapBrokerString": ",".join(h + ":9092" for h in hosts),
                "bootstrapBrokerStringTls": ",".join(h + ":9094" for h in hosts),
                "bootstrapBrokerStringSaslIam": ",".join(h + ":9098" for h in hosts),
            }

    km.KafkaBackend.describe_cluster_v2 = describe_cluster_v2
    km.KafkaBackend.describe_cluster = describe_cluster
    km.KafkaBackend.list_clusters_v2 = list_clusters_v2
    km.KafkaBackend.list_clusters = list_clusters
    km.KafkaBackend.list_tags_for_resource = list_tags_for_resource
    km.KafkaBackend.delete_cluster = delete_cluster
    km.KafkaBackend.get_bootstrap_brokers = get_bootstrap_brokers

    def resp_get_bootstrap_brokers(self: Any) -> str:
        path = self.parsed_url.path
        arn = unquote(path.split("/clusters/", 1)[-1].rsplit("/bootstrap-brokers", 1)[0])
        return json.dumps(self.kafka_backend.get_bootstrap_brokers(arn))

    def resp_list_clusters_v2(self: Any) -> str:
        items, token = self.kafka_backend.list_clusters_v2(
            cluster_name_filter=self._get_param("clusterNameFilter"),
            cluster_type_filter=self._get_param("clusterTypeFilter"),
            max_results=self._get_param("maxResults"),
            next_token=self._get_param("nextToken"),
        )
        out: dict[str, Any] = {"clusterInfoList": items}
        if token:
            out["nextToken"] = token
        return json.dumps(out)

    kr.KafkaResponse.get_bootstrap_brokers = resp_get_bootstrap_brokers
    kr.KafkaResponse.list_clusters_v2 = resp_list_clusters_v2


def _paginate(items: list[Any], max_results: Any, next_token: str | None, default: int, maximum: int) -> tuple[list[Any], str | None]:
    """Opaque-token pagination, as AWS list APIs do."""
    try:
        size = int(max_results) if max_results not in (None, "") else default
    except (TypeError, ValueError):
        size = default
    size = max(1, min(size, maximum))
    start = 0
    if next_token:
        try:
            start = int(json.loads(base64.urlsafe_b64decode(next_token.encode()).decode())["o"])
        except Exception:  # noqa: BLE001 - any garbage token
            start = 0
    page = items[start : start + size]
    end = start + size
    token = base64.urlsafe_b64encode(json.dumps({"o": end}).encode()).decode() if end < len(items) else None
    return page, token


# --------------------------------------------------------------------------
# ECS
# --------------------------------------------------------------------------
def _patch_ecs() -> None:
    from moto.core.utils import utcnow
    from moto.ecs import models as em
    from moto.ecs import responses as er
    from moto.ecs.exceptions import InvalidParameterException

    def _settle(service: Any) -> None:
        # PATCH ecs-counts: no task really runs in the emulator; real ECS converges
        # runningCount to desiredCount, so report the converged state at once and keep
        # the PRIMARY deployment consistent (moto: pendingCount=desired on create,
        # stale deployments[0] after UpdateService).
        service.running_count = service.desired_count
        service.pending_count = 0
        if service.deployments:
            dep = service.deployments[0]
            dep["desiredCount"] = service.desired_count
            dep["runningCount"] = service.desired_count
            dep["pendingCount"] = 0
            dep["rolloutState"] = "COMPLETED"
            dep["rolloutStateReason"] = f"ECS deployment {dep['id']} completed."
            dep["taskDefinition"] = service.task_definition
            dep["updatedAt"] = utcnow()

    orig_create = em.EC2ContainerServiceBackend.create_service
    orig_update = em.EC2ContainerServiceBackend.update_service

    def create_service(self: Any, *args: Any, **kwargs: Any) -> Any:
        service = orig_create(self, *args, **kwargs)
        _settle(service)
        return service

    def update_service(self: Any, service_properties: dict[str, Any]) -> Any:
        service = orig_update(self, service_properties)
        _settle(service)
        return service

    em.EC2ContainerServiceBackend.create_service = create_service
    em.EC2ContainerServiceBackend.update_service = update_service

    from moto.core.responses import ActionResult

    def list_services(self: Any) -> Any:
        # PATCH ecs-list-pagination: real ListServices returns at most maxResults
        # (default 10, max 100) ARNs and a nextToken; moto returns all.
        arns = self.ecs_backend.list_services(
            self._get_param("cluster", "default"),
            self._get_param("schedulingStrategy"),
            launch_type=self._get_param("launchType"),
        )
        page, token = _paginate(arns, self._get_param("maxResults"), self._get_param("nextToken"), 10, 100)
        out: dict[str, Any] = {"serviceArns": page}
        if token:
            out["nextToken"] = token
        return ActionResult(out)

    def list_clusters(self: Any) -> Any:
        # PATCH ecs-list-pagination: real ListClusters: default/max 100 per page.
        arns = self.ecs_backend.list_clusters()
        page, token = _paginate(arns, self._get_param("maxResults"), self._get_param("nextToken"), 100, 100)
        out: dict[str, Any] = {"clusterArns": page}
        if token:
            out["nextToken"] = token
        return ActionResult(out)

    orig_describe = er.EC2ContainerServiceResponse.describe_services

    def describe_services(self: Any) -> Any:
        # PATCH ecs-describe-limit: real DescribeServices accepts at most 10 services.
        if len(self._get_param("services", []) or []) > 10:
            raise InvalidParameterException("service names can have at most 10 items.")
        return orig_describe(self)

    er.EC2ContainerServiceResponse.list_services = list_services
    er.EC2ContainerServiceResponse.list_clusters = list_clusters
    er.EC2ContainerServiceResponse.describe_services = describe_services


# --------------------------------------------------------------------------
# RDS
# --------------------------------------------------------------------------
def _patch_rds() -> None:
    from moto.rds import models as rm
    from moto.rds.exceptions import (
        DBInstanceAlreadyExists,
        InvalidParameterCombination,
        InvalidParameterValue,
    )

    orig_delete = rm.RDSBackend.delete_db_instance

    def delete_db_instance(
        self: Any,
        db_instance_identifier: str,
        final_db_snapshot_identifier: str | None = None,
        skip_final_snapshot: bool | None = False,
        delete_automated_backups: bool | None = True,
    ) -> Any:
        # PATCH rds-final-snapshot: real RDS refuses a delete that neither skips
        # nor names a final snapshot (moto deletes without one).  Deletion
        # protection is checked first, as in moto and AWS.
        db = self.databases.get(db_instance_identifier)
        if db is not None and not db.deletion_protection and not skip_final_snapshot and not final_db_snapshot_identifier:
            raise InvalidParameterCombination(
                "FinalDBSnapshotIdentifier is required unless SkipFinalSnapshot is specified."
            )
        return orig_delete(
            self,
            db_instance_identifier,
            final_db_snapshot_identifier=final_db_snapshot_identifier,
            skip_final_snapshot=skip_final_snapshot,
            delete_automated_backups=delete_automated_backups,
        )

    rm.RDSBackend.delete_db_instance = delete_db_instance

    def restore_db_instance_from_db_snapshot(self: Any, from_snapshot_id: str, overrides: dict[str, Any]) -> Any:
        # PATCH rds-restore-falsy: moto's copy of this method applies an override
        # only `if value:`, so MultiAZ=false, PubliclyAccessible=false,
        # AutoMinorVersionUpgrade=false, DeletionProtection=false,
        # CopyTagsToSnapshot=false ... are silently replaced by the snapshot's source
        # instance values.  Real RDS honours every parameter given.  Same body as
        # moto 5.2.1 except `value is not None` for booleans / numbers.
        if from_snapshot_id.startswith("arn:aws:rds:"):
            from_snapshot_id = self.extract_snapshot_name_from_arn(from_snapshot_id)
        snapshot = self.describe_db_snapshots(db_instance_identifier=None, db_snapshot_identifier=from_snapshot_id)[0]
        original_database = snapshot.database
        if overrides["db_instance_identifier"] in self.databases:
            raise DBInstanceAlreadyExists()
        props: dict[str, Any] = {}
        for key, value in original_database.__dict__.items():
            if key.startswith("_"):
                key = key[1:]
            if key not in ["backend", "db_parameter_group_name", "vpc_security_group_ids", "max_allocated_storage"]:
                props[key] = copy.copy(value)
        props["kms_key_id"] = snapshot.kms_key_id
        props["storage_encrypted"] = snapshot.encrypted
        if not original_database.option_group_supplied:
            del props["option_group_name"]
        # PATCH rds-restore-defaults: settings RestoreDBInstanceFromDBSnapshot does not take from
        # the source (moto copies the whole source instance): Single-AZ unless MultiAZ is given,
        # deletion protection and IAM DB auth off "by default", CopyTagsToSnapshot off ("tags
        # aren't copied by default"), a new maintenance window (not a restore parameter), the
        # region's default CA unless CACertificateIdentifier is given, no Enhanced Monitoring /
        # Performance Insights (not restore parameters: ModifyDBInstance after the restore), and
        # no RDS-managed master secret: ManageMasterUserPassword on restore "Applies to RDS for
        # Oracle only", so any other engine comes back with the snapshot's password, unmanaged.
        props.update(multi_az=False, deletion_protection=False, enable_iam_database_authentication=False,
                     copy_tags_to_snapshot=False, ca_certificate_identifier=DEFAULT_CA, manage_master_user_password=False,
                     monitoring_interval=0, monitoring_role_arn=None, enable_performance_insights=False,
                     performance_insights_retention_period=None, performance_insights_kms_key_id=None)
        # A restore creates a new instance: new DbiResourceId (moto copies the source's).
        for key in ("dbi_resource_id", "resource_id", "preferred_maintenance_window", "master_user_secret_kms_key_id", "master_user_secret", "master_user_secret_status"):
            props.pop(key, None)
        if overrides.get("manage_master_user_password") and not str(original_database.engine).startswith("oracle"):
            raise InvalidParameterCombination("ManageMasterUserPassword is supported only for RDS for Oracle when restoring from a DB snapshot.")
        if "allocated_storage" in overrides and overrides["allocated_storage"] is not None:
            if overrides["allocated_storage"] < snapshot.allocated_storage:
                raise InvalidParameterValue(
                    "The allocated storage size can't be less than the source snapshot or backup size."
                )
        for key, value in overrides.items():
            if value or (isinstance(value, (bool, int)) and value is not None):
                props[key] = value
        return self.create_db_instance(props)

    rm.RDSBackend.restore_db_instance_from_db_snapshot = restore_db_instance_from_db_snapshot

    orig_db_init = rm.DBInstance.__init__

    def db_init(self: Any, *args: Any, **kwargs: Any) -> None:
        # PATCH rds-monitoring-pi: moto ignores MonitoringInterval/MonitoringRoleArn and
        # EnablePerformanceInsights/PerformanceInsightsRetentionPeriod/KMS key (DescribeDBInstances
        # shows none); the default CA is rds-ca-rsa2048-g1 (moto: "rds-ca-default").
        kwargs.setdefault("ca_certificate_identifier", DEFAULT_CA)
        if kwargs.get("ca_certificate_identifier") in (None, "rds-ca-default"):
            kwargs["ca_certificate_identifier"] = DEFAULT_CA
        monitoring = {k: kwargs.get(k) for k in ("monitoring_interval", "monitoring_role_arn", "enable_performance_insights", "performance_insights_retention_period", "performance_insights_kms_key_id")}
        # PATCH rds-default-option-group: every engine version has a built-in
        # option group "default:ENGINE-MAJOR" (postgres 16.3 -> default:postgres-16,
        # mysql 8.0.35 -> default:mysql-8-0) that can be named in
        # Create/RestoreDBInstance*.  moto names it "default:postgres-16-3" and
        # rejects any "default:..." name with OptionGroupNotFoundFault, so a
        # restore from the values read by DescribeDBInstances failed.
        og = kwargs.get("option_group_name")
        builtin = isinstance(og, str) and og.lower().startswith("default:")
        if builtin:
            kwargs["option_group_name"] = None
        orig_db_init(self, *args, **kwargs)
        # PATCH rds-restore-defaults: every instance has its own DbiResourceId (moto: one
        # constant for all), and a restored instance a new one.
        self.dbi_resource_id = "db-" + "".join(random.choice(string.ascii_uppercase + string.digits) for _ in range(26))
        self.monitoring_interval = int(monitoring["monitoring_interval"] or 0)
        self.monitoring_role_arn = monitoring["monitoring_role_arn"] if self.monitoring_interval else None
        self.enable_performance_insights = bool(monitoring["enable_performance_insights"])
        if self.enable_performance_insights:
            self.performance_insights_retention_period = int(monitoring["performance_insights_retention_period"] or 7)
            self.performance_insights_kms_key_id = monitoring["performance_insights_kms_key_id"] or f"arn:aws:kms:{self.region}:{self.account_id}:key/performance-insights-default"
        else:
            self.performance_insights_retention_period = None
            self.performance_insights_kms_key_id = None
        if builtin:
            self.option_group_name = og
            self.option_group_supplied = True
        elif not getattr(self, "option_group_supplied", True) and getattr(self, "engine", None) and getattr(self, "engine_version", None):
            parts = str(self.engine_version).split(".")
            engine = str(self.engine)
            if engine.startswith("postgres") or engine.startswith("aurora-postgresql"):
                major = parts[0]
            else:
                major = "-".join(parts[:2])
            self.option_group_name = f"default:{engine}-{major}"

    rm.DBInstance.__init__ = db_init
    rm.DBInstance.performance_insights_enabled = property(lambda self: bool(getattr(self, "enable_performance_insights", False)))

    orig_modify = rm.RDSBackend.modify_db_instance

    def modify_db_instance(self: Any, db_instance_identifier: str, db_kwargs: dict[str, Any]) -> Any:
        # PATCH rds-log-exports: moto's CloudwatchLogsExportConfiguration does list.remove() of
        # every DisableLogTypes entry (HTTP 500 for one that is not enabled) and appends
        # EnableLogTypes even when already enabled.  Real RDS applies it as a set.
        cfg = db_kwargs.pop("cloudwatch_logs_export_configuration", None)
        db = orig_modify(self, db_instance_identifier, db_kwargs)
        if cfg:
            current = [t for t in db.enabled_cloudwatch_logs_exports if t not in (cfg.get("DisableLogTypes") or [])]
            current += [t for t in (cfg.get("EnableLogTypes") or []) if t not in current]
            db.enabled_cloudwatch_logs_exports = current
        if not getattr(db, "monitoring_interval", 0):
            db.monitoring_role_arn = None
        if getattr(db, "enable_performance_insights", False) and not getattr(db, "performance_insights_retention_period", None):
            db.performance_insights_retention_period = 7
        return db

    rm.RDSBackend.modify_db_instance = modify_db_instance

    # PATCH rds-automated-snapshot-name: moto names the automated snapshot it takes at
    # create/restore `rds:ID-YYYY-MM-DD-HH-MM` and fails the whole restore with
    # DBSnapshotAlreadyExists when the instance's earlier automated snapshot of the same minute
    # is still retained (DeleteAutomatedBackups=false). Real RDS never fails a restore over
    # its own automated backup naming; seconds and a counter keep the names unique here.
    def save_automated_backup(self: Any) -> None:
        self.add_event("DB_INSTANCE_BACKUP_START")
        base = f"rds:{self.db_instance_identifier}-{rm.utcnow().strftime('%Y-%m-%d-%H-%M')}"
        snapshot_id, n = base, 1
        while snapshot_id in self.backend.database_snapshots:
            n += 1
            snapshot_id = f"{base}-{n}"
        self.backend.create_auto_snapshot(self.db_instance_identifier, snapshot_id)
        self.add_event("DB_INSTANCE_BACKUP_FINISH")

    rm.DBInstance.save_automated_backup = save_automated_backup


# --------------------------------------------------------------------------
# ELBv2
# --------------------------------------------------------------------------
_LEGACY_FIELDS = {"host-header": "HostHeaderConfig", "path-pattern": "PathPatternConfig"}


def _both_condition_forms(conditions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Real ELBv2 returns host-header / path-pattern conditions with both the
    legacy `Values` and the `*Config.Values` form, whichever one was sent."""
    out = []
    for cond in conditions or []:
        cond = copy.deepcopy(cond)
        cfg = _LEGACY_FIELDS.get(cond.get("Field", ""))
        if cfg:
            values = cond.get("Values") or (cond.get(cfg) or {}).get("Values") or []
            cond["Values"] = list(values)
            cond[cfg] = {"Values": list(values)}
        out.append(cond)
    return out


def _patch_elbv2() -> None:
    from moto.elbv2 import models as lm
    from moto.elbv2.exceptions import ELBClientError

    def OperationNotPermitted(msg: str) -> Exception:
        # moto serialises an error with the model of the service named by the
        # exception class's module, so use moto's own elbv2 exception class.
        return ELBClientError("OperationNotPermitted", msg)

    orig_delete = lm.ELBv2Backend.delete_load_balancer

    def delete_load_balancer(self: Any, arn: str) -> None:
        # PATCH elbv2-deletion-protection: real AWS refuses to delete a load
        # balancer with deletion_protection.enabled=true (moto deletes it).
        lb = self.load_balancers.get(arn)
        if lb is not None and str(lb.attrs.get("deletion_protection.enabled", "false")).lower() == "true":
            raise OperationNotPermitted(
                f"Load balancer '{arn}' cannot be deleted because deletion protection is enabled"
            )
        orig_delete(self, arn)
        # PATCH elbv2-tg-lb-arns: target groups forget the deleted load balancer.
        for tg in self.target_groups.values():
            tg.load_balancer_arns[:] = [a for a in tg.load_balancer_arns if a != arn]

    lm.ELBv2Backend.delete_load_balancer = delete_load_balancer

    orig_describe_tgs = lm.ELBv2Backend.describe_target_groups

    def describe_target_groups(self: Any, *args: Any, **kwargs: Any) -> Any:
        # PATCH elbv2-tg-lb-arns: moto appends the LB ARN once per listener and per
        # rule; real AWS lists each associated, existing load balancer once.
        tgs = list(orig_describe_tgs(self, *args, **kwargs))
        for tg in tgs:
            seen: list[str] = []
            for a in tg.load_balancer_arns:
                if a in self.load_balancers and a not in seen:
                    seen.append(a)
            tg.load_balancer_arns[:] = seen
        return tgs

    lm.ELBv2Backend.describe_target_groups = describe_target_groups

    orig_create_rule = lm.ELBv2Backend.create_rule
    orig_modify_rule = lm.ELBv2Backend.modify_rule

    def create_rule(self: Any, *args: Any, **kwargs: Any) -> Any:
        # PATCH elbv2-rule-conditions: both condition forms in responses.
        rule = orig_create_rule(self, *args, **kwargs)
        rule.conditions = _both_condition_forms(rule.conditions)
        return rule

    def modify_rule(self: Any, *args: Any, **kwargs: Any) -> Any:
        rule = orig_modify_rule(self, *args, **kwargs)
        rule.conditions = _both_condition_forms(rule.conditions)
        return rule

    lm.ELBv2Backend.create_rule = create_rule
    lm.ELBv2Backend.modify_rule = modify_rule


# PATCH elbv2-auth-action-defaults: what DescribeListeners/DescribeRules report for a
# setting the request left out (AuthenticateCognitoActionConfig /
# AuthenticateOidcActionConfig: "The default is ...").
_AUTH_DEFAULTS = {
    "SessionCookieName": "AWSELBAuthSessionCookie",
    "Scope": "openid",
    "SessionTimeout": 604800,
    "OnUnauthenticatedRequest": "authenticate",
}
_AUTH_CONFIG = {"authenticate-cognito": "AuthenticateCognitoConfig", "authenticate-oidc": "AuthenticateOidcConfig"}


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


def _normalise_action(data: dict[str, Any]) -> str | None:
    """Rewrite one action's stored data the way ELBv2 reports it; returns the OIDC
    client secret, which is kept out of the reported data."""
    secret = None
    cfg_key = _AUTH_CONFIG.get(str(data.get("Type", "")))
    if cfg_key and isinstance(data.get(cfg_key), dict):
        cfg = data[cfg_key]
        for key, default in _AUTH_DEFAULTS.items():
            if cfg.get(key) in (None, ""):
                cfg[key] = default
        if cfg_key == "AuthenticateOidcConfig":
            # PATCH elbv2-oidc-secret: the client secret is write-only; UseExistingClientSecret
            # is a request flag of ModifyListener/ModifyRule, not a setting.
            secret = cfg.pop("ClientSecret", None)
            cfg.pop("UseExistingClientSecret", None)
    if data.get("Type") == "forward" and data.get("TargetGroupArn") and "ForwardConfig" not in data:
        # PATCH elbv2-forward-config: a forward to one target group is reported with both
        # forms (ForwardActionConfig: TargetGroupArn and a ForwardConfig of that group,
        # weight 1, stickiness off).
        data["ForwardConfig"] = {
            "TargetGroups": [{"TargetGroupArn": data["TargetGroupArn"], "Weight": 1}],
            "TargetGroupStickinessConfig": {"Enabled": False},
        }
    return secret


# PATCH elbv2-attributes: every ALB attribute DescribeLoadBalancerAttributes reports, with
# the documented default (LoadBalancerAttribute, Key).  ipv6.deny_all_igw_traffic depends on
# the scheme (false internet-facing, true internal).
_ALB_ATTRIBUTE_DEFAULTS = {
    "access_logs.s3.enabled": "false",
    "access_logs.s3.bucket": "",
    "access_logs.s3.prefix": "",
    "client_keep_alive.seconds": "3600",
    "connection_logs.s3.enabled": "false",
    "connection_logs.s3.bucket": "",
    "connection_logs.s3.prefix": "",
    "deletion_protection.enabled": "false",
    "health_check_logs.s3.enabled": "false",
    "health_check_logs.s3.bucket": "",
    "health_check_logs.s3.prefix": "",
    "idle_timeout.timeout_seconds": "60",
    "load_balancing.cross_zone.enabled": "true",
    "routing.http.desync_mitigation_mode": "defensive",
    "routing.http.drop_invalid_header_fields.enabled": "false",
    "routing.http.preserve_host_header.enabled": "false",
    "routing.http.x_amzn_tls_version_and_cipher_suite.enabled": "false",
    "routing.http.xff_client_port.enabled": "false",
    "routing.http.xff_header_processing.mode": "append",
    "routing.http2.enabled": "true",
    "waf.fail_open.enabled": "false",
    "zonal_shift.config.enabled": "false",
}
_BOOL = {"true", "false"}
_ALB_ATTRIBUTE_VALUES: dict[str, Any] = {
    "idle_timeout.timeout_seconds": (1, 4000),
    "client_keep_alive.seconds": (60, 604800),
    "routing.http.desync_mitigation_mode": {"monitor", "defensive", "strictest"},
    "routing.http.xff_header_processing.mode": {"append", "preserve", "remove"},
    "load_balancing.cross_zone.enabled": {"true"},  # "can't be changed" for ALBs
}


def _patch_elbv2_fidelity() -> None:
    from moto.elbv2 import models as lm
    from moto.elbv2 import responses as lr
    from moto.elbv2.exceptions import ELBClientError

    orig_action_init = lm.FakeAction.__init__

    def action_init(self: Any, data: dict[str, Any]) -> None:
        data = copy.deepcopy(data)
        secret = _normalise_action(data)
        orig_action_init(self, data)
        self._costctl_client_secret = secret

    lm.FakeAction.__init__ = action_init

    def _use_existing_secret(actions: list[dict[str, Any]] | None, previous: list[Any]) -> None:
        # ModifyListener/ModifyRule with UseExistingClientSecret=true keep the stored secret;
        # naming a secret as well is refused (InvalidLoadBalancerAction, as AWS answers).
        old = next((getattr(a, "_costctl_client_secret", None) for a in previous if getattr(a, "type", None) == "authenticate-oidc"), None)
        for action in actions or []:
            cfg = action.get("AuthenticateOidcConfig") if action.get("Type") == "authenticate-oidc" else None
            if isinstance(cfg, dict) and _truthy(cfg.get("UseExistingClientSecret")):
                if cfg.get("ClientSecret"):
                    raise ELBClientError(
                        "InvalidLoadBalancerAction",
                        "You cannot both specify a client secret and set UseExistingClientSecret to true",
                    )
                cfg["ClientSecret"] = old

    orig_modify_listener = lm.ELBv2Backend.modify_listener
    orig_modify_rule = lm.ELBv2Backend.modify_rule

    def modify_listener(self: Any, arn: str, port: Any = None, protocol: Any = None, ssl_policy: Any = None, certificates: Any = None, actions: Any = None) -> Any:
        listeners = self.describe_listeners(load_balancer_arn=None, listener_arns=[arn])
        _use_existing_secret(actions, list(listeners[0].default_actions) if listeners else [])
        return orig_modify_listener(self, arn, port, protocol, ssl_policy, certificates, actions)

    def modify_rule(self: Any, rule_arn: str, conditions: Any, actions: Any) -> Any:
        rules = self.describe_rules(listener_arn=None, rule_arns=[rule_arn])
        _use_existing_secret(actions, list(rules[0].actions) if rules else [])
        return orig_modify_rule(self, rule_arn, conditions, actions)

    lm.ELBv2Backend.modify_listener = modify_listener
    lm.ELBv2Backend.modify_rule = modify_rule

    # PATCH elbv2-attributes: defaults for every ALB attribute; ALB-only validation.
    orig_lb_init = lm.FakeLoadBalancer.__init__

    def lb_init(self: Any, *args: Any, **kwargs: Any) -> None:
        orig_lb_init(self, *args, **kwargs)
        if self.type == "application":
            attrs = dict(_ALB_ATTRIBUTE_DEFAULTS)
            attrs["ipv6.deny_all_igw_traffic"] = "true" if self.scheme == "internal" else "false"
            self.attrs = attrs

    lm.FakeLoadBalancer.__init__ = lb_init

    orig_modify_attrs = lm.ELBv2Backend.modify_load_balancer_attributes

    def modify_load_balancer_attributes(self: Any, arn: str, attrs: dict[str, Any]) -> dict[str, Any]:
        lb = self.load_balancers.get(arn)
        if lb is not None and lb.type == "application":
            for key, value in attrs.items():
                value = str(value)
                if key not in lb.attrs:
                    raise ELBClientError("InvalidConfigurationRequest", f"Key {key} not valid")
                allowed = _ALB_ATTRIBUTE_VALUES.get(key)
                if allowed is None and key.endswith(".enabled"):
                    allowed = _BOOL
                ok = True
                if isinstance(allowed, tuple):
                    ok = value.isdigit() and allowed[0] <= int(value) <= allowed[1]
                elif isinstance(allowed, set):
                    ok = value in allowed
                if not ok:
                    raise ELBClientError("InvalidConfigurationRequest", f"Value {value!r} is not valid for attribute {key!r}")
        return orig_modify_attrs(self, arn, {k: str(v) for k, v in attrs.items()})

    lm.ELBv2Backend.modify_load_balancer_attributes = modify_load_balancer_attributes
    lm.FakeLoadBalancer.VALID_ATTRS = set(lm.FakeLoadBalancer.VALID_ATTRS) | set(_ALB_ATTRIBUTE_DEFAULTS)

    # PATCH elbv2-listener-attributes: an ALB listener has the ALB listener attributes
    # (ListenerAttribute, Key: routing.http.request.*.header_name, routing.http.response.*),
    # not the NLB/GWLB tcp.idle_timeout.seconds moto gives every listener; other keys are
    # refused instead of stored.
    orig_listener_init = lm.FakeListener.__init__

    def listener_init(self: Any, *args: Any, **kwargs: Any) -> None:
        orig_listener_init(self, *args, **kwargs)
        if self.protocol in ("HTTP", "HTTPS"):
            self.attributes = {"routing.http.response.server.enabled": "true"}
        if self.protocol == "HTTPS":
            self.mutual_authentication = {"Mode": "off"}

    lm.FakeListener.__init__ = listener_init

    orig_modify_listener_attrs = lm.ELBv2Backend.modify_listener_attributes

    def modify_listener_attributes(self: Any, listener_arn: str, attrs: list[dict[str, str]]) -> dict[str, str]:
        listener = self.describe_listeners(load_balancer_arn=None, listener_arns=[listener_arn])[0]
        if listener.protocol in ("HTTP", "HTTPS"):
            for a in attrs:
                key = a.get("Key", "")
                ok = key == "routing.http.response.server.enabled" or (
                    key.startswith("routing.http.request.x_amzn_") and key.endswith(".header_name")
                ) or (key.startswith("routing.http.response.") and key.endswith(".header_value"))
                if not ok:
                    raise ELBClientError("InvalidConfigurationRequest", f"Key {key} not valid")
        return orig_modify_listener_attrs(self, listener_arn, attrs)

    lm.ELBv2Backend.modify_listener_attributes = modify_listener_attributes

    # PATCH elbv2-mutual-authentication: moto drops MutualAuthentication from
    # CreateListener/ModifyListener.  Stored and reported (MutualAuthenticationAttributes:
    # Mode off | passthrough | verify, default off).  moto has no trust stores
    # (CreateTrustStore is not implemented), so Mode verify, which needs a TrustStoreArn,
    # is answered TrustStoreNotFound.
    def _mutual_auth(listener: Any, value: Any) -> None:
        if not value:
            return
        mode = value.get("Mode", "off")
        if mode not in ("off", "passthrough", "verify"):
            raise ELBClientError("ValidationError", f"Mode {mode!r} is not valid")
        if mode == "verify":
            raise ELBClientError("TrustStoreNotFound", f"Trust store '{value.get('TrustStoreArn')}' not found")
        out: dict[str, Any] = {"Mode": mode}
        if "IgnoreClientCertificateExpiry" in value:
            out["IgnoreClientCertificateExpiry"] = _truthy(value["IgnoreClientCertificateExpiry"])
        listener.mutual_authentication = out

    orig_resp_create_listener = lr.ELBV2Response.create_listener
    orig_resp_modify_listener = lr.ELBV2Response.modify_listener

    def resp_create_listener(self: Any) -> Any:
        mutual = self._get_params().get("MutualAuthentication")
        if mutual and mutual.get("Mode") == "verify":
            _mutual_auth(None, mutual)
        result = orig_resp_create_listener(self)
        _mutual_auth(result.result["Listeners"][0], mutual)
        return result

    def resp_modify_listener(self: Any) -> Any:
        mutual = self._get_params().get("MutualAuthentication")
        if mutual:
            listener = self.elbv2_backend.describe_listeners(None, [self._get_param("ListenerArn")])[0]
            _mutual_auth(listener, mutual)
        return orig_resp_modify_listener(self)

    lr.ELBV2Response.create_listener = resp_create_listener
    lr.ELBV2Response.modify_listener = resp_modify_listener


# --------------------------------------------------------------------------
# WAFv2
# --------------------------------------------------------------------------
def _alb_arn(arn: str) -> bool:
    return ":elasticloadbalancing:" in arn and ":loadbalancer/app/" in arn


def _patch_wafv2() -> None:
    from moto.elbv2 import models as lm
    from moto.wafv2 import models as wm
    from moto.wafv2 import responses as wr
    from moto.wafv2.exceptions import WAFNonexistentItemException

    def _alb_exists(backend: Any, arn: str) -> bool:
        return arn in lm.elbv2_backends[backend.account_id][backend.region_name].load_balancers

    orig_associate = wm.WAFV2Backend.associate_web_acl
    orig_get_for = wm.WAFV2Backend.get_web_acl_for_resource

    def associate_web_acl(self: Any, web_acl_arn: str, resource_arn: str) -> None:
        # PATCH wafv2-alb-association: an ALB that does not exist cannot be associated
        # (WAFNonexistentItemException); a resource has at most one web ACL, so a new
        # association replaces the old one (moto lists the ALB under both).
        if _alb_arn(resource_arn) and not _alb_exists(self, resource_arn):
            raise WAFNonexistentItemException()
        if web_acl_arn not in self.wacls:
            raise WAFNonexistentItemException()
        for acl in self.wacls.values():
            while resource_arn in acl.associated_resources:
                acl.associated_resources.remove(resource_arn)
        orig_associate(self, web_acl_arn, resource_arn)

    def get_web_acl_for_resource(self: Any, resource_arn: str) -> Any:
        if _alb_arn(resource_arn) and not _alb_exists(self, resource_arn):
            raise WAFNonexistentItemException()
        return orig_get_for(self, resource_arn)

    wm.WAFV2Backend.associate_web_acl = associate_web_acl
    wm.WAFV2Backend.get_web_acl_for_resource = get_web_acl_for_resource

    def list_resources_for_web_acl(self: Any) -> Any:
        # PATCH wafv2-alb-association: not implemented in moto (HTTP 500).
        body = json.loads(self.body)
        acl = self.wafv2_backend.wacls.get(body.get("WebACLArn"))
        if acl is None:
            raise WAFNonexistentItemException()
        rtype = body.get("ResourceType") or "APPLICATION_LOAD_BALANCER"
        arns = [a for a in acl.associated_resources if rtype != "APPLICATION_LOAD_BALANCER" or _alb_arn(a)]
        return 200, {"Content-Type": "application/x-amz-json-1.1"}, json.dumps({"ResourceArns": arns})

    wr.WAFV2Response.list_resources_for_web_acl = list_resources_for_web_acl

    orig_delete_lb = lm.ELBv2Backend.delete_load_balancer

    def delete_load_balancer(self: Any, arn: str) -> None:
        # PATCH wafv2-alb-association: deleting the ALB ends its web ACL association.
        orig_delete_lb(self, arn)
        if arn not in self.load_balancers:
            backend = wm.wafv2_backends[self.account_id][self.region_name]
            for acl in backend.wacls.values():
                while arn in acl.associated_resources:
                    acl.associated_resources.remove(arn)

    lm.ELBv2Backend.delete_load_balancer = delete_load_balancer


# --------------------------------------------------------------------------
# CloudWatch
# --------------------------------------------------------------------------
def _patch_cloudwatch() -> None:
    from moto.cloudwatch import models as cm
    from moto.cloudwatch import responses as cr
    from moto.core.responses import EmptyResult

    def _set_actions(self: Any, enabled: bool) -> Any:
        # PATCH cloudwatch-alarm-actions: DisableAlarmActions / EnableAlarmActions raise
        # NotImplementedError in moto (HTTP 500); they switch ActionsEnabled of the named alarms.
        for name in self._get_param("AlarmNames", []) or []:
            alarm = self.cloudwatch_backend.alarms.get(name)
            if alarm is not None:
                alarm.actions_enabled = enabled
        return EmptyResult()

    cr.CloudWatchResponse.disable_alarm_actions = lambda self: _set_actions(self, False)
    cr.CloudWatchResponse.enable_alarm_actions = lambda self: _set_actions(self, True)

    orig_put = cm.CloudWatchBackend.put_metric_alarm

    def put_metric_alarm(self: Any, name: str, *args: Any, **kwargs: Any) -> Any:
        # PATCH cloudwatch-alarm-update: updating an existing alarm leaves its state unchanged
        # and ignores Tags (PutMetricAlarm); moto resets the state and adds the tags.
        existing = self.alarms.get(name)
        if existing is not None:
            kwargs["tags"] = None
        alarm = orig_put(self, name, *args, **kwargs)
        if existing is not None:
            for attr in ("state_value", "state_reason", "state_reason_data", "state_updated_timestamp"):
                if hasattr(existing, attr):
                    setattr(alarm, attr, getattr(existing, attr))
        return alarm

    cm.CloudWatchBackend.put_metric_alarm = put_metric_alarm


# --------------------------------------------------------------------------
# Application Auto Scaling
# --------------------------------------------------------------------------
def _patch_autoscaling() -> None:
    from moto.applicationautoscaling import models as am
    from moto.applicationautoscaling.exceptions import AWSValidationException

    orig = am.ApplicationAutoscalingBackend.register_scalable_target

    def register_scalable_target(
        self: Any,
        namespace: str,
        r_id: str,
        dimension: str,
        min_capacity: int | None,
        max_capacity: int | None,
        role_arn: str,
        suspended_state: str,
    ) -> Any:
        # PATCH autoscaling-min-max: real Application Auto Scaling rejects a
        # target whose resulting MinCapacity exceeds MaxCapacity (moto stores it).
        existing = self.targets.get(dimension, {}).get(r_id)
        new_min = min_capacity if min_capacity is not None else getattr(existing, "min_capacity", None)
        new_max = max_capacity if max_capacity is not None else getattr(existing, "max_capacity", None)
        if new_min is not None and new_max is not None and int(new_min) > int(new_max):
            raise AWSValidationException("Minimum capacity cannot be greater than maximum capacity")
        return orig(self, namespace, r_id, dimension, min_capacity, max_capacity, role_arn, suspended_state)

    am.ApplicationAutoscalingBackend.register_scalable_target = register_scalable_target


# --------------------------------------------------------------------------
# Route53
# --------------------------------------------------------------------------
def _patch_route53() -> None:
    from moto.route53 import models as r53

    orig = r53.RecordSet.__init__

    def rs_init(self: Any, kwargs: dict[str, Any]) -> None:
        # PATCH route53-alias-ttl: alias records have no TTL in real Route53;
        # moto reports TTL 0 for them.
        orig(self, kwargs)
        if self.alias_target and "TTL" not in kwargs:
            self.ttl = None

    r53.RecordSet.__init__ = rs_init


# --------------------------------------------------------------------------
# EC2 networking: NAT gateways, routes, Elastic IPs, interface VPC endpoints
# --------------------------------------------------------------------------
# PATCH ec2-vpce-default-policy: what an interface endpoint created without PolicyDocument
# reports: "If you don't attach an endpoint policy, we attach the default endpoint policy",
# `{"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}]}`
# (https://docs.aws.amazon.com/vpc/latest/privatelink/vpc-endpoints-access.html, "Default
# endpoint policy"); moto's has "Version": "2008-10-17", which gateway endpoints keep.
_DEFAULT_ENDPOINT_POLICY: dict[str, Any] = {
    "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}]
}

# DescribeNatGateways filters besides tag:<key> / tag-key
# (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeNatGateways.html).
_NAT_FILTER_ATTRS = {"nat-gateway-id": "id", "state": "state", "subnet-id": "subnet_id", "vpc-id": "vpc_id"}


def _matches(value: Any, patterns: list[str]) -> bool:
    """An EC2 filter: true when one of the values matches one of the patterns (`*`, `?`)."""
    values = value if isinstance(value, (list, tuple, set)) else [value]
    return any(v is not None and fnmatch.fnmatchcase(str(v), str(p)) for v in values for p in patterns)


def _tag_map(resource: Any) -> dict[str, str]:
    return {t["key"]: t["value"] for t in resource.get_tags()}


def _used_ips(backend: Any, subnet_id: str) -> set[str]:
    used: set[str] = set()
    for eni in backend.enis.values():
        if getattr(eni.subnet, "id", None) != subnet_id:
            continue
        used.add(str(eni.private_ip_address))
        used.update(str(a.get("PrivateIpAddress")) for a in eni.private_ip_addresses or [])
    return used


def _subnet_ip(backend: Any, subnet: Any, wanted: str | None) -> str:
    """The NAT gateway's primary private IPv4 address: `wanted` (CreateNatGateway
    PrivateIpAddress) or a free one "from the IP address range of the subnet". The first four
    addresses and the last one of a subnet are reserved
    (https://docs.aws.amazon.com/vpc/latest/userguide/subnet-sizing.html)."""
    from moto.ec2.exceptions import EC2ClientError

    net = ipaddress.ip_network(subnet.cidr_block, strict=False)
    used = _used_ips(backend, subnet.id)
    if wanted:
        try:
            ip = ipaddress.ip_address(wanted)
        except ValueError:
            raise EC2ClientError("InvalidParameterValue", f"Invalid value '{wanted}' for PrivateIpAddress") from None
        if ip not in net:
            raise EC2ClientError("InvalidParameterValue", f"Address {wanted} does not fall within the subnet's address range")
        offset = int(ip) - int(net.network_address)
        if offset < 4 or offset == net.num_addresses - 1:
            raise EC2ClientError("InvalidParameterValue", f"Address {wanted} is in subnet's reserved address range")
        if wanted in used:
            raise EC2ClientError("InvalidIPAddress.InUse", f"Address {wanted} is in use.")
        return wanted
    for _ in range(1000):
        ip_s = str(net.network_address + random.randint(4, net.num_addresses - 2))
        if ip_s not in used:
            return ip_s
    raise EC2ClientError("InsufficientFreeAddressesInSubnet", "Subnet has insufficient free addresses to create this NAT gateway")


def _idempotent(backend: Any, action: str, token: str | None, params: dict[str, Any]) -> str | None:
    """ClientToken idempotency ("Ensuring idempotency in Amazon EC2 API requests",
    https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-idempotency.html): a retry of a
    successful request with the same client token and the same parameters "succeeds without
    performing any further actions" (the id of what the first one created); the same token with
    different parameters fails with IdempotentParameterMismatch
    (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html)."""
    from moto.ec2.exceptions import EC2ClientError

    if not token:
        return None
    known = getattr(backend, "_costctl_client_tokens", {}).get((action, token))
    if known is None:
        return None
    if known[0] != _fingerprint(params):
        raise EC2ClientError(
            "IdempotentParameterMismatch",
            "The request uses the same client token as a previous, but non-identical request. "
            "Do not reuse a client token with different requests, unless the requests are identical.",
        )
    return str(known[1])


def _remember(backend: Any, action: str, token: str | None, params: dict[str, Any], resource_id: str) -> None:
    if token:
        tokens = backend.__dict__.setdefault("_costctl_client_tokens", {})
        tokens[(action, token)] = (_fingerprint(params), resource_id)


def _fingerprint(params: dict[str, Any]) -> str:
    return json.dumps({k: v for k, v in params.items() if k not in ("Action", "Version", "ClientToken", "DryRun")}, sort_keys=True, default=str)


def _private_dns_name(backend: Any, service_name: str) -> str:
    """The DNS domain of an AWS service's private hosted zone (CreateVpcEndpoint
    PrivateDnsEnabled: "a record set for the default public DNS name for the service for the
    Region (for example, kinesis.us-east-1.amazonaws.com)"): moto's endpoint-service catalogue
    (`*.dkr.ecr.REGION.amazonaws.com`, `api.ecr.REGION.amazonaws.com`, ...), else
    com.amazonaws.REGION.SVC -> SVC.REGION.amazonaws.com."""
    try:
        for svc in backend._collect_default_endpoint_services(backend.account_id, backend.region_name):
            if svc.get("ServiceName") == service_name and svc.get("PrivateDnsName"):
                return str(svc["PrivateDnsName"])
    except Exception:  # noqa: BLE001 - the catalogue is a convenience only
        pass
    parts = service_name.split(".")
    if len(parts) >= 4 and parts[0] == "com" and parts[1] == "amazonaws":
        return ".".join(reversed(parts[3:])) + f".{parts[2]}.amazonaws.com"
    return service_name


def _is_interface(endpoint: Any) -> bool:
    return str(endpoint.vpc_endpoint_type or "").lower() == "interface"


def _patch_ec2_network() -> None:
    from moto.core.responses import ActionResult
    from moto.core.utils import iso_8601_datetime_with_milliseconds, utcnow
    from moto.ec2.exceptions import EC2ClientError, InvalidParameter
    from moto.ec2.models import elastic_ip_addresses as eipm
    from moto.ec2.models import nat_gateways as ngm
    from moto.ec2.models import route_tables as rtm
    from moto.ec2.models import vpcs as vm
    from moto.ec2.responses import EC2Response
    from moto.ec2.responses import nat_gateways as ngr
    from moto.ec2.responses import vpcs as vr
    from moto.ec2.utils import add_tag_specification, random_nat_gateway_id

    def NatGatewayNotFound(nat_gateway_id: str) -> Exception:
        # DescribeNatGateways (NatGatewayIds) / DeleteNatGateway of an id that does not exist:
        # "NatGatewayNotFound: NAT gateway nat-... was not found" (as real answers read; the
        # Terraform AWS provider treats this code as "already gone").
        return EC2ClientError("NatGatewayNotFound", f"NAT gateway {nat_gateway_id} was not found")

    # ---------------------------------------------------------------- state machine
    def _nat_ready(backend: Any, nat: Any) -> None:
        if nat._costctl_failure is not None:
            # PATCH ec2-nat-eip-in-use: the create "goes to a state of Failed"; the state
            # message gives the reason (Troubleshoot NAT gateways,
            # https://docs.aws.amazon.com/vpc/latest/userguide/nat-gateway-troubleshooting.html;
            # NatGateway failureCode/failureMessage,
            # https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_NatGateway.html).
            nat.state = "failed"
            nat.failure_code, nat.failure_message = nat._costctl_failure
            backend.enis.pop(nat._eni.id, None)
        else:
            nat.state = "available"

    def _nat_deleted(backend: Any, nat: Any) -> None:
        # PATCH ec2-nat-lifecycle: "Deleting a public NAT gateway disassociates its Elastic IP
        # address, but does not release the address from your account. Deleting a NAT gateway
        # does not delete any NAT gateway routes in your route tables."
        # (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DeleteNatGateway.html);
        # its network interface goes with it.
        nat.state = "deleted"
        for eip in list(backend.addresses):
            if eip.eni is not None and eip.eni is nat._eni:
                backend.disassociate_address(address=eip.public_ip)
        backend.enis.pop(nat._eni.id, None)
        for address in nat.address_set:
            address.pop("associationId", None)

    def _advance(backend: Any) -> None:
        """PATCH ec2-nat-lifecycle / ec2-vpce-lifecycle: pending -> available (or failed) once
        --nat-seconds / --endpoint-seconds have passed since the create, deleting -> deleted
        the same time after the delete (0: from the next EC2 request on)."""
        now = time.monotonic()
        nat_delay = float(SETTINGS["nat_seconds"])
        for nat in list(getattr(backend, "nat_gateways", {}).values()):
            created = getattr(nat, "_costctl_created", None)
            if created is None:
                continue
            if nat.state == "pending" and now - created >= nat_delay:
                _nat_ready(backend, nat)
            elif nat.state == "deleting" and now - nat._costctl_deleted >= nat_delay:
                _nat_deleted(backend, nat)
        ep_delay = float(SETTINGS["endpoint_seconds"])
        for ep in list(getattr(backend, "vpc_end_points", {}).values()):
            created = getattr(ep, "_costctl_created", None)
            if created is None:
                continue
            if ep.state == "pending" and now - created >= ep_delay:
                ep.state = "available"
            elif ep.state == "deleting" and now - ep._costctl_deleted >= ep_delay:
                # A deleted interface endpoint's network interfaces are gone.
                ep.state = "deleted"
                for eni_id in ep.network_interface_ids:
                    backend.enis.pop(eni_id, None)

    orig_call_action = EC2Response.call_action

    def call_action(self: Any) -> Any:
        with _lock:
            _advance(self.ec2_backend)
        return orig_call_action(self)

    EC2Response.call_action = call_action

    # ---------------------------------------------------------------- NAT gateways
    def nat_init(
        self: Any,
        backend: Any,
        subnet_id: str,
        allocation_id: str | None,
        tags: dict[str, str] | None = None,
        connectivity_type: str | None = "public",
        private_ip: str | None = None,
        associate: bool = True,
    ) -> None:
        # moto's __init__ with: state pending (CreateNatGateway answers `pending`; NatGateway
        # State, https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_NatGateway.html), the primary private IP from the
        # subnet (or PrivateIpAddress, which moto ignored), ConnectivityType `public` by default
        # (moto reported none), and no association of an Elastic IP that is in use.
        subnet = backend.get_subnet(subnet_id)
        self.id = random_nat_gateway_id()
        self.subnet_id = subnet_id
        self.vpc_id = subnet.vpc_id
        self.address_set = []
        self.state = "pending"
        self.connectivity_type = connectivity_type or "public"
        self._created_at = utcnow()
        self.ec2_backend = backend
        self.private_ip = _subnet_ip(backend, subnet, private_ip)
        self._eni = backend.create_network_interface(subnet, self.private_ip, description=f"Interface for NAT Gateway {self.id}")
        if allocation_id and self.connectivity_type != "private" and associate:
            backend.associate_address(eni=self._eni, allocation_id=allocation_id)
        self.add_tags(tags or {})
        self.failure_code: str | None = None
        self.failure_message: str | None = None
        self.delete_time: str | None = None
        self._costctl_created = time.monotonic()
        self._costctl_deleted: float | None = None
        self._costctl_failure: tuple[str, str] | None = None

    ngm.NatGateway.__init__ = nat_init

    def create_nat_gateway(
        self: Any,
        subnet_id: str,
        allocation_id: str | None,
        tags: dict[str, str] | None = None,
        connectivity_type: str | None = "public",
        private_ip: str | None = None,
    ) -> Any:
        # PATCH ec2-nat-create: unknown subnet -> InvalidSubnetID.NotFound, unknown allocation
        # -> InvalidAllocationID.NotFound (checked before anything is created: moto left an
        # orphan network interface behind), PrivateIpAddress honoured and checked against the
        # subnet. PATCH ec2-nat-eip-in-use: an Elastic IP already associated (with an instance,
        # a network interface, a NAT gateway pending/available/deleting) is not refused by the
        # call (moto: Resource.AlreadyAssociated at once): the NAT gateway is created `pending`
        # and then fails with failureCode Resource.AlreadyAssociated, failureMessage "Elastic IP
        # address eipalloc-xxxxxxxx is already associated"
        # (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_NatGateway.html).
        with _lock:
            subnet = self.get_subnet(subnet_id)
            connectivity_type = connectivity_type or "public"
            eip = None
            if allocation_id and connectivity_type != "private":
                eip = next((a for a in self.addresses if a.allocation_id == allocation_id), None)
                if eip is None:
                    raise EC2ClientError("InvalidAllocationID.NotFound", f"The allocation ID '{allocation_id}' does not exist")
            in_use = eip is not None and (eip.association_id is not None or eip.eni is not None or eip.instance is not None)
            nat = ngm.NatGateway(self, subnet.id, allocation_id, tags, connectivity_type, private_ip, not in_use)
            address: dict[str, Any] = {}
            if eip is not None:
                address["allocationId"] = allocation_id
                if not in_use:
                    address["publicIp"] = eip.public_ip
                    address["associationId"] = eip.association_id
            address["networkInterfaceId"] = nat._eni.id
            address["privateIp"] = nat.private_ip
            address["isPrimary"] = True
            nat.address_set.append(address)
            if in_use:
                nat._costctl_failure = ("Resource.AlreadyAssociated", f"Elastic IP address {allocation_id} is already associated")
            self.nat_gateways[nat.id] = nat
            return nat

    def delete_nat_gateway(self: Any, nat_gateway_id: str) -> Any:
        # PATCH ec2-nat-lifecycle: `deleting` for --nat-seconds, then `deleted` (still listed,
        # with DeleteTime); an unknown id is NatGatewayNotFound (moto: HTTP 500).
        with _lock:
            nat = self.nat_gateways.get(nat_gateway_id)
            if nat is None:
                raise NatGatewayNotFound(nat_gateway_id)
            if nat.state in ("pending", "available", "failed"):
                nat.state = "deleting"
                nat._costctl_deleted = time.monotonic()
                nat.delete_time = iso_8601_datetime_with_milliseconds(utcnow())
            return nat

    def describe_nat_gateways(self: Any, filters: Any, nat_gateway_ids: list[str] | None) -> list[Any]:
        # PATCH ec2-nat-filters: moto filters only on nat-gateway-id, vpc-id, subnet-id, state
        # and ignores any other filter (everything is returned). DescribeNatGateways documents
        # nat-gateway-id, state, subnet-id, tag:<key>, tag-key, vpc-id
        # (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeNatGateways.html); values take * and ?
        # wildcards, several filters are ANDed, the values of one are ORed; another filter name
        # is refused.
        with _lock:
            for nid in nat_gateway_ids or []:
                if nid not in self.nat_gateways:
                    raise NatGatewayNotFound(nid)
            nats = [n for n in self.nat_gateways.values() if not nat_gateway_ids or n.id in nat_gateway_ids]
            for name, values in (filters or {}).items():
                if name.startswith("tag:"):
                    nats = [n for n in nats if _matches(_tag_map(n).get(name[4:]), values)]
                elif name == "tag-key":
                    nats = [n for n in nats if _matches(list(_tag_map(n)), values)]
                elif name in _NAT_FILTER_ATTRS:
                    nats = [n for n in nats if _matches(getattr(n, _NAT_FILTER_ATTRS[name]), values)]
                else:
                    raise EC2ClientError("InvalidParameterValue", f"The filter '{name}' is invalid")
            return nats

    ngm.NatGatewayBackend.create_nat_gateway = create_nat_gateway
    ngm.NatGatewayBackend.delete_nat_gateway = delete_nat_gateway
    ngm.NatGatewayBackend.describe_nat_gateways = describe_nat_gateways

    def resp_create_nat_gateway(self: Any) -> Any:
        # PATCH ec2-nat-idempotency: ClientToken (moto ignores it: a retry creates a second NAT
        # gateway, or fails on the Elastic IP); CreateNatGateway's answer carries ClientToken
        # when one was given (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateNatGateway.html).
        backend = self.ec2_backend
        token = self._get_param("ClientToken")
        with _lock:
            known = _idempotent(backend, "CreateNatGateway", token, self.params)
            if known is not None:
                return ActionResult({"ClientToken": token, "NatGateway": backend.nat_gateways[known]})
            nat = backend.create_nat_gateway(
                subnet_id=self._get_param("SubnetId"),
                allocation_id=self._get_param("AllocationId"),
                tags=add_tag_specification(self._get_param("TagSpecifications", [])),
                connectivity_type=self._get_param("ConnectivityType"),
                private_ip=self._get_param("PrivateIpAddress"),
            )
            _remember(backend, "CreateNatGateway", token, self.params, nat.id)
        out: dict[str, Any] = {"NatGateway": nat}
        if token:
            out["ClientToken"] = token
        return ActionResult(out)

    ngr.NatGateways.create_nat_gateway = resp_create_nat_gateway

    # ---------------------------------------------------------------- routes
    # PATCH ec2-route-blackhole: moto reports every route `active`. Route State: "The blackhole
    # state indicates that the route's target isn't available"
    # (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_Route.html): a route to a NAT gateway that is deleted
    # (or failed) is a blackhole.
    def route_state(self: Any) -> str:
        nat = self.nat_gateway
        if nat is not None and nat.state in ("deleted", "failed"):
            return "blackhole"
        return "active"

    rtm.Route.state = property(route_state)

    def _nat_target(backend: Any, orig: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        # PATCH ec2-route-nat-target: a NatGatewayId that does not exist is refused with
        # InvalidNatGatewayID.NotFound ("The natGateway ID 'nat-...' does not exist"; error
        # codes, https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html); moto stored a route without a
        # target.
        bound = inspect.signature(orig).bind(backend, *args, **kwargs)
        backend.get_route_table(bound.arguments["route_table_id"])
        nat_id = bound.arguments.get("nat_gateway_id")
        if nat_id is not None and nat_id not in backend.nat_gateways:
            raise EC2ClientError("InvalidNatGatewayID.NotFound", f"The natGateway ID '{nat_id}' does not exist")

    orig_create_route = rtm.RouteBackend.create_route
    orig_replace_route = rtm.RouteBackend.replace_route

    def create_route(self: Any, *args: Any, **kwargs: Any) -> Any:
        _nat_target(self, orig_create_route, args, kwargs)
        return orig_create_route(self, *args, **kwargs)

    def replace_route(self: Any, *args: Any, **kwargs: Any) -> Any:
        _nat_target(self, orig_replace_route, args, kwargs)
        return orig_replace_route(self, *args, **kwargs)

    rtm.RouteBackend.create_route = create_route
    rtm.RouteBackend.replace_route = replace_route

    # ---------------------------------------------------------------- Elastic IPs
    # PATCH ec2-eip-unassociated: an address associated with nothing has no InstanceId /
    # NetworkInterfaceId (moto reports "" for both; Address,
    # https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_Address.html).
    eipm.ElasticAddress.instance_id = property(lambda self: self.instance.id if self.instance else None)
    eipm.ElasticAddress.network_interface_id = property(lambda self: self.eni.id if self.eni else None)

    # ---------------------------------------------------------------- interface endpoints
    orig_resp_create_vpce = vr.VPCs.create_vpc_endpoint

    def resp_create_vpc_endpoint(self: Any) -> Any:
        # PATCH ec2-vpce-create (CreateVpcEndpoint,
        # https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateVpcEndpoint.html): ClientToken idempotency
        # (moto creates another endpoint) and ClientToken in the answer;
        # an interface endpoint answers `pending` (moto: `available`) and keeps IpAddressType
        # (ipv4 | dualstack | ipv6, default ipv4) and DnsOptions (DnsRecordIpType defaults to the
        # endpoint's IP address type, PrivateDnsOnlyForInboundResolverEndpoint to false), which
        # moto drops (VpcEndpoint, https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_VpcEndpoint.html).
        backend = self.ec2_backend
        token = self._get_param("ClientToken")
        with _lock:
            known = _idempotent(backend, "CreateVpcEndpoint", token, self.params)
            if known is not None:
                return ActionResult({"VpcEndpoint": backend.vpc_end_points[known], "ClientToken": token})
            interface = str(self._get_param("VpcEndpointType") or "").lower() == "interface"
            vpc_id = self._get_param("VpcId")
            service = self._get_param("ServiceName") or ""
            if interface and self._get_bool_param("PrivateDnsEnabled", if_none=True):
                # PATCH ec2-vpce-private-dns: the private hosted zone of an endpoint with
                # private DNS covers the service's domain in the VPC; a second one is refused
                # while another endpoint of the service with private DNS is not deleted
                # (InvalidParameter "private-dns-enabled cannot be set because there is already a
                # conflicting DNS domain for DOMAIN in the VPC vpc-...", as AWS answers:
                # https://github.com/hashicorp/terraform-provider-aws/issues/17535).
                domain = _private_dns_name(backend, service)
                for other in backend.vpc_end_points.values():
                    if (
                        other.vpc_id == vpc_id
                        and _is_interface(other)
                        and other.private_dns_enabled
                        and other.state != "deleted"
                        and _private_dns_name(backend, other.service_name) == domain
                    ):
                        raise InvalidParameter(
                            f"private-dns-enabled cannot be set because there is already a conflicting DNS domain for {domain} in the VPC {vpc_id}"
                        )
            result = orig_resp_create_vpce(self)
            ep = result.result["VpcEndpoint"]
            if interface:
                ip_type = str(self._get_param("IpAddressType") or "ipv4")
                dns = self._get_param("DnsOptions") or {}
                ep.ip_address_type = ip_type
                ep.dns_options = {
                    "DnsRecordIpType": str(dns.get("DnsRecordIpType") or ip_type),
                    "PrivateDnsOnlyForInboundResolverEndpoint": _truthy(dns.get("PrivateDnsOnlyForInboundResolverEndpoint", False)),
                }
                if not self._get_param("PolicyDocument"):
                    ep.policy_document = json.dumps(_DEFAULT_ENDPOINT_POLICY)
                # PATCH ec2-vpce-lifecycle: `pending` for --endpoint-seconds, then `available`.
                ep.state = "pending"
                ep._costctl_created = time.monotonic()
                ep._costctl_deleted = None
            _remember(backend, "CreateVpcEndpoint", token, self.params, ep.id)
        if token:
            result.result["ClientToken"] = token
        return result

    vr.VPCs.create_vpc_endpoint = resp_create_vpc_endpoint

    orig_delete_vpce = vm.VPCBackend.delete_vpc_endpoints

    def delete_vpc_endpoints(self: Any, vpce_ids: list[str] | None = None) -> list[dict[str, Any]]:
        # PATCH ec2-vpce-lifecycle: an interface endpoint is `deleting` for --endpoint-seconds,
        # then `deleted` with its network interfaces gone (moto: `deleted` at once); an unknown
        # id is reported in Unsuccessful with InvalidVpcEndpoint.NotFound
        # (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DeleteVpcEndpoints.html; moto: nothing). Gateway
        # endpoints: moto's behaviour.
        unsuccessful: list[dict[str, Any]] = []
        with _lock:
            for vpce_id in vpce_ids or []:
                ep = self.vpc_end_points.get(vpce_id)
                if ep is None:
                    unsuccessful.append({
                        "Error": {"Code": "InvalidVpcEndpoint.NotFound", "Message": f"The VPC endpoint ID '{vpce_id}' does not exist"},
                        "ResourceId": vpce_id,
                    })
                elif _is_interface(ep) and getattr(ep, "_costctl_created", None) is not None:
                    if ep.state in ("pending", "available"):
                        ep.state = "deleting"
                        ep._costctl_deleted = time.monotonic()
                else:
                    orig_delete_vpce(self, [vpce_id])
        return unsuccessful

    vm.VPCBackend.delete_vpc_endpoints = delete_vpc_endpoints

    def resp_delete_vpc_endpoints(self: Any) -> Any:
        unsuccessful = self.ec2_backend.delete_vpc_endpoints(vpce_ids=self._get_param("VpcEndpointIds", []))
        return ActionResult({"Unsuccessful": unsuccessful})

    vr.VPCs.delete_vpc_endpoints = resp_delete_vpc_endpoints


def apply(msk_create_seconds: float = 0.0, nat_seconds: float = 0.0, endpoint_seconds: float = 0.0) -> None:
    global _applied
    SETTINGS["msk_create_seconds"] = float(msk_create_seconds)
    SETTINGS["nat_seconds"] = float(nat_seconds)
    SETTINGS["endpoint_seconds"] = float(endpoint_seconds)
    with _lock:
        if _applied:
            return
        if moto.__version__ != PINNED_MOTO:
            raise SystemExit(
                f"costctl emulator: moto {moto.__version__} installed, patches are written for {PINNED_MOTO} "
                "(pip install -r tests/emulator/requirements.txt)"
            )
        _patch_kafka()
        _patch_ecs()
        _patch_rds()
        _patch_elbv2()
        _patch_elbv2_fidelity()
        _patch_wafv2()
        _patch_cloudwatch()
        _patch_autoscaling()
        _patch_route53()
        _patch_ec2_network()
        _applied = True
