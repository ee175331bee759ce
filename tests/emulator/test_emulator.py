"""Tests of costctl's emulator launcher: every moto patch, latency, throttling,
statistics and the ready-line / lifecycle protocol.  boto3 only, 127.0.0.1 only.

    python3 -m pytest -q tests/emulator
"""

from __future__ import annotations

import itertools
import json
import os
import re
import subprocess
import sys
import time
import urllib.request
import uuid
from datetime import datetime
from typing import Any, Iterator

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

HERE = os.path.dirname(os.path.abspath(__file__))
LAUNCHER = os.path.join(HERE, "costctl_emulator.py")
READY = re.compile(r"^COSTCTL_EMULATOR_READY port=(\d+)$")


class Emulator:
    def __init__(self, *args: str):
        self.proc = subprocess.Popen(
            [sys.executable, LAUNCHER, "--port", "0", *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        line = self.proc.stdout.readline()  # type: ignore[union-attr]
        m = READY.match(line.rstrip("\n"))
        if not m:
            self.proc.kill()
            raise AssertionError(f"no ready line, got {line!r}; stderr: {self.proc.stderr.read()}")  # type: ignore[union-attr]
        self.line = line
        self.port = int(m.group(1))
        self.url = f"http://127.0.0.1:{self.port}"

    def client(self, service: str, retries: int = 1) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=Config(retries={"total_max_attempts": retries, "mode": "standard"}),
        )

    def control(self, name: str, doc: Any = None) -> Any:
        data = None if doc is None else json.dumps(doc).encode()
        method = "GET" if doc is None and name in ("stats", "config") else "POST"
        req = urllib.request.Request(f"{self.url}/_costctl/{name}", data=data if data is not None else (b"" if method == "POST" else None), method=method)
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read())

    def reset_moto(self) -> None:
        urllib.request.urlopen(urllib.request.Request(f"{self.url}/moto-api/reset", data=b"", method="POST"), timeout=10).read()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    e = Emulator()
    yield e
    e.stop()


@pytest.fixture(scope="module")
def slow_msk() -> Iterator[Emulator]:
    e = Emulator("--msk-create-seconds", "1")
    yield e
    e.stop()


def uid() -> str:
    return uuid.uuid4().hex[:8]


def raw_bodies(client: Any) -> list[bytes]:
    """Collect raw response bodies of a boto3 client."""
    bodies: list[bytes] = []
    client.meta.events.register("before-parse", lambda response_dict, **_: bodies.append(response_dict["body"]))
    return bodies


def code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return exc.value.response["Error"]["Code"]


def network(emu: Emulator) -> tuple[str, list[str], str]:
    ec2 = emu.client("ec2")
    vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    subnets = [s["SubnetId"] for s in ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]][:2]
    sg = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["SecurityGroups"][0]["GroupId"]
    return vpc, subnets, sg


# --------------------------------------------------------------------------- protocol
def test_ready_line_and_free_port(emu: Emulator) -> None:
    assert emu.line == f"COSTCTL_EMULATOR_READY port={emu.port}\n"
    assert emu.port > 0
    assert emu.client("sts").get_caller_identity()["Account"] == "123456789012"


def test_refuses_non_loopback_host() -> None:
    proc = subprocess.run([sys.executable, LAUNCHER, "--host", "0.0.0.0", "--port", "0"], stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
    assert proc.returncode != 0
    assert "COSTCTL_EMULATOR_READY" not in proc.stdout
    assert "loopback" in proc.stderr


def test_exits_when_stdin_closes() -> None:
    e = Emulator()
    try:
        e.proc.stdin.close()  # type: ignore[union-attr]
        assert e.proc.wait(10) == 0
    finally:
        e.stop()


def test_exits_on_sigterm() -> None:
    e = Emulator()
    e.proc.terminate()
    assert e.proc.wait(10) == 0


# --------------------------------------------------------------------------- kafka
def create_msk(emu: Emulator, name: str) -> dict[str, Any]:
    return emu.client("kafka").create_cluster_v2(
        ClusterName=name,
        Tags={"costctl:stack": "order-tracking-dev"},
        Serverless={
            "VpcConfigs": [{"SubnetIds": ["subnet-a", "subnet-b"], "SecurityGroupIds": ["sg-1"]}],
            "ClientAuthentication": {"Sasl": {"Iam": {"Enabled": True}}},
        },
    )


def test_kafka_timestamps_have_zone_and_arn_is_real_format(emu: Emulator) -> None:
    k = emu.client("kafka")
    name = "msk-" + uid()
    created = create_msk(emu, name)
    assert re.fullmatch(rf"arn:aws:kafka:us-east-1:123456789012:cluster/{name}/[0-9a-f-]{{36}}-s1", created["ClusterArn"])
    bodies = raw_bodies(k)
    info = k.describe_cluster_v2(ClusterArn=created["ClusterArn"])["ClusterInfo"]
    raw = json.loads(bodies[-1])["clusterInfo"]["creationTime"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", raw), raw
    assert info["CreationTime"].utcoffset() is not None
    listed = k.list_clusters_v2()
    assert all(json.loads(bodies[-1])["clusterInfoList"][i]["creationTime"].endswith("Z") for i in range(len(listed["ClusterInfoList"])))


def test_kafka_lifecycle_immediate(emu: Emulator) -> None:
    k = emu.client("kafka")
    name = "msk-" + uid()
    created = create_msk(emu, name)
    arn = created["ClusterArn"]
    assert created["State"] == "CREATING"
    info = k.describe_cluster_v2(ClusterArn=arn)["ClusterInfo"]
    assert info["State"] == "ACTIVE"
    assert info["Serverless"]["ClientAuthentication"]["Sasl"]["Iam"]["Enabled"] is True
    assert info["Serverless"]["VpcConfigs"][0]["SubnetIds"] == ["subnet-a", "subnet-b"]
    assert info["Tags"] == {"costctl:stack": "order-tracking-dev"}
    boot = k.get_bootstrap_brokers(ClusterArn=arn)["BootstrapBrokerStringSaslIam"]
    cluster_uuid = arn.rsplit("/", 1)[1]
    assert boot == f"boot-{cluster_uuid.replace('-', '')[:8]}.c1.kafka-serverless.us-east-1.amazonaws.com:9098"
    deleted = k.delete_cluster(ClusterArn=arn)
    assert deleted["ClusterArn"] == arn and deleted["State"] == "DELETING"
    assert arn not in [c["ClusterArn"] for c in k.list_clusters_v2()["ClusterInfoList"]]
    with pytest.raises(ClientError) as exc:
        k.describe_cluster_v2(ClusterArn=arn)
    assert code(exc) == "NotFoundException"


def test_kafka_lifecycle_with_delay(slow_msk: Emulator) -> None:
    k = slow_msk.client("kafka")
    arn = create_msk(slow_msk, "slow-" + uid())["ClusterArn"]
    assert k.describe_cluster_v2(ClusterArn=arn)["ClusterInfo"]["State"] == "CREATING"
    with pytest.raises(ClientError) as exc:
        k.get_bootstrap_brokers(ClusterArn=arn)
    assert code(exc) == "BadRequestException"
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert "CREATING" in exc.value.response["Error"]["Message"]
    time.sleep(1.1)
    assert k.describe_cluster_v2(ClusterArn=arn)["ClusterInfo"]["State"] == "ACTIVE"
    assert k.get_bootstrap_brokers(ClusterArn=arn)["BootstrapBrokerStringSaslIam"].endswith(":9098")
    assert k.delete_cluster(ClusterArn=arn)["State"] == "DELETING"
    assert k.describe_cluster_v2(ClusterArn=arn)["ClusterInfo"]["State"] == "DELETING"
    assert [c["State"] for c in k.list_clusters_v2()["ClusterInfoList"] if c["ClusterArn"] == arn] == ["DELETING"]
    time.sleep(1.1)
    assert arn not in [c["ClusterArn"] for c in k.list_clusters_v2()["ClusterInfoList"]]


@pytest.mark.parametrize("op", ["describe_cluster_v2", "describe_cluster", "delete_cluster", "get_bootstrap_brokers", "list_tags_for_resource"])
def test_kafka_unknown_cluster_is_404(emu: Emulator, op: str) -> None:
    k = emu.client("kafka")
    arn = f"arn:aws:kafka:us-east-1:123456789012:cluster/nope/{uuid.uuid4()}-s1"
    bodies = raw_bodies(k)
    kwargs = {"ResourceArn": arn} if op == "list_tags_for_resource" else {"ClusterArn": arn}
    with pytest.raises(ClientError) as exc:
        getattr(k, op)(**kwargs)
    resp = exc.value.response
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert resp["ResponseMetadata"]["HTTPHeaders"]["x-amzn-errortype"] == "NotFoundException"
    assert code(exc) == "NotFoundException"
    assert "message" in json.loads(bodies[-1])


def test_kafka_list_filter_and_pagination(emu: Emulator) -> None:
    k = emu.client("kafka")
    prefix = "pg-" + uid()
    arns = {create_msk(emu, f"{prefix}-{i}")["ClusterArn"] for i in range(3)}
    create_msk(emu, "other-" + uid())
    page1 = k.list_clusters_v2(ClusterNameFilter=prefix, MaxResults=2)
    assert len(page1["ClusterInfoList"]) == 2 and page1.get("NextToken")
    page2 = k.list_clusters_v2(ClusterNameFilter=prefix, MaxResults=2, NextToken=page1["NextToken"])
    assert "NextToken" not in page2
    assert {c["ClusterArn"] for c in page1["ClusterInfoList"] + page2["ClusterInfoList"]} == arns


# --------------------------------------------------------------------------- ecs
@pytest.fixture(scope="module")
def ecs_cluster(emu: Emulator) -> str:
    e = emu.client("ecs")
    _, subnets, sg = network(emu)
    cluster = "ecs-" + uid()
    e.create_cluster(clusterName=cluster)
    e.register_task_definition(family="td", containerDefinitions=[{"name": "c", "image": "x", "memory": 128}], requiresCompatibilities=["FARGATE"], networkMode="awsvpc", cpu="256", memory="512")
    for i in range(13):
        e.create_service(
            cluster=cluster, serviceName=f"svc{i:02d}", taskDefinition="td", desiredCount=2, launchType="FARGATE",
            tags=[{"key": "costctl:role", "value": str(i)}],
            networkConfiguration={"awsvpcConfiguration": {"subnets": subnets, "securityGroups": [sg]}},
        )
    return cluster


def test_ecs_list_services_paginates(emu: Emulator, ecs_cluster: str) -> None:
    e = emu.client("ecs")
    first = e.list_services(cluster=ecs_cluster)
    assert len(first["serviceArns"]) == 10 and first["nextToken"]
    second = e.list_services(cluster=ecs_cluster, nextToken=first["nextToken"])
    assert len(second["serviceArns"]) == 3 and "nextToken" not in second
    small = e.list_services(cluster=ecs_cluster, maxResults=5)
    assert len(small["serviceArns"]) == 5
    every = [a for page in e.get_paginator("list_services").paginate(cluster=ecs_cluster, PaginationConfig={"PageSize": 4}) for a in page["serviceArns"]]
    assert len(every) == len(set(every)) == 13


def test_ecs_list_clusters_paginates(emu: Emulator, ecs_cluster: str) -> None:
    e = emu.client("ecs")
    for i in range(3):
        e.create_cluster(clusterName=f"lc-{uid()}-{i}")
    total = len(e.list_clusters()["clusterArns"])
    page = e.list_clusters(maxResults=2)
    assert len(page["clusterArns"]) == 2 and page["nextToken"]
    every = [a for p in e.get_paginator("list_clusters").paginate(PaginationConfig={"PageSize": 2}) for a in p["clusterArns"]]
    assert len(every) == len(set(every)) == total >= 4


def test_ecs_describe_services_limit(emu: Emulator, ecs_cluster: str) -> None:
    e = emu.client("ecs")
    with pytest.raises(ClientError) as exc:
        e.describe_services(cluster=ecs_cluster, services=[f"svc{i:02d}" for i in range(11)])
    assert code(exc) == "InvalidParameterException"
    assert "at most 10" in exc.value.response["Error"]["Message"]
    assert len(e.describe_services(cluster=ecs_cluster, services=[f"svc{i:02d}" for i in range(10)])["services"]) == 10


def test_ecs_counts_follow_desired_count(emu: Emulator, ecs_cluster: str) -> None:
    e = emu.client("ecs")
    svc = e.describe_services(cluster=ecs_cluster, services=["svc00"], include=["TAGS"])["services"][0]
    assert (svc["desiredCount"], svc["runningCount"], svc["pendingCount"]) == (2, 2, 0)
    assert svc["tags"] == [{"key": "costctl:role", "value": "0"}]
    for desired in (0, 3):
        e.update_service(cluster=ecs_cluster, service="svc00", desiredCount=desired)
        svc = e.describe_services(cluster=ecs_cluster, services=["svc00"])["services"][0]
        assert (svc["desiredCount"], svc["runningCount"], svc["pendingCount"]) == (desired, desired, 0)
        dep = svc["deployments"][0]
        assert (dep["status"], dep["desiredCount"], dep["runningCount"], dep["pendingCount"], dep["rolloutState"]) == ("PRIMARY", desired, desired, 0, "COMPLETED")


# --------------------------------------------------------------------------- application autoscaling
def test_autoscaling_min_above_max_rejected(emu: Emulator, ecs_cluster: str) -> None:
    a = emu.client("application-autoscaling")
    rid = f"service/{ecs_cluster}/svc01"
    a.register_scalable_target(ServiceNamespace="ecs", ResourceId=rid, ScalableDimension="ecs:service:DesiredCount", MinCapacity=1, MaxCapacity=4)
    a.register_scalable_target(ServiceNamespace="ecs", ResourceId=rid, ScalableDimension="ecs:service:DesiredCount", MinCapacity=0, MaxCapacity=0)
    with pytest.raises(ClientError) as exc:
        a.register_scalable_target(ServiceNamespace="ecs", ResourceId=rid, ScalableDimension="ecs:service:DesiredCount", MinCapacity=2)
    assert code(exc) == "ValidationException"
    targets = a.describe_scalable_targets(ServiceNamespace="ecs", ResourceIds=[rid])["ScalableTargets"]
    assert [(t["MinCapacity"], t["MaxCapacity"]) for t in targets] == [(0, 0)]
    assert a.describe_scalable_targets(ServiceNamespace="ecs", ResourceIds=[f"service/{ecs_cluster}/svc02"])["ScalableTargets"] == []


# --------------------------------------------------------------------------- rds
def create_db(emu: Emulator, ident: str, **kw: Any) -> dict[str, Any]:
    args = dict(DBInstanceIdentifier=ident, Engine="postgres", EngineVersion="16.3", DBInstanceClass="db.t3.micro", AllocatedStorage=20, MasterUsername="app", MasterUserPassword="password1")
    args.update(kw)
    return emu.client("rds").create_db_instance(**{k: v for k, v in args.items() if v is not None})["DBInstance"]


def test_rds_delete_requires_final_snapshot_choice(emu: Emulator) -> None:
    r = emu.client("rds")
    ident = "db-" + uid()
    create_db(emu, ident)
    with pytest.raises(ClientError) as exc:
        r.delete_db_instance(DBInstanceIdentifier=ident)
    assert code(exc) == "InvalidParameterCombination"
    assert "FinalDBSnapshotIdentifier is required unless SkipFinalSnapshot is specified" in exc.value.response["Error"]["Message"]
    assert r.describe_db_instances(DBInstanceIdentifier=ident)["DBInstances"][0]["DBInstanceStatus"] == "available"
    r.delete_db_instance(DBInstanceIdentifier=ident, SkipFinalSnapshot=True)


def test_rds_protection_and_state_errors(emu: Emulator) -> None:
    r = emu.client("rds")
    ident = "db-" + uid()
    create_db(emu, ident, DeletionProtection=True)
    with pytest.raises(ClientError) as exc:
        r.delete_db_instance(DBInstanceIdentifier=ident, FinalDBSnapshotIdentifier=ident + "-final")
    assert code(exc) == "InvalidParameterCombination"
    with pytest.raises(ClientError) as exc:
        r.delete_db_instance(DBInstanceIdentifier=ident)
    assert code(exc) == "InvalidParameterCombination"
    assert r.stop_db_instance(DBInstanceIdentifier=ident)["DBInstance"]["DBInstanceStatus"] == "stopped"
    with pytest.raises(ClientError) as exc:
        r.stop_db_instance(DBInstanceIdentifier=ident)
    assert code(exc) == "InvalidDBInstanceState"
    assert r.start_db_instance(DBInstanceIdentifier=ident)["DBInstance"]["DBInstanceStatus"] == "available"
    with pytest.raises(ClientError) as exc:
        r.start_db_instance(DBInstanceIdentifier=ident)
    assert code(exc) == "InvalidDBInstanceState"


def test_rds_final_snapshot_carries_tags_when_copy_tags(emu: Emulator) -> None:
    r = emu.client("rds")
    for copy_tags in (True, False):
        ident = "db-" + uid()
        create_db(emu, ident, CopyTagsToSnapshot=copy_tags, Tags=[{"Key": "costctl:stack", "Value": "order-tracking-dev"}])
        r.delete_db_instance(DBInstanceIdentifier=ident, FinalDBSnapshotIdentifier=ident + "-final")
        snap = r.describe_db_snapshots(DBSnapshotIdentifier=ident + "-final")["DBSnapshots"][0]
        tags = r.list_tags_for_resource(ResourceName=snap["DBSnapshotArn"])["TagList"]
        assert tags == ([{"Key": "costctl:stack", "Value": "order-tracking-dev"}] if copy_tags else [])


def test_rds_default_option_group_name_and_restore(emu: Emulator) -> None:
    r = emu.client("rds")
    ident = "db-" + uid()
    db = create_db(emu, ident)
    assert db["OptionGroupMemberships"][0]["OptionGroupName"] == "default:postgres-16"
    assert db["DBParameterGroups"][0]["DBParameterGroupName"] == "default.postgres16"
    r.delete_db_instance(DBInstanceIdentifier=ident, FinalDBSnapshotIdentifier=ident + "-final")
    restored = r.restore_db_instance_from_db_snapshot(
        DBInstanceIdentifier=ident, DBSnapshotIdentifier=ident + "-final",
        OptionGroupName="default:postgres-16", DBParameterGroupName="default.postgres16",
    )["DBInstance"]
    assert restored["OptionGroupMemberships"][0]["OptionGroupName"] == "default:postgres-16"


def test_rds_restore_honours_every_parameter(emu: Emulator) -> None:
    r = emu.client("rds")
    _, subnets, sg = network(emu)
    sng, pg = "sng-" + uid(), "pg-" + uid()
    r.create_db_subnet_group(DBSubnetGroupName=sng, DBSubnetGroupDescription="d", SubnetIds=subnets)
    r.create_db_parameter_group(DBParameterGroupName=pg, DBParameterGroupFamily="postgres16", Description="d")
    ident = "db-" + uid()
    # The source instance has the opposite of every boolean restored below.
    create_db(emu, ident, MultiAZ=True, PubliclyAccessible=True, AutoMinorVersionUpgrade=True, CopyTagsToSnapshot=True, EnableIAMDatabaseAuthentication=True)
    r.create_db_snapshot(DBInstanceIdentifier=ident, DBSnapshotIdentifier=ident + "-s")
    r.delete_db_instance(DBInstanceIdentifier=ident, SkipFinalSnapshot=True)
    r.restore_db_instance_from_db_snapshot(
        DBInstanceIdentifier=ident, DBSnapshotIdentifier=ident + "-s", DBInstanceClass="db.t3.small",
        DBSubnetGroupName=sng, VpcSecurityGroupIds=[sg], DBParameterGroupName=pg, OptionGroupName="default:postgres-16",
        Tags=[{"Key": "k", "Value": "v"}], StorageType="gp3", AllocatedStorage=50, MultiAZ=False, PubliclyAccessible=False,
        Port=5433, DeletionProtection=False, CopyTagsToSnapshot=False, EnableIAMDatabaseAuthentication=False, AutoMinorVersionUpgrade=False,
    )
    d = r.describe_db_instances(DBInstanceIdentifier=ident)["DBInstances"][0]
    assert d["DBInstanceClass"] == "db.t3.small"
    assert d["DBSubnetGroup"]["DBSubnetGroupName"] == sng
    assert [g["VpcSecurityGroupId"] for g in d["VpcSecurityGroups"]] == [sg]
    assert d["DBParameterGroups"][0]["DBParameterGroupName"] == pg
    assert d["OptionGroupMemberships"][0]["OptionGroupName"] == "default:postgres-16"
    assert d["TagList"] == [{"Key": "k", "Value": "v"}]
    assert (d["StorageType"], d["AllocatedStorage"], d["Endpoint"]["Port"]) == ("gp3", 50, 5433)
    assert d["MultiAZ"] is False
    assert d["PubliclyAccessible"] is False
    assert d["AutoMinorVersionUpgrade"] is False
    assert d["CopyTagsToSnapshot"] is False
    assert d["IAMDatabaseAuthenticationEnabled"] is False
    assert d["DeletionProtection"] is False
    r.add_tags_to_resource(ResourceName=d["DBInstanceArn"], Tags=[{"Key": "n", "Value": "m"}])
    assert {"Key": "n", "Value": "m"} in r.describe_db_instances(DBInstanceIdentifier=ident)["DBInstances"][0]["TagList"]


def test_rds_restore_does_not_carry_what_aws_does_not(emu: Emulator) -> None:
    """Patches rds-restore-defaults, rds-monitoring-pi, rds-log-exports. Fails without them:
    moto drops MonitoringInterval/Performance Insights at create, copies Multi-AZ, deletion
    protection, IAM auth, CopyTagsToSnapshot, the maintenance window, the CA, the DbiResourceId
    and a (new) RDS-managed master secret from the source onto the restored instance, and a
    CloudwatchLogsExportConfiguration disabling a type not enabled is HTTP 500."""
    r = emu.client("rds")
    pg = "pg-" + uid()
    r.create_db_parameter_group(DBParameterGroupName=pg, DBParameterGroupFamily="postgres16", Description="d")
    ident = "db-" + uid()
    key = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
    create_db(emu, ident, MasterUserPassword=None, ManageMasterUserPassword=True, AllocatedStorage=100, MaxAllocatedStorage=500, StorageType="gp3", StorageThroughput=500, Iops=12000,
              DBParameterGroupName=pg, Port=5433, BackupRetentionPeriod=7, PreferredBackupWindow="03:00-04:00", PreferredMaintenanceWindow="sun:05:00-sun:06:00",
              EnableCloudwatchLogsExports=["postgresql", "upgrade"], EnablePerformanceInsights=True, PerformanceInsightsRetentionPeriod=7, MonitoringInterval=60,
              MonitoringRoleArn="arn:aws:iam::123456789012:role/rds-mon", DeletionProtection=False, CACertificateIdentifier="rds-ca-rsa4096-g1", MultiAZ=True,
              StorageEncrypted=True, KmsKeyId=key, EnableIAMDatabaseAuthentication=True, CopyTagsToSnapshot=True, AutoMinorVersionUpgrade=False, Tags=[{"Key": "a", "Value": "b"}])
    src = r.describe_db_instances(DBInstanceIdentifier=ident)["DBInstances"][0]
    assert (src["MonitoringInterval"], src["MonitoringRoleArn"], src["PerformanceInsightsEnabled"], src["PerformanceInsightsRetentionPeriod"]) == (60, "arn:aws:iam::123456789012:role/rds-mon", True, 7)
    assert src["MasterUserSecret"]["SecretArn"].startswith("arn:aws:secretsmanager:us-east-1:123456789012:secret:rds!db-")
    r.delete_db_instance(DBInstanceIdentifier=ident, FinalDBSnapshotIdentifier=ident + "-final")
    with pytest.raises(ClientError) as exc:
        r.restore_db_instance_from_db_snapshot(DBInstanceIdentifier=ident, DBSnapshotIdentifier=ident + "-final", ManageMasterUserPassword=True)
    assert code(exc) == "InvalidParameterCombination"
    r.restore_db_instance_from_db_snapshot(DBInstanceIdentifier=ident, DBSnapshotIdentifier=ident + "-final")
    d = r.describe_db_instances(DBInstanceIdentifier=ident)["DBInstances"][0]
    # From the snapshot: engine, version, storage, encryption key, master user, port, backups.
    assert (d["EngineVersion"], d["AllocatedStorage"], d["StorageType"], d["StorageThroughput"], d["Iops"]) == ("16.3", 100, "gp3", 500, 12000)
    assert (d["StorageEncrypted"], d["KmsKeyId"], d["MasterUsername"], d["Endpoint"]["Port"], d["BackupRetentionPeriod"]) == (True, key, "app", 5433, 7)
    # Back to defaults / not carried.
    assert d["DBParameterGroups"][0]["DBParameterGroupName"] == "default.postgres16"
    assert "MaxAllocatedStorage" not in d and d["EnabledCloudwatchLogsExports"] == [] if "EnabledCloudwatchLogsExports" in d else "MaxAllocatedStorage" not in d
    assert (d["MultiAZ"], d["DeletionProtection"], d["IAMDatabaseAuthenticationEnabled"], d["CopyTagsToSnapshot"]) == (False, False, False, False)
    assert d["PreferredMaintenanceWindow"] != "sun:05:00-sun:06:00"
    assert d["CACertificateIdentifier"] == "rds-ca-rsa2048-g1"
    assert d.get("MonitoringInterval", 0) == 0 and "MonitoringRoleArn" not in d and d.get("PerformanceInsightsEnabled") is False
    assert "MasterUserSecret" not in d
    assert d["DbiResourceId"] != src["DbiResourceId"]
    # What the restore cannot set, one ModifyDBInstance applies at once.
    r.modify_db_instance(DBInstanceIdentifier=ident, ApplyImmediately=True, MaxAllocatedStorage=500, PreferredMaintenanceWindow="sun:05:00-sun:06:00",
                         CloudwatchLogsExportConfiguration={"EnableLogTypes": ["postgresql", "upgrade"], "DisableLogTypes": ["iam-db-auth-error"]},
                         MonitoringInterval=60, MonitoringRoleArn="arn:aws:iam::123456789012:role/rds-mon", EnablePerformanceInsights=True, PerformanceInsightsRetentionPeriod=7,
                         CACertificateIdentifier="rds-ca-rsa4096-g1", ManageMasterUserPassword=True)
    d = r.describe_db_instances(DBInstanceIdentifier=ident)["DBInstances"][0]
    assert (d["MaxAllocatedStorage"], d["PreferredMaintenanceWindow"], d["EnabledCloudwatchLogsExports"]) == (500, "sun:05:00-sun:06:00", ["postgresql", "upgrade"])
    assert (d["MonitoringInterval"], d["MonitoringRoleArn"], d["PerformanceInsightsEnabled"], d["PerformanceInsightsRetentionPeriod"]) == (60, "arn:aws:iam::123456789012:role/rds-mon", True, 7)
    assert d["CACertificateIdentifier"] == "rds-ca-rsa4096-g1"
    assert d["MasterUserSecret"]["SecretArn"] != src["MasterUserSecret"]["SecretArn"]
    r.modify_db_instance(DBInstanceIdentifier=ident, ApplyImmediately=True, CloudwatchLogsExportConfiguration={"DisableLogTypes": ["upgrade"]})
    assert r.describe_db_instances(DBInstanceIdentifier=ident)["DBInstances"][0]["EnabledCloudwatchLogsExports"] == ["postgresql"]
    assert r.stop_db_instance(DBInstanceIdentifier=ident)["DBInstance"]["DBInstanceStatus"] == "stopped"
    assert r.describe_db_instances(DBInstanceIdentifier=ident)["DBInstances"][0]["DBInstanceStatus"] == "stopped"


# --------------------------------------------------------------------------- elbv2 / acm / route53
def create_alb(emu: Emulator, name: str) -> tuple[str, str, dict[str, Any]]:
    e = emu.client("elbv2")
    vpc, subnets, sg = network(emu)
    tg = e.create_target_group(Name="tg-" + uid(), Protocol="HTTP", Port=80, VpcId=vpc, TargetType="ip")["TargetGroups"][0]["TargetGroupArn"]
    lb = e.create_load_balancer(Name=name, Subnets=subnets, SecurityGroups=[sg], Scheme="internet-facing", Type="application", IpAddressType="ipv4", Tags=[{"Key": "a", "Value": "b"}])["LoadBalancers"][0]
    return tg, lb["LoadBalancerArn"], lb


def test_elbv2_target_groups_forget_deleted_alb(emu: Emulator) -> None:
    e = emu.client("elbv2")
    tg, lba, _ = create_alb(emu, "alb-" + uid())
    l80 = e.create_listener(LoadBalancerArn=lba, Protocol="HTTP", Port=80, DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}])["Listeners"][0]["ListenerArn"]
    e.create_rule(ListenerArn=l80, Priority=1, Conditions=[{"Field": "path-pattern", "Values": ["/a/*"]}], Actions=[{"Type": "forward", "TargetGroupArn": tg}])
    e.create_listener(LoadBalancerArn=lba, Protocol="HTTP", Port=8080, DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}])
    assert e.describe_target_groups(TargetGroupArns=[tg])["TargetGroups"][0]["LoadBalancerArns"] == [lba]
    e.delete_load_balancer(LoadBalancerArn=lba)
    assert e.describe_target_groups(TargetGroupArns=[tg])["TargetGroups"][0]["LoadBalancerArns"] == []
    e.delete_load_balancer(LoadBalancerArn=lba)  # idempotent, as in AWS


def test_elbv2_deletion_protection(emu: Emulator) -> None:
    e = emu.client("elbv2")
    name = "alb-" + uid()
    _, lba, _ = create_alb(emu, name)
    e.modify_load_balancer_attributes(LoadBalancerArn=lba, Attributes=[{"Key": "deletion_protection.enabled", "Value": "true"}])
    with pytest.raises(ClientError) as exc:
        e.delete_load_balancer(LoadBalancerArn=lba)
    assert code(exc) == "OperationNotPermitted"
    assert len(e.describe_load_balancers(Names=[name])["LoadBalancers"]) == 1
    e.modify_load_balancer_attributes(LoadBalancerArn=lba, Attributes=[{"Key": "deletion_protection.enabled", "Value": "false"}])
    e.delete_load_balancer(LoadBalancerArn=lba)
    with pytest.raises(ClientError) as exc:
        e.describe_load_balancers(Names=[name])
    assert code(exc) == "LoadBalancerNotFound"


def test_elbv2_rule_conditions_in_both_forms(emu: Emulator) -> None:
    e = emu.client("elbv2")
    tg, lba, _ = create_alb(emu, "alb-" + uid())
    l80 = e.create_listener(LoadBalancerArn=lba, Protocol="HTTP", Port=80, DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}])["Listeners"][0]["ListenerArn"]
    sent = [
        {"Field": "path-pattern", "Values": ["/api/*"]},
        {"Field": "path-pattern", "PathPatternConfig": {"Values": ["/v2/*"]}},
        {"Field": "host-header", "Values": ["a.example.com"]},
        {"Field": "host-header", "HostHeaderConfig": {"Values": ["b.example.com"]}},
        {"Field": "http-header", "HttpHeaderConfig": {"HttpHeaderName": "X-Env", "Values": ["dev"]}},
        {"Field": "query-string", "QueryStringConfig": {"Values": [{"Key": "v", "Value": "1"}]}},
    ]
    for i, cond in enumerate(sent):
        created = e.create_rule(ListenerArn=l80, Priority=10 + i, Conditions=[cond], Actions=[{"Type": "forward", "TargetGroupArn": tg}])["Rules"][0]
        assert created["Conditions"][0]["Field"] == cond["Field"]
    rules = {r["Priority"]: r["Conditions"][0] for r in e.describe_rules(ListenerArn=l80)["Rules"] if not r["IsDefault"]}
    assert rules["10"] == {"Field": "path-pattern", "Values": ["/api/*"], "PathPatternConfig": {"Values": ["/api/*"]}}
    assert rules["11"] == {"Field": "path-pattern", "Values": ["/v2/*"], "PathPatternConfig": {"Values": ["/v2/*"]}}
    assert rules["12"] == {"Field": "host-header", "Values": ["a.example.com"], "HostHeaderConfig": {"Values": ["a.example.com"]}}
    assert rules["13"] == {"Field": "host-header", "Values": ["b.example.com"], "HostHeaderConfig": {"Values": ["b.example.com"]}}
    assert rules["14"] == sent[4]
    assert rules["15"] == sent[5]


def test_elbv2_attributes_certificates_tags(emu: Emulator) -> None:
    e, acm = emu.client("elbv2"), emu.client("acm")
    tg, lba, _ = create_alb(emu, "alb-" + uid())
    wanted = {"idle_timeout.timeout_seconds": "120", "routing.http2.enabled": "false", "routing.http.drop_invalid_header_fields.enabled": "true"}
    e.modify_load_balancer_attributes(LoadBalancerArn=lba, Attributes=[{"Key": k, "Value": v} for k, v in wanted.items()])
    attrs = {a["Key"]: a["Value"] for a in e.describe_load_balancer_attributes(LoadBalancerArn=lba)["Attributes"]}
    assert {k: attrs[k] for k in wanted} == wanted
    c1 = acm.request_certificate(DomainName="a.example.com")["CertificateArn"]
    c2 = acm.request_certificate(DomainName="b.example.com")["CertificateArn"]
    assert acm.describe_certificate(CertificateArn=c1)["Certificate"]["DomainName"] == "a.example.com"
    l443 = e.create_listener(LoadBalancerArn=lba, Protocol="HTTPS", Port=443, SslPolicy="ELBSecurityPolicy-TLS13-1-2-2021-06", Certificates=[{"CertificateArn": c1}], DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}])["Listeners"][0]["ListenerArn"]
    e.add_listener_certificates(ListenerArn=l443, Certificates=[{"CertificateArn": c2}])
    certs = {c["CertificateArn"]: c.get("IsDefault") for c in e.describe_listener_certificates(ListenerArn=l443)["Certificates"]}
    assert certs == {c1: True, c2: False}
    listener = e.describe_listeners(LoadBalancerArn=lba)["Listeners"][0]
    assert listener["SslPolicy"] == "ELBSecurityPolicy-TLS13-1-2-2021-06"
    e.add_tags(ResourceArns=[lba], Tags=[{"Key": "c", "Value": "d"}])
    tags = e.describe_tags(ResourceArns=[lba])["TagDescriptions"][0]["Tags"]
    assert {"Key": "a", "Value": "b"} in tags and {"Key": "c", "Value": "d"} in tags
    acm.delete_certificate(CertificateArn=c2)
    with pytest.raises(ClientError) as exc:
        acm.describe_certificate(CertificateArn=c2)
    assert code(exc) == "ResourceNotFoundException"


USER_POOL = "arn:aws:cognito-idp:us-east-1:123456789012:userpool/us-east-1_abcdEFGH"


def cognito_action(order: int, **extra: Any) -> dict[str, Any]:
    cfg = {"UserPoolArn": USER_POOL, "UserPoolClientId": "client1", "UserPoolDomain": "login-dev", **extra}
    return {"Type": "authenticate-cognito", "Order": order, "AuthenticateCognitoConfig": cfg}


def oidc_action(order: int, **extra: Any) -> dict[str, Any]:
    cfg = {
        "Issuer": "https://idp.example.com", "AuthorizationEndpoint": "https://idp.example.com/authorize",
        "TokenEndpoint": "https://idp.example.com/token", "UserInfoEndpoint": "https://idp.example.com/userinfo",
        "ClientId": "client-abc", **extra,
    }
    return {"Type": "authenticate-oidc", "Order": order, "AuthenticateOidcConfig": cfg}


def https_listener(emu: Emulator, lba: str, port: int, actions: list[dict[str, Any]], **kw: Any) -> str:
    cert = emu.client("acm").request_certificate(DomainName=f"{uid()}.example.com")["CertificateArn"]
    return emu.client("elbv2").create_listener(LoadBalancerArn=lba, Protocol="HTTPS", Port=port, Certificates=[{"CertificateArn": cert}], DefaultActions=actions, **kw)["Listeners"][0]["ListenerArn"]


AUTH_DEFAULTS = {"SessionCookieName": "AWSELBAuthSessionCookie", "Scope": "openid", "SessionTimeout": 604800, "OnUnauthenticatedRequest": "authenticate"}


def test_elbv2_authenticate_actions_round_trip_without_client_secret(emu: Emulator) -> None:
    """Patches elbv2-oidc-secret and elbv2-auth-action-defaults. Fails without them: moto
    echoes the OIDC ClientSecret in CreateListener/DescribeListeners/DescribeRules and reports
    no SessionCookieName/Scope/SessionTimeout/OnUnauthenticatedRequest when they were omitted."""
    e = emu.client("elbv2")
    tg1, lba, _ = create_alb(emu, "alb-" + uid())
    vpc, _, _ = network(emu)
    tg2 = e.create_target_group(Name="tg-" + uid(), Protocol="HTTP", Port=80, VpcId=vpc, TargetType="ip")["TargetGroups"][0]["TargetGroupArn"]
    weighted = {"Type": "forward", "Order": 2, "ForwardConfig": {
        "TargetGroups": [{"TargetGroupArn": tg1, "Weight": 80}, {"TargetGroupArn": tg2, "Weight": 20}],
        "TargetGroupStickinessConfig": {"Enabled": True, "DurationSeconds": 300}}}
    full = dict(SessionCookieName="dev-auth", Scope="openid email", SessionTimeout=3600, AuthenticationRequestExtraParams={"prompt": "login", "lang": "en"}, OnUnauthenticatedRequest="deny")
    cognito_full = cognito_action(1, **full)
    # Listener: Cognito with every field, then the weighted sticky forward.
    l443 = https_listener(emu, lba, 443, [cognito_full, weighted])
    assert e.describe_listeners(ListenerArns=[l443])["Listeners"][0]["DefaultActions"] == [cognito_full, weighted]
    # Defaults are reported for what the request left out.
    e.modify_listener(ListenerArn=l443, DefaultActions=[cognito_action(1), weighted])
    got = e.describe_listeners(ListenerArns=[l443])["Listeners"][0]["DefaultActions"]
    assert got[0]["AuthenticateCognitoConfig"] == {"UserPoolArn": USER_POOL, "UserPoolClientId": "client1", "UserPoolDomain": "login-dev", **AUTH_DEFAULTS}
    # OIDC: the secret is accepted but never read back, on any path.
    bodies = raw_bodies(e)
    sent = oidc_action(1, ClientSecret="s3cr3t-value", **full)
    created = e.create_listener(LoadBalancerArn=lba, Protocol="HTTPS", Port=8443, Certificates=e.describe_listeners(ListenerArns=[l443])["Listeners"][0]["Certificates"], DefaultActions=[sent, weighted])["Listeners"][0]
    l8443 = created["ListenerArn"]
    expected = {k: v for k, v in sent["AuthenticateOidcConfig"].items() if k != "ClientSecret"}
    assert created["DefaultActions"][0]["AuthenticateOidcConfig"] == expected
    assert e.describe_listeners(ListenerArns=[l8443])["Listeners"][0]["DefaultActions"][0]["AuthenticateOidcConfig"] == expected
    rule = e.create_rule(ListenerArn=l443, Priority=5, Conditions=[{"Field": "path-pattern", "PathPatternConfig": {"Values": ["/admin/*"]}}], Actions=[oidc_action(1, ClientSecret="s3cr3t-value"), weighted])["Rules"][0]
    assert rule["Actions"][0]["AuthenticateOidcConfig"] == {**oidc_action(1)["AuthenticateOidcConfig"], **AUTH_DEFAULTS}
    e.modify_rule(RuleArn=rule["RuleArn"], Actions=[oidc_action(1, ClientSecret="new-s3cr3t", Scope="openid profile"), weighted])
    described = e.describe_rules(RuleArns=[rule["RuleArn"]])["Rules"][0]["Actions"]
    assert described[0]["AuthenticateOidcConfig"] == {**oidc_action(1)["AuthenticateOidcConfig"], **AUTH_DEFAULTS, "Scope": "openid profile"}
    assert described[1] == weighted
    default_rule = [r for r in e.describe_rules(ListenerArn=l8443)["Rules"] if r["IsDefault"]][0]
    assert "ClientSecret" not in default_rule["Actions"][0]["AuthenticateOidcConfig"]
    assert not any(b"s3cr3t" in b for b in bodies)


def test_elbv2_oidc_use_existing_client_secret(emu: Emulator) -> None:
    """Patch elbv2-oidc-secret. Fails without it: moto accepts a ClientSecret together with
    UseExistingClientSecret=true and reports the flag back as a setting."""
    e = emu.client("elbv2")
    tg, lba, _ = create_alb(emu, "alb-" + uid())
    fwd = {"Type": "forward", "Order": 2, "TargetGroupArn": tg}
    listener = https_listener(emu, lba, 443, [oidc_action(1, ClientSecret="first"), fwd])
    with pytest.raises(ClientError) as exc:
        e.modify_listener(ListenerArn=listener, DefaultActions=[oidc_action(1, ClientSecret="second", UseExistingClientSecret=True), fwd])
    assert code(exc) == "InvalidLoadBalancerAction"
    e.modify_listener(ListenerArn=listener, DefaultActions=[oidc_action(1, UseExistingClientSecret=True, SessionTimeout=60), fwd])
    cfg = e.describe_listeners(ListenerArns=[listener])["Listeners"][0]["DefaultActions"][0]["AuthenticateOidcConfig"]
    assert cfg == {**oidc_action(1)["AuthenticateOidcConfig"], **AUTH_DEFAULTS, "SessionTimeout": 60}


def test_elbv2_single_forward_reported_with_forward_config(emu: Emulator) -> None:
    """Patch elbv2-forward-config. Fails without it: moto reports a forward sent with only
    TargetGroupArn without the ForwardConfig AWS adds (that group, weight 1, stickiness off)."""
    e = emu.client("elbv2")
    tg, lba, _ = create_alb(emu, "alb-" + uid())
    listener = e.create_listener(LoadBalancerArn=lba, Protocol="HTTP", Port=80, DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}])["Listeners"][0]
    expected = {"Type": "forward", "TargetGroupArn": tg, "ForwardConfig": {"TargetGroups": [{"TargetGroupArn": tg, "Weight": 1}], "TargetGroupStickinessConfig": {"Enabled": False}}}
    assert listener["DefaultActions"] == [expected]
    assert e.describe_listeners(ListenerArns=[listener["ListenerArn"]])["Listeners"][0]["DefaultActions"] == [expected]
    rule = e.create_rule(ListenerArn=listener["ListenerArn"], Priority=1, Conditions=[{"Field": "path-pattern", "Values": ["/a"]}], Actions=[{"Type": "forward", "TargetGroupArn": tg}])["Rules"][0]
    assert e.describe_rules(RuleArns=[rule["RuleArn"]])["Rules"][0]["Actions"] == [expected]
    # Sending back exactly what was described is accepted and changes nothing.
    e.modify_rule(RuleArn=rule["RuleArn"], Actions=[expected])
    assert e.describe_rules(RuleArns=[rule["RuleArn"]])["Rules"][0]["Actions"] == [expected]


def test_elbv2_every_condition_type_round_trips(emu: Emulator) -> None:
    """Guard: every condition type with several values in its *Config form (host-header and
    path-pattern rely on patch elbv2-rule-conditions; the others need no patch)."""
    e = emu.client("elbv2")
    tg, lba, _ = create_alb(emu, "alb-" + uid())
    l80 = e.create_listener(LoadBalancerArn=lba, Protocol="HTTP", Port=80, DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}])["Listeners"][0]["ListenerArn"]
    first = [
        {"Field": "source-ip", "SourceIpConfig": {"Values": ["10.0.0.0/8", "192.168.1.0/24"]}},
        {"Field": "http-request-method", "HttpRequestMethodConfig": {"Values": ["GET", "HEAD", "POST"]}},
        {"Field": "host-header", "Values": ["a.example.com", "*.b.example.com"], "HostHeaderConfig": {"Values": ["a.example.com", "*.b.example.com"]}},
    ]
    second = [
        {"Field": "http-header", "HttpHeaderConfig": {"HttpHeaderName": "X-Env", "Values": ["dev", "test"]}},
        {"Field": "query-string", "QueryStringConfig": {"Values": [{"Key": "v", "Value": "1"}, {"Value": "beta"}]}},
        {"Field": "path-pattern", "Values": ["/api/*", "/v2/*"], "PathPatternConfig": {"Values": ["/api/*", "/v2/*"]}},
    ]
    r1 = e.create_rule(ListenerArn=l80, Priority=1, Conditions=[{k: v for k, v in c.items() if k != "Values"} for c in first], Actions=[{"Type": "forward", "TargetGroupArn": tg}])["Rules"][0]["RuleArn"]
    r2 = e.create_rule(ListenerArn=l80, Priority=2, Conditions=first, Actions=[{"Type": "forward", "TargetGroupArn": tg}])["Rules"][0]["RuleArn"]
    e.modify_rule(RuleArn=r2, Conditions=[{k: v for k, v in c.items() if k != "Values"} for c in second])
    rules = {r["RuleArn"]: r["Conditions"] for r in e.describe_rules(ListenerArn=l80)["Rules"]}
    assert rules[r1] == first
    assert rules[r2] == second


def test_elbv2_every_alb_attribute(emu: Emulator) -> None:
    """Patch elbv2-attributes. Fails without it: moto describes only 4 attributes of a new ALB
    (AWS: every attribute with its default), rejects health_check_logs.s3.bucket/prefix, and
    accepts NLB-only keys, cross-zone off and out-of-range values on an ALB."""
    e = emu.client("elbv2")
    _, lba, _ = create_alb(emu, "alb-" + uid())
    attrs = {a["Key"]: a["Value"] for a in e.describe_load_balancer_attributes(LoadBalancerArn=lba)["Attributes"]}
    assert attrs == {
        "access_logs.s3.enabled": "false", "access_logs.s3.bucket": "", "access_logs.s3.prefix": "",
        "client_keep_alive.seconds": "3600",
        "connection_logs.s3.enabled": "false", "connection_logs.s3.bucket": "", "connection_logs.s3.prefix": "",
        "deletion_protection.enabled": "false",
        "health_check_logs.s3.enabled": "false", "health_check_logs.s3.bucket": "", "health_check_logs.s3.prefix": "",
        "idle_timeout.timeout_seconds": "60", "ipv6.deny_all_igw_traffic": "false", "load_balancing.cross_zone.enabled": "true",
        "routing.http.desync_mitigation_mode": "defensive", "routing.http.drop_invalid_header_fields.enabled": "false",
        "routing.http.preserve_host_header.enabled": "false", "routing.http.x_amzn_tls_version_and_cipher_suite.enabled": "false",
        "routing.http.xff_client_port.enabled": "false", "routing.http.xff_header_processing.mode": "append",
        "routing.http2.enabled": "true", "waf.fail_open.enabled": "false", "zonal_shift.config.enabled": "false",
    }
    wanted = {
        "access_logs.s3.enabled": "true", "access_logs.s3.bucket": "logs-bucket", "access_logs.s3.prefix": "alb",
        "connection_logs.s3.enabled": "true", "connection_logs.s3.bucket": "logs-bucket", "connection_logs.s3.prefix": "conn",
        "health_check_logs.s3.enabled": "true", "health_check_logs.s3.bucket": "logs-bucket", "health_check_logs.s3.prefix": "hc",
        "client_keep_alive.seconds": "7200", "idle_timeout.timeout_seconds": "120", "ipv6.deny_all_igw_traffic": "true",
        "routing.http.desync_mitigation_mode": "strictest", "routing.http.drop_invalid_header_fields.enabled": "true",
        "routing.http.preserve_host_header.enabled": "true", "routing.http.x_amzn_tls_version_and_cipher_suite.enabled": "true",
        "routing.http.xff_client_port.enabled": "true", "routing.http.xff_header_processing.mode": "preserve",
        "routing.http2.enabled": "false", "waf.fail_open.enabled": "true", "zonal_shift.config.enabled": "true",
    }
    e.modify_load_balancer_attributes(LoadBalancerArn=lba, Attributes=[{"Key": k, "Value": v} for k, v in wanted.items()])
    after = {a["Key"]: a["Value"] for a in e.describe_load_balancer_attributes(LoadBalancerArn=lba)["Attributes"]}
    assert after == {**attrs, **wanted}
    for key, value in [("dns_record.client_routing_policy", "any_availability_zone"), ("load_balancing.cross_zone.enabled", "false"),
                       ("idle_timeout.timeout_seconds", "0"), ("client_keep_alive.seconds", "30"), ("routing.http.xff_header_processing.mode", "drop"),
                       ("routing.http2.enabled", "yes")]:
        with pytest.raises(ClientError) as exc:
            e.modify_load_balancer_attributes(LoadBalancerArn=lba, Attributes=[{"Key": key, "Value": value}])
        assert code(exc) == "InvalidConfigurationRequest", key
    assert {a["Key"]: a["Value"] for a in e.describe_load_balancer_attributes(LoadBalancerArn=lba)["Attributes"]} == after


def test_elbv2_listener_attributes_and_mutual_authentication(emu: Emulator) -> None:
    """Patches elbv2-listener-attributes and elbv2-mutual-authentication. Fails without them:
    moto gives an ALB listener the NLB attribute tcp.idle_timeout.seconds, stores any key, and
    drops MutualAuthentication from CreateListener/ModifyListener."""
    e = emu.client("elbv2")
    tg, lba, _ = create_alb(emu, "alb-" + uid())
    fwd = [{"Type": "forward", "TargetGroupArn": tg}]
    l443 = https_listener(emu, lba, 443, fwd)
    assert e.describe_listeners(ListenerArns=[l443])["Listeners"][0]["MutualAuthentication"] == {"Mode": "off"}
    attrs = {a["Key"]: a["Value"] for a in e.describe_listener_attributes(ListenerArn=l443)["Attributes"]}
    assert attrs == {"routing.http.response.server.enabled": "true"}
    e.modify_listener_attributes(ListenerArn=l443, Attributes=[
        {"Key": "routing.http.response.server.enabled", "Value": "false"},
        {"Key": "routing.http.response.strict_transport_security.header_value", "Value": "max-age=31536000"},
        {"Key": "routing.http.request.x_amzn_tls_version.header_name", "Value": "X-Tls"},
    ])
    attrs = {a["Key"]: a["Value"] for a in e.describe_listener_attributes(ListenerArn=l443)["Attributes"]}
    assert attrs == {"routing.http.response.server.enabled": "false", "routing.http.response.strict_transport_security.header_value": "max-age=31536000", "routing.http.request.x_amzn_tls_version.header_name": "X-Tls"}
    with pytest.raises(ClientError) as exc:
        e.modify_listener_attributes(ListenerArn=l443, Attributes=[{"Key": "tcp.idle_timeout.seconds", "Value": "400"}])
    assert code(exc) == "InvalidConfigurationRequest"
    l8443 = https_listener(emu, lba, 8443, fwd, MutualAuthentication={"Mode": "passthrough"})
    assert e.describe_listeners(ListenerArns=[l8443])["Listeners"][0]["MutualAuthentication"] == {"Mode": "passthrough"}
    e.modify_listener(ListenerArn=l8443, MutualAuthentication={"Mode": "off"})
    assert e.describe_listeners(ListenerArns=[l8443])["Listeners"][0]["MutualAuthentication"] == {"Mode": "off"}
    # No trust stores in moto: verify cannot be set up (costctl must keep such listeners).
    with pytest.raises(ClientError) as exc:
        e.modify_listener(ListenerArn=l8443, MutualAuthentication={"Mode": "verify", "TrustStoreArn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:truststore/ts/0123456789abcdef"})
    assert code(exc) == "TrustStoreNotFound"


def test_wafv2_association_ends_with_the_alb(emu: Emulator) -> None:
    """Patch wafv2-alb-association. Fails without it: moto keeps the web ACL association of a
    deleted ALB (GetWebACLForResource still answers the ACL), associates ARNs of ALBs that do
    not exist, keeps an ALB under two web ACLs, and ListResourcesForWebACL is HTTP 500."""
    w, e = emu.client("wafv2"), emu.client("elbv2")
    _, lba, _ = create_alb(emu, "alb-" + uid())
    vis = {"SampledRequestsEnabled": True, "CloudWatchMetricsEnabled": True, "MetricName": "m"}
    acl1 = w.create_web_acl(Name="acl-" + uid(), Scope="REGIONAL", DefaultAction={"Allow": {}}, VisibilityConfig=vis)["Summary"]["ARN"]
    acl2 = w.create_web_acl(Name="acl-" + uid(), Scope="REGIONAL", DefaultAction={"Block": {}}, VisibilityConfig=vis)["Summary"]["ARN"]
    assert "WebACL" not in {k: v for k, v in w.get_web_acl_for_resource(ResourceArn=lba).items() if v is not None}
    w.associate_web_acl(WebACLArn=acl1, ResourceArn=lba)
    assert w.get_web_acl_for_resource(ResourceArn=lba)["WebACL"]["ARN"] == acl1
    assert w.list_resources_for_web_acl(WebACLArn=acl1, ResourceType="APPLICATION_LOAD_BALANCER")["ResourceArns"] == [lba]
    w.associate_web_acl(WebACLArn=acl2, ResourceArn=lba)
    assert w.get_web_acl_for_resource(ResourceArn=lba)["WebACL"]["ARN"] == acl2
    assert w.list_resources_for_web_acl(WebACLArn=acl1)["ResourceArns"] == []
    w.disassociate_web_acl(ResourceArn=lba)
    assert w.get_web_acl_for_resource(ResourceArn=lba).get("WebACL") is None
    w.associate_web_acl(WebACLArn=acl1, ResourceArn=lba)
    e.delete_load_balancer(LoadBalancerArn=lba)
    assert w.list_resources_for_web_acl(WebACLArn=acl1)["ResourceArns"] == []
    with pytest.raises(ClientError) as exc:
        w.get_web_acl_for_resource(ResourceArn=lba)
    assert code(exc) == "WAFNonexistentItemException"
    with pytest.raises(ClientError) as exc:
        w.associate_web_acl(WebACLArn=acl1, ResourceArn=lba)
    assert code(exc) == "WAFNonexistentItemException"


TOPIC = "arn:aws:sns:us-east-1:123456789012:ops"


def put_alarms(cw: Any, prefix: str) -> tuple[dict[str, Any], dict[str, Any]]:
    static = dict(
        AlarmName=prefix + "-5xx", AlarmDescription="5xx on the ALB", MetricName="HTTPCode_Target_5XX_Count", Namespace="AWS/ApplicationELB",
        ExtendedStatistic="p99", Period=60, EvaluationPeriods=3, DatapointsToAlarm=2, Threshold=1.5, ComparisonOperator="GreaterThanOrEqualToThreshold",
        TreatMissingData="notBreaching", Unit="Count", ActionsEnabled=True, AlarmActions=[TOPIC], OKActions=[TOPIC], InsufficientDataActions=[TOPIC],
        Dimensions=[{"Name": "LoadBalancer", "Value": "app/alb-dev/0123456789abcdef"}, {"Name": "TargetGroup", "Value": "targetgroup/tg-dev/fedcba9876543210"}],
    )
    math = dict(
        AlarmName=prefix + "-ratio", EvaluationPeriods=1, Threshold=5.0, ComparisonOperator="GreaterThanThreshold", AlarmActions=[TOPIC],
        Metrics=[
            {"Id": "e1", "Expression": "m1/m2*100", "Label": "5xx ratio", "ReturnData": True},
            {"Id": "m1", "MetricStat": {"Metric": {"Namespace": "AWS/ApplicationELB", "MetricName": "HTTPCode_Target_5XX_Count", "Dimensions": [{"Name": "LoadBalancer", "Value": "app/alb-dev/0123456789abcdef"}]}, "Period": 60, "Stat": "Sum"}, "ReturnData": False},
            {"Id": "m2", "MetricStat": {"Metric": {"Namespace": "AWS/ApplicationELB", "MetricName": "RequestCount", "Dimensions": [{"Name": "LoadBalancer", "Value": "app/alb-dev/0123456789abcdef"}]}, "Period": 60, "Stat": "Sum", "Unit": "Count"}, "ReturnData": False},
        ],
    )
    cw.put_metric_alarm(**static, Tags=[{"Key": "costctl:stack", "Value": "dev"}])
    cw.put_metric_alarm(**math)
    return static, math


def check_alarms(cw: Any, static: dict[str, Any], math: dict[str, Any]) -> None:
    got = {a["AlarmName"]: a for a in cw.describe_alarms(AlarmNames=[static["AlarmName"], math["AlarmName"]])["MetricAlarms"]}
    assert {k: got[static["AlarmName"]][k] for k in static} == static
    assert {k: got[math["AlarmName"]][k] for k in math} == math
    assert got[static["AlarmName"]]["AlarmArn"] == f"arn:aws:cloudwatch:us-east-1:123456789012:alarm:{static['AlarmName']}"
    assert got[static["AlarmName"]]["StateUpdatedTimestamp"].utcoffset() is not None


def test_cloudwatch_alarms_actions_toggle_and_update(emu: Emulator) -> None:
    """Patches cloudwatch-alarm-actions and cloudwatch-alarm-update. Fails without them:
    DisableAlarmActions/EnableAlarmActions are HTTP 500 in moto, and a PutMetricAlarm that
    updates an alarm resets its state and adds the Tags it names."""
    cw = emu.client("cloudwatch")
    static, math = put_alarms(cw, "al-" + uid())
    check_alarms(cw, static, math)
    names = [static["AlarmName"], math["AlarmName"]]
    cw.disable_alarm_actions(AlarmNames=names)
    assert [a["ActionsEnabled"] for a in cw.describe_alarms(AlarmNames=names)["MetricAlarms"]] == [False, False]
    cw.enable_alarm_actions(AlarmNames=names)
    assert [a["ActionsEnabled"] for a in cw.describe_alarms(AlarmNames=names)["MetricAlarms"]] == [True, True]
    arn = cw.describe_alarms(AlarmNames=[static["AlarmName"]])["MetricAlarms"][0]["AlarmArn"]
    assert cw.list_tags_for_resource(ResourceARN=arn)["Tags"] == [{"Key": "costctl:stack", "Value": "dev"}]
    # Re-pointing the alarm at a new ALB: the definition is replaced, state and tags stay.
    cw.set_alarm_state(AlarmName=static["AlarmName"], StateValue="ALARM", StateReason="test")
    moved = {**static, "Dimensions": [{"Name": "LoadBalancer", "Value": "app/alb-dev/1111111111111111"}, {"Name": "TargetGroup", "Value": "targetgroup/tg-dev/2222222222222222"}]}
    cw.put_metric_alarm(**moved, Tags=[{"Key": "other", "Value": "x"}])
    check_alarms(cw, moved, math)
    alarm = cw.describe_alarms(AlarmNames=[static["AlarmName"]])["MetricAlarms"][0]
    assert (alarm["StateValue"], alarm["StateReason"]) == ("ALARM", "test")
    assert cw.list_tags_for_resource(ResourceARN=arn)["Tags"] == [{"Key": "costctl:stack", "Value": "dev"}]


def cbor_cloudwatch(emu: Emulator, tmp_path: Any) -> Any:
    """A boto3 CloudWatch client forced onto Smithy RPC v2 CBOR, the protocol the AWS SDK for
    Rust uses for CloudWatch (botocore 1.43 has the protocol but still prefers awsJson1.0)."""
    import botocore.session

    session = botocore.session.get_session()
    loader = session.get_component("data_loader")
    model = loader.load_service_model("cloudwatch", "service-2")
    model["metadata"]["protocols"] = ["smithy-rpc-v2-cbor"]
    model["metadata"]["protocol"] = "smithy-rpc-v2-cbor"
    target = tmp_path / "cloudwatch" / model["metadata"]["apiVersion"]
    target.mkdir(parents=True)
    (target / "service-2.json").write_text(json.dumps(model))
    loader.search_paths.insert(0, str(tmp_path))
    client = boto3.Session(botocore_session=session).client(
        "cloudwatch", endpoint_url=emu.url, region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing",
        config=Config(retries={"total_max_attempts": 1, "mode": "standard"}),
    )
    assert client.meta.service_model.resolved_protocol == "smithy-rpc-v2-cbor"
    return client


def test_cloudwatch_smithy_rpc_v2_cbor(emu: Emulator, tmp_path: Any) -> None:
    """Middleware CBOR bridge. Fails without it: moto 5.2.1 cannot parse Smithy RPC v2 CBOR
    (POST /service/GraniteServiceVersion20100801/operation/OP, smithy-protocol: rpc-v2-cbor),
    which is what the AWS SDK for Rust sends to CloudWatch."""
    cw = cbor_cloudwatch(emu, tmp_path)
    sent: list[Any] = []
    cw.meta.events.register("before-send", lambda request, **_: sent.append(request))
    bodies = raw_bodies(cw)
    emu.control("reset-stats")
    static, math = put_alarms(cw, "cb-" + uid())
    assert sent[0].url.endswith("/service/GraniteServiceVersion20100801/operation/PutMetricAlarm")
    assert sent[0].headers["smithy-protocol"] == b"rpc-v2-cbor"
    check_alarms(cw, static, math)
    assert bodies[-1][:1] != b"<" and bodies[-1][:1] != b"{"  # a CBOR map, not XML / JSON
    cw.disable_alarm_actions(AlarmNames=[static["AlarmName"]])
    assert cw.describe_alarms(AlarmNames=[static["AlarmName"]])["MetricAlarms"][0]["ActionsEnabled"] is False
    arn = cw.describe_alarms(AlarmNames=[static["AlarmName"]])["MetricAlarms"][0]["AlarmArn"]
    assert cw.list_tags_for_resource(ResourceARN=arn)["Tags"] == [{"Key": "costctl:stack", "Value": "dev"}]
    with pytest.raises(ClientError) as exc:
        cw.put_metric_alarm(**{**static, "ExtendedStatistic": "bogus"})
    assert code(exc) == "InvalidParameterValue"
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    stats = emu.control("stats")["requests"]
    assert stats["monitoring:PutMetricAlarm"] == 3 and stats["monitoring:DisableAlarmActions"] == 1
    try:
        emu.control("config", {"throttle_fraction": 1.0})
        with pytest.raises(ClientError) as exc:
            cw.describe_alarms()
    finally:
        emu.control("config", {"throttle_fraction": 0.0})
    assert code(exc) == "Throttling"
    assert exc.value.response["ResponseMetadata"]["HTTPHeaders"]["smithy-protocol"] == "rpc-v2-cbor"


def test_route53_alias_upsert_has_no_ttl(emu: Emulator) -> None:
    r53 = emu.client("route53")
    _, _, lb = create_alb(emu, "alb-" + uid())
    zone = f"z{uid()}.example.com"
    hz = r53.create_hosted_zone(Name=zone, CallerReference=uid())["HostedZone"]["Id"]
    for dns in (lb["DNSName"], "dualstack.other-1.us-east-1.elb.amazonaws.com"):
        r53.change_resource_record_sets(HostedZoneId=hz, ChangeBatch={"Changes": [
            {"Action": "UPSERT", "ResourceRecordSet": {"Name": f"app.{zone}", "Type": t, "AliasTarget": {"HostedZoneId": lb["CanonicalHostedZoneId"], "DNSName": dns, "EvaluateTargetHealth": True}}}
            for t in ("A", "AAAA")
        ]})
    records = [r for r in r53.list_resource_record_sets(HostedZoneId=hz)["ResourceRecordSets"] if r["Type"] in ("A", "AAAA")]
    assert [r["Type"] for r in records] == ["A", "AAAA"]
    for r in records:
        assert "TTL" not in r
        assert r["AliasTarget"]["DNSName"] == "dualstack.other-1.us-east-1.elb.amazonaws.com"


# --------------------------------------------------------------------------- ec2 networking (NAT gateways, routes, EIPs, interface endpoints)
@pytest.fixture(scope="module")
def slow_net() -> Iterator[Emulator]:
    e = Emulator("--nat-seconds", "1", "--endpoint-seconds", "1")
    yield e
    e.stop()


def fresh_vpc(emu: Emulator, second_octet: int) -> tuple[str, list[str], str, str]:
    """A VPC of its own (10.N.0.0/16, two /24 subnets), so that tests do not share private DNS
    zones or addresses: (vpc, subnets, security group, route table)."""
    ec2 = emu.client("ec2")
    vpc = ec2.create_vpc(CidrBlock=f"10.{second_octet}.0.0/16")["Vpc"]["VpcId"]
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.{second_octet}.{i}.0/24")["Subnet"]["SubnetId"] for i in (1, 2)]
    sg = ec2.create_security_group(VpcId=vpc, GroupName="vpce-" + uid(), Description="d")["GroupId"]
    rt = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    return vpc, subnets, sg, rt


_OCTETS = itertools.count(20)


def octet() -> int:
    """A second octet no other test of this run has used (20, 21, ...): no two fresh VPCs
    overlap, and no fixed address a test uses elsewhere (192.168.x) falls inside one."""
    n = next(_OCTETS)
    assert n < 256, "more fresh VPCs than second octets"
    return n


def nat_spec(subnet: str, allocation: str, token: str, name: str) -> dict[str, Any]:
    return dict(SubnetId=subnet, AllocationId=allocation, ClientToken=token,
                TagSpecifications=[{"ResourceType": "natgateway", "Tags": [{"Key": "costctl:stack", "Value": name}]}])


def nat_of(ec2: Any, nat_id: str) -> dict[str, Any]:
    return ec2.describe_nat_gateways(NatGatewayIds=[nat_id])["NatGateways"][0]


def address_of(ec2: Any, allocation: str) -> dict[str, Any]:
    by_id = ec2.describe_addresses(AllocationIds=[allocation])["Addresses"]
    by_filter = ec2.describe_addresses(Filters=[{"Name": "allocation-id", "Values": [allocation]}])["Addresses"]
    assert by_id == by_filter and len(by_id) == 1
    return by_id[0]


def route_to(ec2: Any, rt: str, cidr: str = "0.0.0.0/0") -> dict[str, Any]:
    routes = ec2.describe_route_tables(RouteTableIds=[rt])["RouteTables"][0]["Routes"]
    return next(r for r in routes if r.get("DestinationCidrBlock") == cidr)


def test_nat_gateway_lifecycle_immediate(emu: Emulator) -> None:
    """Patches ec2-nat-lifecycle, ec2-route-blackhole, ec2-eip-unassociated. Fails without them:
    moto answers CreateNatGateway `available`, keeps the Elastic IP associated and the network
    interface after the delete, reports routes to a deleted NAT gateway `active`, and shows
    InstanceId "" on addresses."""
    ec2 = emu.client("ec2")
    n = octet()
    vpc, subnets, _, rt = fresh_vpc(emu, n)
    alloc = ec2.allocate_address(Domain="vpc")["AllocationId"]
    token = "tok-" + uid()
    created = ec2.create_nat_gateway(**nat_spec(subnets[0], alloc, token, "lc"))
    nat = created["NatGateway"]
    assert created["ClientToken"] == token
    assert nat["State"] == "pending"
    assert (nat["VpcId"], nat["SubnetId"], nat["ConnectivityType"]) == (vpc, subnets[0], "public")
    assert nat["Tags"] == [{"Key": "costctl:stack", "Value": "lc"}]
    addr = nat["NatGatewayAddresses"][0]
    assert addr["AllocationId"] == alloc and addr["IsPrimary"] is True
    assert addr["PrivateIp"].startswith(f"10.{n}.1.")  # from the subnet's range
    nat_id, eni = nat["NatGatewayId"], addr["NetworkInterfaceId"]
    # --nat-seconds 0: available from the next request on, the address associated with its ENI.
    described = nat_of(ec2, nat_id)
    assert described["State"] == "available"
    eip = address_of(ec2, alloc)
    assert eip["AssociationId"] == described["NatGatewayAddresses"][0]["AssociationId"]
    assert (eip["NetworkInterfaceId"], eip["PrivateIpAddress"]) == (eni, addr["PrivateIp"])
    assert "InstanceId" not in eip
    ec2.create_route(RouteTableId=rt, DestinationCidrBlock="0.0.0.0/0", NatGatewayId=nat_id)
    assert route_to(ec2, rt) == {"DestinationCidrBlock": "0.0.0.0/0", "NatGatewayId": nat_id, "Origin": "CreateRoute", "State": "active"}
    assert [t["RouteTableId"] for t in ec2.describe_route_tables(Filters=[{"Name": "route.nat-gateway-id", "Values": [nat_id]}])["RouteTables"]] == [rt]
    assert ec2.delete_nat_gateway(NatGatewayId=nat_id)["NatGatewayId"] == nat_id
    gone = nat_of(ec2, nat_id)
    assert gone["State"] == "deleted" and gone["DeleteTime"] >= gone["CreateTime"]
    assert "AssociationId" not in gone["NatGatewayAddresses"][0]
    # The address stays allocated, associated with nothing; the NAT's interface is gone.
    eip = address_of(ec2, alloc)
    assert eip["PublicIp"] == addr["PublicIp"]
    assert not {"AssociationId", "NetworkInterfaceId", "PrivateIpAddress", "InstanceId"} & set(eip)
    with pytest.raises(ClientError) as exc:
        ec2.describe_network_interfaces(NetworkInterfaceIds=[eni])
    assert code(exc) == "InvalidNetworkInterfaceID.NotFound"
    # Deleting does not delete the routes: they are blackholes until replaced.
    assert route_to(ec2, rt)["State"] == "blackhole"
    assert [g["NatGatewayId"] for g in ec2.describe_nat_gateways(Filters=[{"Name": "vpc-id", "Values": [vpc]}, {"Name": "state", "Values": ["deleted"]}])["NatGateways"]] == [nat_id]
    # Resume: a new NAT gateway with the same Elastic IP, the route pointed at it.
    again = ec2.create_nat_gateway(**nat_spec(subnets[0], alloc, "tok-" + uid(), "lc"))["NatGateway"]["NatGatewayId"]
    assert nat_of(ec2, again)["State"] == "available"
    ec2.replace_route(RouteTableId=rt, DestinationCidrBlock="0.0.0.0/0", NatGatewayId=again)
    assert route_to(ec2, rt) == {"DestinationCidrBlock": "0.0.0.0/0", "NatGatewayId": again, "Origin": "CreateRoute", "State": "active"}
    assert address_of(ec2, alloc)["NetworkInterfaceId"] == nat_of(ec2, again)["NatGatewayAddresses"][0]["NetworkInterfaceId"]


def test_nat_gateway_lifecycle_with_delay(slow_net: Emulator) -> None:
    """Patch ec2-nat-lifecycle with --nat-seconds 1: pending for a second, deleting for a
    second (the address still associated, the route still active), then deleted."""
    ec2 = slow_net.client("ec2")
    _, subnets, _, rt = fresh_vpc(slow_net, octet())
    alloc = ec2.allocate_address(Domain="vpc")["AllocationId"]
    nat_id = ec2.create_nat_gateway(**nat_spec(subnets[0], alloc, "tok-" + uid(), "slow"))["NatGateway"]["NatGatewayId"]
    assert nat_of(ec2, nat_id)["State"] == "pending"
    assert [g["NatGatewayId"] for g in ec2.describe_nat_gateways(Filters=[{"Name": "state", "Values": ["pending"]}, {"Name": "tag:costctl:stack", "Values": ["slow"]}])["NatGateways"]] == [nat_id]
    time.sleep(1.1)
    assert nat_of(ec2, nat_id)["State"] == "available"
    ec2.create_route(RouteTableId=rt, DestinationCidrBlock="0.0.0.0/0", NatGatewayId=nat_id)
    ec2.delete_nat_gateway(NatGatewayId=nat_id)
    assert nat_of(ec2, nat_id)["State"] == "deleting"
    assert "AssociationId" in address_of(ec2, alloc)
    assert route_to(ec2, rt)["State"] == "active"
    time.sleep(1.1)
    assert nat_of(ec2, nat_id)["State"] == "deleted"
    assert "AssociationId" not in address_of(ec2, alloc)
    assert route_to(ec2, rt)["State"] == "blackhole"


def test_nat_gateway_client_token_idempotency(emu: Emulator) -> None:
    """Patch ec2-nat-idempotency. Fails without it: moto ignores ClientToken, so the retry of a
    CreateNatGateway fails with Resource.AlreadyAssociated (or creates a second gateway)."""
    ec2 = emu.client("ec2")
    vpc, subnets, _, _ = fresh_vpc(emu, octet())
    alloc = ec2.allocate_address(Domain="vpc")["AllocationId"]
    spec = nat_spec(subnets[0], alloc, "tok-" + uid(), "idem")
    first = ec2.create_nat_gateway(**spec)
    retry = ec2.create_nat_gateway(**spec)
    assert retry["ClientToken"] == spec["ClientToken"]
    assert retry["NatGateway"]["NatGatewayId"] == first["NatGateway"]["NatGatewayId"]
    assert retry["NatGateway"]["State"] == "available"  # the current state, not the first answer's
    assert len(ec2.describe_nat_gateways(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["NatGateways"]) == 1
    with pytest.raises(ClientError) as exc:
        ec2.create_nat_gateway(**{**spec, "SubnetId": subnets[1]})
    assert code(exc) == "IdempotentParameterMismatch"
    assert nat_of(ec2, first["NatGateway"]["NatGatewayId"])["State"] == "available"


def test_nat_gateway_private_ip_and_refusals(emu: Emulator) -> None:
    """Patch ec2-nat-create. Fails without it: moto ignores PrivateIpAddress (a random 10.x
    address outside the subnet) and leaves an orphan network interface when the allocation id
    is unknown."""
    ec2 = emu.client("ec2")
    n = octet()
    _, subnets, _, _ = fresh_vpc(emu, n)
    alloc = ec2.allocate_address(Domain="vpc")["AllocationId"]

    def enis() -> int:
        return len(ec2.describe_network_interfaces(Filters=[{"Name": "subnet-id", "Values": [subnets[0]]}])["NetworkInterfaces"])

    before = enis()
    for bad, err in (
        (dict(AllocationId="eipalloc-0123456789abcdef0"), "InvalidAllocationID.NotFound"),
        (dict(SubnetId="subnet-0123456789abcdef0"), "InvalidSubnetID.NotFound"),
        (dict(PrivateIpAddress=f"10.{n}.2.10"), "InvalidParameterValue"),  # the other subnet's range
        (dict(PrivateIpAddress=f"10.{n}.1.1"), "InvalidParameterValue"),  # reserved by AWS
    ):
        with pytest.raises(ClientError) as exc:
            ec2.create_nat_gateway(**{**dict(SubnetId=subnets[0], AllocationId=alloc, PrivateIpAddress=f"10.{n}.1.77"), **bad})
        assert code(exc) == err, bad
    assert enis() == before
    assert "AssociationId" not in address_of(ec2, alloc)
    nat = ec2.create_nat_gateway(SubnetId=subnets[0], AllocationId=alloc, PrivateIpAddress=f"10.{n}.1.77")["NatGateway"]
    assert nat["NatGatewayAddresses"][0]["PrivateIp"] == f"10.{n}.1.77"
    eni = ec2.describe_network_interfaces(NetworkInterfaceIds=[nat["NatGatewayAddresses"][0]["NetworkInterfaceId"]])["NetworkInterfaces"][0]
    assert (eni["PrivateIpAddress"], eni["SubnetId"]) == (f"10.{n}.1.77", subnets[0])
    assert address_of(ec2, alloc)["PrivateIpAddress"] == f"10.{n}.1.77"
    other = ec2.allocate_address(Domain="vpc")["AllocationId"]
    with pytest.raises(ClientError) as exc:
        ec2.create_nat_gateway(SubnetId=subnets[0], AllocationId=other, PrivateIpAddress=f"10.{n}.1.77")
    assert code(exc) == "InvalidIPAddress.InUse"


def test_nat_gateway_with_an_elastic_ip_in_use_fails(emu: Emulator) -> None:
    """Patch ec2-nat-eip-in-use. Fails without it: moto refuses the call at once with
    Resource.AlreadyAssociated; AWS creates the NAT gateway (`pending`), which then goes to
    `failed` with that failure code (Troubleshoot NAT gateways)."""
    ec2 = emu.client("ec2")
    _, subnets, _, rt = fresh_vpc(emu, octet())
    alloc = ec2.allocate_address(Domain="vpc")["AllocationId"]
    holder = ec2.create_nat_gateway(SubnetId=subnets[0], AllocationId=alloc)["NatGateway"]["NatGatewayId"]
    held_by = nat_of(ec2, holder)["NatGatewayAddresses"][0]["NetworkInterfaceId"]
    second = ec2.create_nat_gateway(SubnetId=subnets[1], AllocationId=alloc)["NatGateway"]
    assert second["State"] == "pending"
    assert "PublicIp" not in second["NatGatewayAddresses"][0] and "AssociationId" not in second["NatGatewayAddresses"][0]
    failed = nat_of(ec2, second["NatGatewayId"])
    assert failed["State"] == "failed"
    assert (failed["FailureCode"], failed["FailureMessage"]) == ("Resource.AlreadyAssociated", f"Elastic IP address {alloc} is already associated")
    assert address_of(ec2, alloc)["NetworkInterfaceId"] == held_by
    with pytest.raises(ClientError) as exc:
        ec2.describe_network_interfaces(NetworkInterfaceIds=[second["NatGatewayAddresses"][0]["NetworkInterfaceId"]])
    assert code(exc) == "InvalidNetworkInterfaceID.NotFound"
    ec2.create_route(RouteTableId=rt, DestinationCidrBlock="0.0.0.0/0", NatGatewayId=second["NatGatewayId"])
    assert route_to(ec2, rt)["State"] == "blackhole"
    ec2.delete_nat_gateway(NatGatewayId=second["NatGatewayId"])
    assert nat_of(ec2, second["NatGatewayId"])["State"] == "deleted"
    assert nat_of(ec2, holder)["State"] == "available"


def test_nat_gateway_filters_and_unknown_ids(emu: Emulator) -> None:
    """Patch ec2-nat-filters. Fails without it: moto ignores tag:<key> and tag-key (every NAT
    gateway is returned), an unknown NatGatewayIds entry gives an empty list and
    DeleteNatGateway of an unknown id is HTTP 500."""
    ec2 = emu.client("ec2")
    vpc, subnets, _, _ = fresh_vpc(emu, octet())
    stack = "flt-" + uid()
    ids = []
    for i, subnet in enumerate(subnets):
        alloc = ec2.allocate_address(Domain="vpc")["AllocationId"]
        ids.append(ec2.create_nat_gateway(SubnetId=subnet, AllocationId=alloc, TagSpecifications=[
            {"ResourceType": "natgateway", "Tags": [{"Key": "costctl:stack", "Value": stack}, {"Key": f"zone-{i}", "Value": "x"}]}])["NatGateway"]["NatGatewayId"])
    untagged = ec2.create_nat_gateway(SubnetId=subnets[0], AllocationId=ec2.allocate_address(Domain="vpc")["AllocationId"])["NatGateway"]["NatGatewayId"]

    def find(*filters: tuple[str, list[str]]) -> list[str]:
        got = ec2.describe_nat_gateways(Filters=[{"Name": k, "Values": v} for k, v in filters])["NatGateways"]
        return sorted(g["NatGatewayId"] for g in got)

    assert find(("tag:costctl:stack", [stack])) == sorted(ids)
    assert find(("tag:costctl:stack", [stack[:6] + "*"])) == sorted(ids)
    assert find(("tag:costctl:stack", ["other"])) == []
    assert find(("tag-key", ["zone-1"])) == [ids[1]]
    assert find(("tag-key", ["zone-0", "zone-1"]), ("subnet-id", [subnets[0]])) == [ids[0]]
    assert find(("vpc-id", [vpc]), ("state", ["available"])) == sorted(ids + [untagged])
    assert find(("tag:costctl:stack", [stack]), ("state", ["pending", "deleted"])) == []
    assert find(("nat-gateway-id", [untagged]), ("vpc-id", [vpc])) == [untagged]
    with pytest.raises(ClientError) as exc:
        find(("nat-gateway-type", ["public"]))
    assert code(exc) == "InvalidParameterValue"
    with pytest.raises(ClientError) as exc:
        ec2.describe_nat_gateways(NatGatewayIds=[ids[0], "nat-0123456789abcdef0"])
    assert code(exc) == "NatGatewayNotFound"
    with pytest.raises(ClientError) as exc:
        ec2.delete_nat_gateway(NatGatewayId="nat-0123456789abcdef0")
    assert code(exc) == "NatGatewayNotFound"


def test_routes_to_unknown_nat_gateways_are_refused(emu: Emulator) -> None:
    """Patch ec2-route-nat-target. Fails without it: moto stores a CreateRoute/ReplaceRoute to
    a NAT gateway that does not exist as a route with no target. ReplaceRoute of a destination
    without a route is InvalidParameterValue already (moto checked it against AWS)."""
    ec2 = emu.client("ec2")
    _, subnets, _, rt = fresh_vpc(emu, octet())
    nat_id = ec2.create_nat_gateway(SubnetId=subnets[0], AllocationId=ec2.allocate_address(Domain="vpc")["AllocationId"])["NatGateway"]["NatGatewayId"]
    with pytest.raises(ClientError) as exc:
        ec2.create_route(RouteTableId=rt, DestinationCidrBlock="0.0.0.0/0", NatGatewayId="nat-0123456789abcdef0")
    assert code(exc) == "InvalidNatGatewayID.NotFound"
    assert [r["GatewayId"] for r in ec2.describe_route_tables(RouteTableIds=[rt])["RouteTables"][0]["Routes"]] == ["local"]
    ec2.create_route(RouteTableId=rt, DestinationCidrBlock="0.0.0.0/0", NatGatewayId=nat_id)
    with pytest.raises(ClientError) as exc:
        ec2.replace_route(RouteTableId=rt, DestinationCidrBlock="0.0.0.0/0", NatGatewayId="nat-0123456789abcdef0")
    assert code(exc) == "InvalidNatGatewayID.NotFound"
    assert route_to(ec2, rt)["NatGatewayId"] == nat_id
    with pytest.raises(ClientError) as exc:
        ec2.replace_route(RouteTableId=rt, DestinationCidrBlock="192.168.99.0/24", NatGatewayId=nat_id)
    assert code(exc) == "InvalidParameterValue"
    with pytest.raises(ClientError) as exc:
        ec2.create_route(RouteTableId="rtb-0123456789abcdef0", DestinationCidrBlock="0.0.0.0/0", NatGatewayId=nat_id)
    assert code(exc) == "InvalidRouteTableID.NotFound"


SSM = "com.amazonaws.us-east-1.ssm"
LOGS = "com.amazonaws.us-east-1.logs"
DEFAULT_ENDPOINT_POLICY = {"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}]}


def interface_endpoint(emu: Emulator, vpc: str, subnets: list[str], sg: str, service: str, stack: str, **kw: Any) -> dict[str, Any]:
    return emu.client("ec2").create_vpc_endpoint(
        VpcEndpointType="Interface", VpcId=vpc, ServiceName=service, SubnetIds=subnets, SecurityGroupIds=[sg],
        TagSpecifications=[{"ResourceType": "vpc-endpoint", "Tags": [{"Key": "costctl:stack", "Value": stack}]}], **kw,
    )


def endpoint_of(ec2: Any, vpce: str) -> dict[str, Any]:
    return ec2.describe_vpc_endpoints(VpcEndpointIds=[vpce])["VpcEndpoints"][0]


def test_interface_endpoint_lifecycle_and_fields(emu: Emulator) -> None:
    """Patches ec2-vpce-create, ec2-vpce-default-policy, ec2-vpce-lifecycle. Fails without them:
    moto answers `available`, drops IpAddressType and DnsOptions, reports a default policy with
    "Version": "2008-10-17", and ignores an unknown id in DeleteVpcEndpoints."""
    ec2 = emu.client("ec2")
    vpc, subnets, sg, _ = fresh_vpc(emu, octet())
    token = "tok-" + uid()
    created = interface_endpoint(emu, vpc, subnets, sg, SSM, "ep", PrivateDnsEnabled=True, ClientToken=token)
    ep = created["VpcEndpoint"]
    assert created["ClientToken"] == token
    assert ep["State"] == "pending"
    assert (ep["IpAddressType"], ep["DnsOptions"]) == ("ipv4", {"DnsRecordIpType": "ipv4", "PrivateDnsOnlyForInboundResolverEndpoint": False})
    assert json.loads(ep["PolicyDocument"]) == DEFAULT_ENDPOINT_POLICY
    assert ep["PrivateDnsEnabled"] is True and len(ep["NetworkInterfaceIds"]) == 2
    described = endpoint_of(ec2, ep["VpcEndpointId"])
    assert described["State"] == "available"
    assert {k: described[k] for k in ("IpAddressType", "DnsOptions", "PolicyDocument", "Tags")} == {k: ep[k] for k in ("IpAddressType", "DnsOptions", "PolicyDocument", "Tags")}
    dual = interface_endpoint(emu, vpc, subnets, sg, LOGS, "ep", PrivateDnsEnabled=False, IpAddressType="dualstack",
                              PolicyDocument=json.dumps({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "logs:*", "Resource": "*"}]}))["VpcEndpoint"]
    assert (dual["IpAddressType"], dual["DnsOptions"]["DnsRecordIpType"]) == ("dualstack", "dualstack")
    assert json.loads(dual["PolicyDocument"])["Statement"][0]["Action"] == "logs:*"
    chosen = interface_endpoint(emu, vpc, subnets[:1], sg, "com.amazonaws.us-east-1.secretsmanager", "ep",
                                DnsOptions={"DnsRecordIpType": "ipv4", "PrivateDnsOnlyForInboundResolverEndpoint": True})["VpcEndpoint"]
    assert endpoint_of(ec2, chosen["VpcEndpointId"])["DnsOptions"] == {"DnsRecordIpType": "ipv4", "PrivateDnsOnlyForInboundResolverEndpoint": True}
    deleted = ec2.delete_vpc_endpoints(VpcEndpointIds=[ep["VpcEndpointId"], "vpce-0123456789abcdef0"])
    assert [(u["ResourceId"], u["Error"]["Code"]) for u in deleted["Unsuccessful"]] == [("vpce-0123456789abcdef0", "InvalidVpcEndpoint.NotFound")]
    assert endpoint_of(ec2, ep["VpcEndpointId"])["State"] == "deleted"
    with pytest.raises(ClientError) as exc:
        ec2.describe_network_interfaces(NetworkInterfaceIds=ep["NetworkInterfaceIds"][:1])
    assert code(exc) == "InvalidNetworkInterfaceID.NotFound"
    assert endpoint_of(ec2, dual["VpcEndpointId"])["State"] == "available"


def test_interface_endpoint_lifecycle_with_delay(slow_net: Emulator) -> None:
    """Patch ec2-vpce-lifecycle with --endpoint-seconds 1: pending, then available; deleting
    (network interfaces still there), then deleted (gone)."""
    ec2 = slow_net.client("ec2")
    vpc, subnets, sg, _ = fresh_vpc(slow_net, octet())
    ep = interface_endpoint(slow_net, vpc, subnets, sg, SSM, "slow")["VpcEndpoint"]

    def by_state(state: str) -> list[str]:
        filters = [{"Name": "vpc-id", "Values": [vpc]}, {"Name": "vpc-endpoint-state", "Values": [state]}]
        return [e["VpcEndpointId"] for e in ec2.describe_vpc_endpoints(Filters=filters)["VpcEndpoints"]]

    assert by_state("pending") == [ep["VpcEndpointId"]] and by_state("available") == []
    time.sleep(1.1)
    assert by_state("available") == [ep["VpcEndpointId"]]
    ec2.delete_vpc_endpoints(VpcEndpointIds=[ep["VpcEndpointId"]])
    assert endpoint_of(ec2, ep["VpcEndpointId"])["State"] == "deleting"
    assert len(ec2.describe_network_interfaces(NetworkInterfaceIds=ep["NetworkInterfaceIds"])["NetworkInterfaces"]) == 2
    time.sleep(1.1)
    assert endpoint_of(ec2, ep["VpcEndpointId"])["State"] == "deleted"
    with pytest.raises(ClientError) as exc:
        ec2.describe_network_interfaces(NetworkInterfaceIds=ep["NetworkInterfaceIds"][:1])
    assert code(exc) == "InvalidNetworkInterfaceID.NotFound"


def test_interface_endpoint_client_token_idempotency(emu: Emulator) -> None:
    """Patch ec2-vpce-create. Fails without it: moto creates a second endpoint for the retry."""
    ec2 = emu.client("ec2")
    vpc, subnets, sg, _ = fresh_vpc(emu, octet())
    token = "tok-" + uid()
    first = interface_endpoint(emu, vpc, subnets, sg, SSM, "idem", ClientToken=token)["VpcEndpoint"]["VpcEndpointId"]
    retry = interface_endpoint(emu, vpc, subnets, sg, SSM, "idem", ClientToken=token)
    assert (retry["VpcEndpoint"]["VpcEndpointId"], retry["ClientToken"], retry["VpcEndpoint"]["State"]) == (first, token, "available")
    assert [e["VpcEndpointId"] for e in ec2.describe_vpc_endpoints(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["VpcEndpoints"]] == [first]
    with pytest.raises(ClientError) as exc:
        interface_endpoint(emu, vpc, subnets[:1], sg, SSM, "idem", ClientToken=token)
    assert code(exc) == "IdempotentParameterMismatch"


def test_interface_endpoint_private_dns_conflict(emu: Emulator) -> None:
    """Patch ec2-vpce-private-dns. Fails without it: moto creates a second endpoint with private
    DNS for the same service in the same VPC."""
    ec2 = emu.client("ec2")
    vpc, subnets, sg, _ = fresh_vpc(emu, octet())
    first = interface_endpoint(emu, vpc, subnets, sg, SSM, "dns", PrivateDnsEnabled=True)["VpcEndpoint"]["VpcEndpointId"]
    with pytest.raises(ClientError) as exc:
        interface_endpoint(emu, vpc, subnets, sg, SSM, "dns", PrivateDnsEnabled=True)
    assert code(exc) == "InvalidParameter"
    assert exc.value.response["Error"]["Message"] == f"private-dns-enabled cannot be set because there is already a conflicting DNS domain for ssm.us-east-1.amazonaws.com in the VPC {vpc}"
    with pytest.raises(ClientError) as exc:
        interface_endpoint(emu, vpc, subnets, sg, SSM, "dns")  # private DNS is on by default
    assert code(exc) == "InvalidParameter"
    without = interface_endpoint(emu, vpc, subnets, sg, SSM, "dns", PrivateDnsEnabled=False)["VpcEndpoint"]
    assert without["PrivateDnsEnabled"] is False
    dkr = interface_endpoint(emu, vpc, subnets, sg, "com.amazonaws.us-east-1.ecr.dkr", "dns")["VpcEndpoint"]["VpcEndpointId"]
    with pytest.raises(ClientError) as exc:
        interface_endpoint(emu, vpc, subnets, sg, "com.amazonaws.us-east-1.ecr.dkr", "dns")
    assert "*.dkr.ecr.us-east-1.amazonaws.com" in exc.value.response["Error"]["Message"]
    other_vpc, other_subnets, other_sg, _ = fresh_vpc(emu, octet())
    interface_endpoint(emu, other_vpc, other_subnets, other_sg, SSM, "dns", PrivateDnsEnabled=True)
    ec2.delete_vpc_endpoints(VpcEndpointIds=[first, dkr])
    assert endpoint_of(ec2, first)["State"] == "deleted"
    again = interface_endpoint(emu, vpc, subnets, sg, SSM, "dns", PrivateDnsEnabled=True)["VpcEndpoint"]
    assert again["PrivateDnsEnabled"] is True and again["VpcEndpointId"] != first


def test_vpc_endpoint_filters(emu: Emulator) -> None:
    """No patch needed (guard): DescribeVpcEndpoints filters tag:<key>, tag-key, vpc-id,
    service-name, vpc-endpoint-type, vpc-endpoint-state, ANDed."""
    ec2 = emu.client("ec2")
    vpc, subnets, sg, rt = fresh_vpc(emu, octet())
    stack = "vf-" + uid()
    ssm = interface_endpoint(emu, vpc, subnets, sg, SSM, stack)["VpcEndpoint"]["VpcEndpointId"]
    logs = interface_endpoint(emu, vpc, subnets, sg, LOGS, stack)["VpcEndpoint"]["VpcEndpointId"]
    s3 = ec2.create_vpc_endpoint(VpcEndpointType="Gateway", VpcId=vpc, ServiceName="com.amazonaws.us-east-1.s3", RouteTableIds=[rt])["VpcEndpoint"]["VpcEndpointId"]

    def find(*filters: tuple[str, list[str]]) -> list[str]:
        got = ec2.describe_vpc_endpoints(Filters=[{"Name": k, "Values": v} for k, v in filters])["VpcEndpoints"]
        return sorted(e["VpcEndpointId"] for e in got)

    assert find(("vpc-id", [vpc])) == sorted([ssm, logs, s3])
    assert find(("tag:costctl:stack", [stack])) == sorted([ssm, logs])
    assert find(("tag:costctl:stack", ["nope"])) == []
    assert find(("tag-key", ["costctl:stack"]), ("vpc-id", [vpc])) == sorted([ssm, logs])
    assert find(("vpc-id", [vpc]), ("service-name", [LOGS])) == [logs]
    assert find(("vpc-id", [vpc]), ("vpc-endpoint-type", ["Gateway"])) == [s3]
    assert find(("vpc-id", [vpc]), ("vpc-endpoint-type", ["Interface"]), ("vpc-endpoint-state", ["available"])) == sorted([ssm, logs])
    ec2.delete_vpc_endpoints(VpcEndpointIds=[logs])
    assert find(("tag:costctl:stack", [stack]), ("vpc-endpoint-state", ["deleted"])) == [logs]
    assert find(("tag:costctl:stack", [stack]), ("vpc-endpoint-state", ["pending", "available", "deleting"])) == [ssm]


# --------------------------------------------------------------------------- dynamodb / ssm (no patch needed; guards)
def test_dynamodb_conditional_writes_and_ssm(emu: Emulator) -> None:
    d, s = emu.client("dynamodb"), emu.client("ssm")
    table = "state-" + uid()
    d.create_table(TableName=table, KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}], AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")
    assert d.describe_table(TableName=table)["Table"]["TableStatus"] == "ACTIVE"
    key = {"pk": {"S": "stack#a"}, "sk": {"S": "state"}}
    d.put_item(TableName=table, Item={**key, "gen": {"N": "1"}}, ConditionExpression="attribute_not_exists(pk)")
    with pytest.raises(ClientError) as exc:
        d.put_item(TableName=table, Item={**key, "gen": {"N": "1"}}, ConditionExpression="attribute_not_exists(pk)")
    assert code(exc) == "ConditionalCheckFailedException"
    d.update_item(TableName=table, Key=key, UpdateExpression="SET gen = gen + :one", ConditionExpression="gen = :g", ExpressionAttributeValues={":one": {"N": "1"}, ":g": {"N": "1"}})
    with pytest.raises(ClientError) as exc:
        d.update_item(TableName=table, Key=key, UpdateExpression="SET gen = gen + :one", ConditionExpression="gen = :g", ExpressionAttributeValues={":one": {"N": "1"}, ":g": {"N": "1"}})
    assert code(exc) == "ConditionalCheckFailedException"
    assert d.get_item(TableName=table, Key=key, ConsistentRead=True)["Item"]["gen"] == {"N": "2"}
    assert d.query(TableName=table, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "stack#a"}})["Count"] == 1
    assert d.scan(TableName=table)["Count"] == 1
    name = f"/costctl/{uid()}/bootstrap"
    s.put_parameter(Name=name, Value="v1", Type="String")
    with pytest.raises(ClientError) as exc:
        s.put_parameter(Name=name, Value="v2", Type="String")
    assert code(exc) == "ParameterAlreadyExists"
    s.put_parameter(Name=name, Value="v2", Type="String", Overwrite=True)
    assert s.get_parameter(Name=name)["Parameter"]["Value"] == "v2"


# --------------------------------------------------------------------------- latency / throttling / stats
def test_stats_names_every_protocol(emu: Emulator, ecs_cluster: str) -> None:
    emu.control("reset-stats")
    emu.client("ecs").list_services(cluster=ecs_cluster)
    emu.client("rds").describe_db_instances()
    emu.client("elbv2").describe_load_balancers()
    emu.client("sts").get_caller_identity()
    k = emu.client("kafka")
    arn = create_msk(emu, "st-" + uid())["ClusterArn"]
    k.list_clusters_v2()
    k.describe_cluster_v2(ClusterArn=arn)
    k.get_bootstrap_brokers(ClusterArn=arn)
    k.delete_cluster(ClusterArn=arn)
    r53 = emu.client("route53")
    hz = r53.create_hosted_zone(Name=f"s{uid()}.example.com", CallerReference=uid())["HostedZone"]["Id"]
    r53.change_resource_record_sets(HostedZoneId=hz, ChangeBatch={"Changes": [{"Action": "UPSERT", "ResourceRecordSet": {"Name": "x." + r53.get_hosted_zone(Id=hz)["HostedZone"]["Name"], "Type": "A", "TTL": 60, "ResourceRecords": [{"Value": "10.0.0.1"}]}}]})
    r53.list_resource_record_sets(HostedZoneId=hz)
    emu.client("wafv2").list_web_acls(Scope="REGIONAL")
    stats = emu.control("stats")
    assert stats["throttled"] == {}
    assert stats["requests"] == {
        "ecs:ListServices": 1,
        "rds:DescribeDBInstances": 1,
        "elasticloadbalancing:DescribeLoadBalancers": 1,
        "sts:GetCallerIdentity": 1,
        "kafka:CreateClusterV2": 1,
        "kafka:ListClustersV2": 1,
        "kafka:DescribeClusterV2": 1,
        "kafka:GetBootstrapBrokers": 1,
        "kafka:DeleteCluster": 1,
        "route53:CreateHostedZone": 1,
        "route53:GetHostedZone": 1,
        "route53:ChangeResourceRecordSets": 1,
        "route53:ListResourceRecordSets": 1,
        "wafv2:ListWebACLs": 1,
    }
    assert stats["cpu_ms"] > 0
    assert emu.control("reset-stats") == {"requests": {}, "throttled": {}, "cpu_ms": 0.0}


def test_latency_injection(emu: Emulator) -> None:
    sts = emu.client("sts")
    sts.get_caller_identity()
    try:
        assert emu.control("config", {"latency_ms": 300})["latency_ms"] == 300
        t0 = time.monotonic()
        sts.get_caller_identity()
        assert time.monotonic() - t0 >= 0.3
        t0 = time.monotonic()
        emu.control("stats")
        assert time.monotonic() - t0 < 0.3  # control endpoints are never delayed
    finally:
        emu.control("config", {"latency_ms": 0})
    t0 = time.monotonic()
    sts.get_caller_identity()
    assert time.monotonic() - t0 < 0.3


def test_throttling_errors_per_protocol(emu: Emulator, ecs_cluster: str) -> None:
    emu.control("reset-stats")
    calls = [
        ("ecs", lambda: emu.client("ecs").list_clusters(), "ThrottlingException", 400),
        ("dynamodb", lambda: emu.client("dynamodb").list_tables(), "ThrottlingException", 400),
        ("ssm", lambda: emu.client("ssm").get_parameter(Name="/x"), "ThrottlingException", 400),
        ("application-autoscaling", lambda: emu.client("application-autoscaling").describe_scalable_targets(ServiceNamespace="ecs"), "ThrottlingException", 400),
        ("kafka", lambda: emu.client("kafka").list_clusters_v2(), "TooManyRequestsException", 429),
        ("rds", lambda: emu.client("rds").describe_db_instances(), "Throttling", 400),
        ("elbv2", lambda: emu.client("elbv2").describe_load_balancers(), "Throttling", 400),
        ("route53", lambda: emu.client("route53").list_hosted_zones(), "Throttling", 400),
        ("ec2", lambda: emu.client("ec2").describe_vpcs(), "RequestLimitExceeded", 503),
        ("wafv2", lambda: emu.client("wafv2").list_web_acls(Scope="REGIONAL"), "ThrottlingException", 400),
        ("cloudwatch", lambda: emu.client("cloudwatch").describe_alarms(), "ThrottlingException", 400),
    ]
    try:
        emu.control("config", {"throttle_fraction": 1.0, "seed": 1})
        for name, call, err, status in calls:
            with pytest.raises(ClientError) as exc:
                call()
            assert (name, code(exc), exc.value.response["ResponseMetadata"]["HTTPStatusCode"]) == (name, err, status)
            assert exc.value.response["Error"]["Message"] in ("Rate exceeded", "Too Many Requests", "Request limit exceeded.")
    finally:
        emu.control("config", {"throttle_fraction": 0.0})
    stats = emu.control("stats")
    assert stats["throttled"] == stats["requests"]
    assert stats["throttled"]["kafka:ListClustersV2"] == 1 and stats["throttled"]["ec2:DescribeVpcs"] == 1
    assert emu.client("ecs").list_clusters()["clusterArns"]


def test_dynamodb_throttle_type_is_namespaced(emu: Emulator) -> None:
    d = emu.client("dynamodb")
    bodies = raw_bodies(d)
    try:
        emu.control("config", {"throttle_fraction": 1.0})
        with pytest.raises(ClientError):
            d.list_tables()
    finally:
        emu.control("config", {"throttle_fraction": 0.0})
    assert json.loads(bodies[-1]) == {"__type": "com.amazonaws.dynamodb.v20120810#ThrottlingException", "message": "Rate exceeded"}


def test_throttling_is_deterministic_and_sdk_retries_it(emu: Emulator) -> None:
    sts = emu.client("sts")

    def pattern() -> list[bool]:
        out = []
        for _ in range(30):
            try:
                sts.get_caller_identity()
                out.append(False)
            except ClientError as exc:
                assert exc.response["Error"]["Code"] == "Throttling"
                out.append(True)
        return out

    try:
        emu.control("config", {"throttle_fraction": 0.5, "seed": 7})
        first = pattern()
        emu.control("config", {"throttle_fraction": 0.5, "seed": 7})
        second = pattern()
        emu.control("config", {"throttle_fraction": 0.5, "seed": 8})
        third = pattern()
        assert first == second
        assert first != third
        assert 5 <= sum(first) <= 25
        emu.control("config", {"throttle_fraction": 0.3, "seed": 7})
        emu.control("reset-stats")
        retrying = emu.client("sts", retries=10)
        for _ in range(10):
            retrying.get_caller_identity()  # the SDK classifies it as throttling and retries
        stats = emu.control("stats")
        assert stats["requests"]["sts:GetCallerIdentity"] == 10 + stats["throttled"].get("sts:GetCallerIdentity", 0)
        assert stats["throttled"]["sts:GetCallerIdentity"] > 0
    finally:
        emu.control("config", {"throttle_fraction": 0.0, "seed": 0})


def test_command_line_options_and_bad_config() -> None:
    e = Emulator("--latency-ms", "250", "--throttle-fraction", "0.25", "--seed", "3")
    try:
        assert e.control("config") == {"latency_ms": 250.0, "throttle_fraction": 0.25, "seed": 3}
        req = urllib.request.Request(f"{e.url}/_costctl/config", data=json.dumps({"throttle_fraction": 2}).encode(), method="POST")
        with pytest.raises(urllib.error.HTTPError) as exc:
            urllib.request.urlopen(req, timeout=10)
        assert exc.value.code == 400
        assert e.control("config")["throttle_fraction"] == 0.25
    finally:
        e.stop()
