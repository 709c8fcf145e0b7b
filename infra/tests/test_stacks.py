"""The two stacks, infra/cloudformation/core.yaml and edge.yaml, created together in moto.

What is checked, and how:

- core.yaml is created in moto as it is, with its default AMI parameter (the
  arm64 Amazon Linux 2023 one, which moto knows). moto builds the network, the
  security groups, RDS primary and replica, the log groups, the ALB and its
  listeners, the launch template, the Auto Scaling group and IAM; the tests
  assert the properties that matter on what moto built. moto skips (with a
  warning) what it cannot create from a template: the Secrets Manager secrets,
  the scaling policy and the separate egress rules (a test asserts it is
  exactly these). Those, and what
  moto ignores (CreationPolicy, UpdatePolicy, deletion policies), are asserted
  on the template itself.

- edge.yaml imports core's outputs. Every Fn::ImportValue in it, in every
  resource whether moto can create it or not, is resolved against the exports
  that the core stack in moto really has (list-exports), and must name one.
  Then edge is created in moto, in the same account and region, importing
  those exports for real: the resources moto cannot create (CloudFront, the
  bucket policy, WAF, the alarms; the test asserts that it is exactly these
  types) are left out, and each reference to one of them is replaced by a
  stand-in value. Everything else (the KMS key and its alias, the alarm topic,
  the invalidation policy on core's instance role, the DNS records) is created
  from the real imports and asserted. The left-out resources' imports are
  evaluated over the real exported values (Fn::Sub, Fn::Split, Fn::Select)
  and compared with what moto made: the alarms' dimensions name the real ALB,
  target group, database instances and Auto Scaling group, the bucket policy
  and the CloudFront origin the real bucket, the WAF association the real
  ALB. moto cannot evaluate two of core's outputs (the ALB's
  CanonicalHostedZoneID and LoadBalancerFullName; a test asserts it is
  exactly these, MOTO_UNRESOLVED): for them only the wiring from export to
  import is checked, not the value.

- The boot stub, the launch template's UserData as moto rendered it (with
  stand-in ARNs where moto, having no secrets, left ${DbSecret} and the like),
  passes `bash -n` and shellcheck; which template value feeds each variable is
  checked on the template. The stub is then run here with stand-ins for `aws`,
  `cfn-signal`, `sleep` and `dnf` on PATH: it hands boot.sh every variable of
  the boot contract, and when boot.sh cannot be downloaded it signals failure
  to the Auto Scaling group itself.
"""

import base64
import json
import pathlib
import re
import shutil
import stat
import subprocess
import urllib.parse

import boto3
import pytest
import yaml
from moto import mock_aws
from moto.cloudformation.parsing import NULL_MODELS, get_model_map

HERE = pathlib.Path(__file__).parent
CORE = HERE.parent / "cloudformation" / "core.yaml"
EDGE = HERE.parent / "cloudformation" / "edge.yaml"
REGION = "us-east-1"
CORE_STACK = "shop"
EDGE_STACK = "shop-edge"
DOMAIN = "example.com"
API_PORT = 8080
ARTIFACTS = "shop-artifacts"
RELEASE = "shopfront/releases/2026-12-01-abc1234/"
ARM64_AMI = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64"

# What the boot stub must hand boot.sh (the contract), and from where.
BOOT_VARIABLES = {
    "SHOPFRONT_RELEASE": "s3://${ArtifactsBucket}/${ReleasePrefix}",
    "AWS_REGION": "${AWS::Region}",
    "DB_OWNER_SECRET_ID": "${DbSecret}",
    "DB_API_SECRET_ID": "${ApiDbSecret}",
    "SESSION_SECRET_ID": "${SessionSecret}",
    "DB_HOST": "${DbHost}",
    "DB_PORT": "${DbPort}",
    "DB_NAME": "shop",
    "REPLICA_HOST": "${ReplicaHost}",
    "REPLICA_PORT": "${ReplicaPort}",
    "S3_BUCKET": "${SiteBucket}",
    "CLOUDFRONT_DISTRIBUTION_ID": "${DistributionId}",
    "API_PORT": "${ApiPort}",
    "TRUSTED_PROXIES": "${NetworkPrefix}.0.0/16",
    "API_LOG_GROUP": "${ApiLogGroup}",
    "BOOT_LOG_GROUP": "${BootLogGroup}",
    "CFN_STACK": "${AWS::StackName}",
    "CFN_RESOURCE": "AutoScalingGroup",
}


class _Loader(yaml.SafeLoader):
    """Reads CloudFormation's short tags (!Ref, !Sub, ...) as plain data."""


def _tag(loader, suffix, node):
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


_Loader.add_multi_constructor("!", _tag)


def load(path):
    return yaml.load(path.read_text(), Loader=_Loader)


def walk(node):
    """Every dict and list inside node, node first."""
    yield node
    children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else []
    for child in children:
        yield from walk(child)


def resolve(node, values):
    """Evaluates the few intrinsics edge.yaml uses over known values.

    values maps parameter and pseudo-parameter names to strings, and
    ("export", NAME) to an export's value. An unknown name or export fails.
    """
    if isinstance(node, str):
        return node
    if isinstance(node, list):
        return [resolve(item, values) for item in node]
    (function, argument), = node.items()
    if function == "Ref":
        return values[argument]
    if function == "Fn::Sub":
        text, extra = (argument, {}) if isinstance(argument, str) else argument
        scope = dict(values, **{k: resolve(v, values) for k, v in extra.items()})
        return re.sub(r"\$\{([^}!]+)\}", lambda m: scope[m.group(1)], text)
    if function == "Fn::ImportValue":
        name = resolve(argument, values)
        assert ("export", name) in values, f"edge imports {name}, which core does not export"
        return values[("export", name)]
    if function == "Fn::Split":
        return resolve(argument[1], values).split(argument[0])
    if function == "Fn::Select":
        return resolve(argument[1], values)[int(argument[0])]
    raise AssertionError(f"the test cannot evaluate {function}")


def moto_subset(template):
    """The template without the resources moto cannot create.

    Returns the new template and the left-out resources' names. Every Ref,
    Fn::GetAtt and ${...} of a left-out resource becomes a stand-in string.
    """
    supported = set(get_model_map()) - set(NULL_MODELS)
    left_out = {n for n, r in template["Resources"].items() if r["Type"] not in supported}

    def standin(name, attribute=None):
        return f"standin-{name}-{attribute}".lower().replace(".", "-") if attribute else f"STANDIN{name.upper()}"

    def sub(text):
        def one(match):
            name, _, attribute = match.group(1).partition(".")
            return standin(name, attribute or None) if name in left_out else match.group(0)

        return re.sub(r"\$\{([^}!]+)\}", one, text)

    def rewrite(node):
        if isinstance(node, list):
            return [rewrite(item) for item in node]
        if not isinstance(node, dict):
            return node
        if list(node) == ["Ref"] and node["Ref"] in left_out:
            return standin(node["Ref"])
        if list(node) == ["Fn::GetAtt"] and node["Fn::GetAtt"][0] in left_out:
            return standin(*node["Fn::GetAtt"])
        if list(node) == ["Fn::Sub"]:
            argument = node["Fn::Sub"]
            if isinstance(argument, str):
                return {"Fn::Sub": sub(argument)}
            return {"Fn::Sub": [sub(argument[0]), rewrite(argument[1])]}
        return {key: rewrite(value) for key, value in node.items()}

    out = dict(template)
    out["Resources"] = {n: rewrite(r) for n, r in template["Resources"].items() if n not in left_out}
    out["Outputs"] = {n: rewrite(o) for n, o in template.get("Outputs", {}).items()}
    for resource in out["Resources"].values():
        assert not set(resource.get("DependsOn", [])) & left_out
    return out, left_out


def resources_of(cfn, stack):
    return {
        r["LogicalResourceId"]: r["PhysicalResourceId"]
        for r in cfn.list_stack_resources(StackName=stack)["StackResourceSummaries"]
    }


@pytest.fixture(scope="module")
def aws():
    with mock_aws():
        acm = boto3.client("acm", region_name=REGION)
        alb_certificate = acm.request_certificate(
            DomainName=f"api.{DOMAIN}", SubjectAlternativeNames=[f"admin.{DOMAIN}"]
        )["CertificateArn"]
        cloudfront_certificate = acm.request_certificate(DomainName=f"shop.{DOMAIN}")["CertificateArn"]
        zone = boto3.client("route53", region_name=REGION).create_hosted_zone(
            Name=f"{DOMAIN}.", CallerReference="shopfront-test"
        )["HostedZone"]["Id"].split("/")[-1]
        cfn = boto3.client("cloudformation", region_name=REGION)
        cfn.create_stack(
            StackName=CORE_STACK,
            TemplateBody=json.dumps(load(CORE)),
            Parameters=[
                {"ParameterKey": "ArtifactsBucket", "ParameterValue": ARTIFACTS},
                {"ParameterKey": "ReleasePrefix", "ParameterValue": RELEASE},
                {"ParameterKey": "AlbCertificateArn", "ParameterValue": alb_certificate},
            ],
            Capabilities=["CAPABILITY_IAM"],
        )
        core_stack = cfn.describe_stacks(StackName=CORE_STACK)["Stacks"][0]
        assert core_stack["StackStatus"] == "CREATE_COMPLETE", core_stack["StackStatus"]
        exports = {e["Name"]: e["Value"] for e in cfn.list_exports()["Exports"]}

        edge_template, left_out = moto_subset(load(EDGE))
        edge_parameters = {
            "CoreStackName": CORE_STACK,
            "DomainName": DOMAIN,
            "HostedZoneId": zone,
            "CloudFrontCertificateArn": cloudfront_certificate,
            "AlarmEmail": f"ops@{DOMAIN}",
        }
        cfn.create_stack(
            StackName=EDGE_STACK,
            TemplateBody=json.dumps(edge_template),
            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in edge_parameters.items()],
            Capabilities=["CAPABILITY_IAM"],
        )
        edge_stack = cfn.describe_stacks(StackName=EDGE_STACK)["Stacks"][0]
        assert edge_stack["StackStatus"] == "CREATE_COMPLETE", edge_stack["StackStatus"]
        yield {
            "core": resources_of(cfn, CORE_STACK),
            "core_id": core_stack["StackId"],
            "edge": resources_of(cfn, EDGE_STACK),
            "edge_left_out": left_out,
            "edge_parameters": edge_parameters,
            "exports": exports,
            "zone": zone,
        }


@pytest.fixture(scope="module")
def stack(aws):
    return aws["core"]


# --- core.yaml, as moto built it -------------------------------------------------


def test_the_network_spans_two_azs_with_rds_in_private_subnets(stack):
    ec2 = boto3.client("ec2", region_name=REGION)
    subnets = {
        name: ec2.describe_subnets(SubnetIds=[stack[name]])["Subnets"][0]
        for name in ["PublicSubnetA", "PublicSubnetB", "PrivateSubnetA", "PrivateSubnetB"]
    }
    assert subnets["PublicSubnetA"]["AvailabilityZone"] != subnets["PublicSubnetB"]["AvailabilityZone"]
    assert subnets["PrivateSubnetA"]["AvailabilityZone"] != subnets["PrivateSubnetB"]["AvailabilityZone"]
    routes = ec2.describe_route_tables(RouteTableIds=[stack["PrivateRouteTable"]])["RouteTables"][0]["Routes"]
    assert all(r.get("GatewayId", "local") == "local" for r in routes), "private subnets have no internet route"


def ingress(group):
    """A security group's ingress rules as (port, source) pairs."""
    ec2 = boto3.client("ec2", region_name=REGION)
    rules = ec2.describe_security_groups(GroupIds=[group])["SecurityGroups"][0]["IpPermissions"]
    out = set()
    for rule in rules:
        for r in rule.get("IpRanges", []):
            out.add((rule["FromPort"], rule["ToPort"], r["CidrIp"]))
        for g in rule.get("UserIdGroupPairs", []):
            out.add((rule["FromPort"], rule["ToPort"], g["GroupId"]))
    return out


def test_security_groups_allow_only_internet_to_alb_to_api_to_rds(stack):
    alb, app, db = stack["AlbSecurityGroup"], stack["AppSecurityGroup"], stack["DbSecurityGroup"]
    assert ingress(alb) == {(443, 443, "0.0.0.0/0"), (80, 80, "0.0.0.0/0")}
    assert ingress(app) == {(API_PORT, API_PORT, alb)}
    assert ingress(db) == {(5432, 5432, app)}


def test_rds_is_multi_az_encrypted_private_on_a_major_version_and_the_replica_follows_the_primary(stack):
    rds = boto3.client("rds", region_name=REGION)
    primary = rds.describe_db_instances(DBInstanceIdentifier=stack["Database"])["DBInstances"][0]
    replica = rds.describe_db_instances(DBInstanceIdentifier=stack["DatabaseReplica"])["DBInstances"][0]
    assert primary["DBInstanceIdentifier"] == f"{CORE_STACK}-db"
    assert replica["DBInstanceIdentifier"] == f"{CORE_STACK}-db-replica"
    assert primary["Engine"] == "postgres"
    assert primary["EngineVersion"] == "16"
    assert primary["DBInstanceClass"] == "db.t4g.micro"
    assert primary["MultiAZ"] is True
    assert primary["StorageEncrypted"] is True
    assert primary["PubliclyAccessible"] is False
    assert primary["BackupRetentionPeriod"] == 7
    assert primary["DeletionProtection"] is False, "off on the first create, so a failed create can roll back"
    assert replica["ReadReplicaSourceDBInstanceIdentifier"] == primary["DBInstanceIdentifier"]
    assert replica["DBInstanceIdentifier"] in primary["ReadReplicaDBInstanceIdentifiers"]
    assert replica["PubliclyAccessible"] is False
    subnets = {s["SubnetIdentifier"] for s in primary["DBSubnetGroup"]["Subnets"]}
    assert subnets == {stack["PrivateSubnetA"], stack["PrivateSubnetB"]}


def test_every_log_group_expires_including_the_ones_rds_exports_to(stack):
    logs = boto3.client("logs", region_name=REGION)
    groups = {g["logGroupName"]: g for g in logs.describe_log_groups()["logGroups"]}
    resources = load(CORE)["Resources"]
    made = [stack[n] for n, r in resources.items() if r["Type"] == "AWS::Logs::LogGroup"]
    assert len(made) == 5
    for name in made:
        assert groups[name].get("retentionInDays"), f"{name} never expires"
    # RDS exports each log type to /aws/rds/instance/ID/TYPE: each one the
    # template exports must be a group the stack made, with its retention.
    for logical in ["Database", "DatabaseReplica"]:
        for kind in resources[logical]["Properties"]["EnableCloudwatchLogsExports"]:
            name = f"/aws/rds/instance/{stack[logical]}/{kind}"
            assert name in made, f"RDS would create {name} itself, without a retention"
            assert set(resources[logical]["DependsOn"]) & {
                n for n, r in resources.items() if r["Type"] == "AWS::Logs::LogGroup" and stack[n] == name
            }, f"{logical} must wait for {name}, or RDS creates it first"
    assert groups[stack["ApiLogGroup"]]["logGroupName"] == f"/{CORE_STACK}/api"
    # The boot log outlives a rolled-back create, under a name of its own.
    boot = resources["BootLogGroup"]
    assert boot["DeletionPolicy"] == "Retain" and "LogGroupName" not in boot["Properties"]


def test_the_alb_redirects_http_to_https_and_forwards_https_to_the_api(stack):
    elb = boto3.client("elbv2", region_name=REGION)
    listeners = elb.describe_listeners(LoadBalancerArn=stack["LoadBalancer"])["Listeners"]
    by_port = {l["Port"]: l for l in listeners}
    assert set(by_port) == {80, 443}
    redirect = by_port[80]["DefaultActions"][0]
    assert redirect["Type"] == "redirect"
    assert redirect["RedirectConfig"]["Protocol"] == "HTTPS"
    assert redirect["RedirectConfig"]["Port"] == "443"
    assert redirect["RedirectConfig"]["StatusCode"] == "HTTP_301"
    https = by_port[443]
    assert https["Protocol"] == "HTTPS"
    assert https["SslPolicy"].startswith("ELBSecurityPolicy-TLS13")
    assert https["DefaultActions"][0]["Type"] == "forward"
    group = elb.describe_target_groups(TargetGroupArns=[https["DefaultActions"][0]["TargetGroupArn"]])["TargetGroups"][0]
    assert group["Port"] == API_PORT
    assert group["HealthCheckPath"] == "/healthz"
    lb = elb.describe_load_balancers(LoadBalancerArns=[stack["LoadBalancer"]])["LoadBalancers"][0]
    assert lb["Scheme"] == "internet-facing"
    assert lb["SecurityGroups"] == [stack["AlbSecurityGroup"]]
    attributes = {
        a["Key"]: a["Value"]
        for a in elb.describe_load_balancer_attributes(LoadBalancerArn=stack["LoadBalancer"])["Attributes"]
    }
    assert attributes["deletion_protection.enabled"] == "false", "off on the first create"


def launch_template_data(stack):
    ec2 = boto3.client("ec2", region_name=REGION)
    versions = ec2.describe_launch_template_versions(LaunchTemplateId=stack["LaunchTemplate"])
    return versions["LaunchTemplateVersions"][0]["LaunchTemplateData"]


def test_the_api_runs_on_graviton_in_an_asg_of_at_least_two_across_azs_with_imdsv2_only(stack):
    asg = boto3.client("autoscaling", region_name=REGION)
    group = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[stack["AutoScalingGroup"]])["AutoScalingGroups"][0]
    assert group["MinSize"] >= 2
    assert group["MaxSize"] > group["MinSize"], "a rolling update needs room for one more"
    assert set(group["VPCZoneIdentifier"].split(",")) == {stack["PublicSubnetA"], stack["PublicSubnetB"]}
    assert group["HealthCheckType"] == "ELB"
    assert len(group["TargetGroupARNs"]) == 1
    data = launch_template_data(stack)
    assert data["InstanceType"] == "t4g.micro"
    arm64 = boto3.client("ssm", region_name=REGION).get_parameter(Name=ARM64_AMI)["Parameter"]["Value"]
    assert data["ImageId"] == arm64
    assert data["MetadataOptions"]["HttpTokens"] == "required"
    assert data["NetworkInterfaces"][0]["Groups"] == [stack["AppSecurityGroup"]]
    assert data["BlockDeviceMappings"][0]["Ebs"]["Encrypted"] is True


def policy_document(role, name):
    iam = boto3.client("iam", region_name=REGION)
    document = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
    if isinstance(document, str):
        document = json.loads(urllib.parse.unquote(document))
    return document


def as_list(value):
    return [value] if isinstance(value, str) else list(value)


def test_the_instance_policy_grants_exactly_these_actions(aws, stack):
    document = policy_document(stack["InstanceRole"], "shopfront-api")
    actions, resources = {}, {}
    for statement in document["Statement"]:
        assert statement["Effect"] == "Allow"
        actions[statement["Sid"]] = sorted(as_list(statement["Action"]))
        resources[statement["Sid"]] = as_list(statement["Resource"])
    assert actions == {
        "ListSite": ["s3:ListBucket"],
        "PublishSiteAndImages": ["s3:DeleteObject", "s3:GetObject", "s3:PutObject"],
        "FetchRelease": ["s3:GetObject"],
        "ReadSecrets": ["secretsmanager:GetSecretValue"],
        "ShipLogs": ["logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"],
        "SignalStack": ["cloudformation:SignalResource"],
    }
    assert resources["FetchRelease"] == [f"arn:aws:s3:::{ARTIFACTS}/{RELEASE}*"], "the release prefix, nothing else"
    assert resources["SignalStack"] == [aws["core_id"]], "this stack only"
    logs = boto3.client("logs", region_name=REGION)
    arns = {g["logGroupName"]: g["arn"] for g in logs.describe_log_groups()["logGroups"]}
    # CloudFormation's LogGroup.Arn ends in ":*" (every stream); moto's may not.
    shipped = sorted(arn.removesuffix(":*") for arn in resources["ShipLogs"])
    assert shipped == sorted(arns[stack[n]].removesuffix(":*") for n in ["ApiLogGroup", "BootLogGroup"])
    # moto does not create secrets from templates: their references are checked here.
    statement = next(s for s in load(CORE)["Resources"]["InstancePolicy"]["Properties"]["PolicyDocument"]["Statement"]
                     if s["Sid"] == "ReadSecrets")
    assert statement["Resource"] == [{"Ref": "DbSecret"}, {"Ref": "ApiDbSecret"}, {"Ref": "SessionSecret"}]


# --- core.yaml, what moto does not model ---------------------------------------------


def test_moto_creates_all_of_core_but_the_secrets_the_scaling_policy_and_egress_rules(stack):
    resources = load(CORE)["Resources"]
    skipped = {resources[n]["Type"] for n in set(resources) - set(stack)}
    assert skipped == {
        "AWS::SecretsManager::Secret",
        "AWS::AutoScaling::ScalingPolicy",
        "AWS::EC2::SecurityGroupEgress",
    }


def test_egress_is_alb_to_api_to_rds_and_the_api_to_https_only():
    resources = load(CORE)["Resources"]

    def egress(group):
        rules = [
            (r["FromPort"], r["ToPort"], r.get("CidrIp") or r["DestinationSecurityGroupId"]["Ref"])
            for r in resources[group]["Properties"].get("SecurityGroupEgress", [])
            if r.get("IpProtocol") != "-1"
        ]
        for r in resources.values():
            if r["Type"] == "AWS::EC2::SecurityGroupEgress" and r["Properties"]["GroupId"] == {"Ref": group}:
                p = r["Properties"]
                port = (p["FromPort"], p["ToPort"])
                rules.append((*(x["Ref"] if isinstance(x, dict) else x for x in port), p["DestinationSecurityGroupId"]["Ref"]))
        return set(rules)

    # A group with no inline egress keeps AWS's default allow-all egress,
    # whatever separate egress resources add.
    for name, resource in resources.items():
        if resource["Type"] == "AWS::EC2::SecurityGroup":
            assert resource["Properties"].get("SecurityGroupEgress"), f"{name} would allow all egress"
    assert egress("AlbSecurityGroup") == {("ApiPort", "ApiPort", "AppSecurityGroup")}
    assert egress("AppSecurityGroup") == {(443, 443, "0.0.0.0/0"), (5432, 5432, "DbSecurityGroup")}
    assert egress("DbSecurityGroup") == set()
    assert resources["DbSecurityGroup"]["Properties"]["SecurityGroupEgress"] == [
        {"IpProtocol": "-1", "CidrIp": "127.0.0.1/32", "Description": "No egress"}
    ]


def test_the_database_and_the_alb_are_protected_only_once_the_stack_exists():
    template = load(CORE)
    parameter = template["Parameters"]["DeletionProtection"]
    assert parameter["Default"] == "false" and sorted(parameter["AllowedValues"]) == ["false", "true"]
    resources = template["Resources"]
    assert resources["Database"]["Properties"]["DeletionProtection"] == {"Ref": "DeletionProtection"}
    attributes = {a["Key"]: a["Value"] for a in resources["LoadBalancer"]["Properties"]["LoadBalancerAttributes"]}
    assert attributes["deletion_protection.enabled"] == {"Ref": "DeletionProtection"}
    assert resources["Database"]["DeletionPolicy"] == "Snapshot"
    assert resources["Database"]["UpdateReplacePolicy"] == "Snapshot"
    assert resources["SiteBucket"]["DeletionPolicy"] == "Retain"


def test_the_engine_version_is_a_major_version_only():
    parameter = load(CORE)["Parameters"]["DbEngineVersion"]
    for version in [parameter["Default"], *parameter["AllowedValues"]]:
        assert re.fullmatch(r"\d+", version), f"{version} is not a major version"
        assert int(version) >= 15, "rds.force_ssl is on by default from 15"


def test_the_secrets_are_generated_as_boot_sh_expects():
    resources = load(CORE)["Resources"]
    for name, user in [("DbSecret", "shopfront"), ("ApiDbSecret", "shopfront_api")]:
        generate = resources[name]["Properties"]["GenerateSecretString"]
        assert json.loads(generate["SecretStringTemplate"]) == {"username": user}
        assert generate["GenerateStringKey"] == "password"
        # Only what RDS forbids; shell metacharacters stay in.
        assert sorted(generate["ExcludeCharacters"]) == sorted('/@" ')
        assert not generate.get("ExcludePunctuation")
    assert resources["SessionSecret"]["Properties"]["GenerateSecretString"]["ExcludePunctuation"] is True


def test_the_group_waits_for_its_instances_and_rolls_updates_keeping_capacity():
    resources = load(CORE)["Resources"]
    group = resources["AutoScalingGroup"]
    assert group["CreationPolicy"]["ResourceSignal"]["Count"] == {"Ref": "ApiMinSize"}
    assert group["CreationPolicy"]["ResourceSignal"]["Timeout"] == "PT20M"
    rolling = group["UpdatePolicy"]["AutoScalingRollingUpdate"]
    assert rolling["MinInstancesInService"] == {"Ref": "ApiMinSize"}
    assert rolling["MaxBatchSize"] == 1
    assert rolling["WaitOnResourceSignals"] is True
    assert rolling["PauseTime"] == "PT20M"
    assert "AlarmNotification" in rolling["SuspendProcesses"], "no scaling in the middle of an update"
    assert "DesiredCapacity" not in group["Properties"], "an update would reset what the scaling policy chose"
    assert int(load(CORE)["Parameters"]["ApiMaxSize"]["MinValue"]) > int(load(CORE)["Parameters"]["ApiMinSize"]["MinValue"])
    policy = resources["CpuScalingPolicy"]["Properties"]
    assert policy["AutoScalingGroupName"] == {"Ref": "AutoScalingGroup"}
    assert policy["PolicyType"] == "TargetTrackingScaling"
    assert policy["TargetTrackingConfiguration"]["PredefinedMetricSpecification"] == {
        "PredefinedMetricType": "ASGAverageCPUUtilization"
    }


def test_nothing_moto_ignores_is_missing_from_the_template():
    resources = load(CORE)["Resources"]
    # moto reads a misspelt property for these, so they are checked here.
    for name in ["Database", "DatabaseReplica"]:
        assert resources[name]["Properties"]["VPCSecurityGroups"] == [{"Ref": "DbSecurityGroup"}]
        assert resources[name]["Properties"]["CACertificateIdentifier"] == "rds-ca-rsa2048-g1"
    # Session Manager instead of SSH; moto ignores managed policies on roles.
    assert resources["InstanceRole"]["Properties"]["ManagedPolicyArns"] == [
        {"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/AmazonSSMManagedInstanceCore"}
    ]


def test_every_log_group_in_both_templates_has_a_retention():
    for path in [CORE, EDGE]:
        for name, resource in load(path)["Resources"].items():
            if resource["Type"] == "AWS::Logs::LogGroup":
                assert resource["Properties"].get("RetentionInDays"), f"{path.name}: {name}"


def test_nothing_in_the_templates_opens_ssh_or_a_database_port_to_the_internet():
    for path in [CORE, EDGE]:
        for name, resource in load(path)["Resources"].items():
            if resource["Type"] != "AWS::EC2::SecurityGroup":
                continue
            for rule in resource["Properties"].get("SecurityGroupIngress", []):
                assert rule["FromPort"] in (80, 443), f"{name} opens {rule['FromPort']}"


# --- The boot stub (UserData) ----------------------------------------------------------


def secret_standin(name):
    return f"arn:aws:secretsmanager:{REGION}:123456789012:secret:{CORE_STACK}/{name}-standin"


def user_data(stack):
    """The UserData moto rendered, with stand-in ARNs for the secrets.

    moto does not create secrets from templates, so it leaves ${DbSecret} and
    the like as they are; real CloudFormation puts the secrets' ARNs there.
    """
    text = base64.b64decode(launch_template_data(stack)["UserData"]).decode()
    resources = load(CORE)["Resources"]

    def standin(match):
        name = match.group(1)
        if name not in resources:
            return match.group(0)
        assert name not in stack, f"moto created {name} but left ${{{name}}} in the UserData"
        assert resources[name]["Type"] == "AWS::SecretsManager::Secret", name
        return secret_standin(name)

    return re.sub(r"\$\{([A-Za-z0-9]+)\}", standin, text)


def test_the_boot_stub_exports_the_boot_contract_from_the_right_resources():
    sub = load(CORE)["Resources"]["LaunchTemplate"]["Properties"]["LaunchTemplateData"]["UserData"]["Fn::Base64"]["Fn::Sub"]
    text, names = sub
    exported = dict(re.findall(r"\b([A-Z][A-Z0-9_]+)='([^']*)'", text))
    assert exported == BOOT_VARIABLES
    assert names == {
        "DbHost": {"Fn::GetAtt": ["Database", "Endpoint.Address"]},
        "DbPort": {"Fn::GetAtt": ["Database", "Endpoint.Port"]},
        "ReplicaHost": {"Fn::GetAtt": ["DatabaseReplica", "Endpoint.Address"]},
        "ReplicaPort": {"Fn::GetAtt": ["DatabaseReplica", "Endpoint.Port"]},
    }
    assert len(text.splitlines()) < 45, "a stub: what the instance does lives in infra/boot/boot.sh"


def test_the_boot_stub_passes_bash_n_and_shellcheck(stack, tmp_path):
    script = tmp_path / "user-data.sh"
    script.write_text(user_data(stack))
    subprocess.run(["bash", "-n", str(script)], check=True)
    assert shutil.which("shellcheck"), "shellcheck is missing (Debian: apt-get install shellcheck)"
    subprocess.run(["shellcheck", "--shell=bash", str(script)], check=True)


def fake_tools(tmp_path, download_works):
    """aws, cfn-signal, sleep and dnf stand-ins that log their arguments."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "calls.log"
    env_file = tmp_path / "boot-env"
    boot = f"#!/bin/bash\nenv -0 > '{env_file}'\nexit 7\n"
    tools = {
        "aws": (
            f'printf "aws %s\\n" "$*" >> "{log}"\n'
            + (f'[ "$1 $2" = "s3 cp" ] && printf %s "$BOOT" > "${{@: -1}}" && exit 0\nexit 1\n'
               if download_works else "exit 1\n")
        ),
        "cfn-signal": f'printf "cfn-signal %s\\n" "$*" >> "{log}"\n',
        "sleep": f'printf "sleep %s\\n" "$*" >> "{log}"\n',
        "dnf": f'printf "dnf %s\\n" "$*" >> "{log}"\n',
    }
    for name, body in tools.items():
        path = bin_dir / name
        path.write_text("#!/bin/bash\n" + body)
        path.chmod(path.stat().st_mode | stat.S_IEXEC)
    env = {
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "TMPDIR": str(tmp_path),
        "BOOT": boot,
        "HOME": str(tmp_path),
    }
    return env, log, env_file


def test_the_boot_stub_hands_boot_sh_the_settings(aws, stack, tmp_path):
    env, log, env_file = fake_tools(tmp_path, download_works=True)
    run = subprocess.run(["bash", "-c", user_data(stack)], env=env, capture_output=True, text=True)
    assert run.returncode == 7, f"the stub must exec boot.sh and pass on its status: {run.stderr}"
    calls = log.read_text().splitlines()
    assert calls == [f"aws s3 cp --only-show-errors --region {REGION} s3://{ARTIFACTS}/{RELEASE}boot.sh "
                     + calls[0].split()[-1]]
    boot_env = dict(item.split("=", 1) for item in env_file.read_text().split("\0") if "=" in item)
    missing = set(BOOT_VARIABLES) - set(boot_env)
    assert not missing, f"boot.sh does not get {missing}"
    rds = boto3.client("rds", region_name=REGION)
    primary = rds.describe_db_instances(DBInstanceIdentifier=stack["Database"])["DBInstances"][0]
    replica = rds.describe_db_instances(DBInstanceIdentifier=stack["DatabaseReplica"])["DBInstances"][0]
    assert boot_env["SHOPFRONT_RELEASE"] == f"s3://{ARTIFACTS}/{RELEASE}"
    assert boot_env["DB_OWNER_SECRET_ID"] == secret_standin("DbSecret")
    assert boot_env["DB_API_SECRET_ID"] == secret_standin("ApiDbSecret")
    assert boot_env["SESSION_SECRET_ID"] == secret_standin("SessionSecret")
    assert boot_env["AWS_REGION"] == REGION
    assert boot_env["DB_HOST"] == primary["Endpoint"]["Address"]
    assert boot_env["DB_PORT"] == str(primary["Endpoint"]["Port"])
    assert boot_env["REPLICA_HOST"] == replica["Endpoint"]["Address"]
    assert boot_env["REPLICA_PORT"] == str(replica["Endpoint"]["Port"])
    assert boot_env["DB_NAME"] == "shop"
    assert boot_env["S3_BUCKET"] == stack["SiteBucket"]
    assert boot_env["CLOUDFRONT_DISTRIBUTION_ID"] == ""
    assert boot_env["API_PORT"] == str(API_PORT)
    assert boot_env["TRUSTED_PROXIES"] == "10.40.0.0/16"
    assert boot_env["API_LOG_GROUP"] == f"/{CORE_STACK}/api"
    assert boot_env["BOOT_LOG_GROUP"] == stack["BootLogGroup"]
    assert boot_env["CFN_STACK"] == CORE_STACK
    assert boot_env["CFN_RESOURCE"] == "AutoScalingGroup"
    assert "AutoScalingGroup" in load(CORE)["Resources"]


def test_the_boot_stub_signals_failure_when_boot_sh_cannot_be_downloaded(stack, tmp_path):
    env, log, env_file = fake_tools(tmp_path, download_works=False)
    run = subprocess.run(["bash", "-c", user_data(stack)], env=env, capture_output=True, text=True)
    assert run.returncode == 1
    assert not env_file.exists()
    calls = log.read_text().splitlines()
    assert sum(c.startswith("aws s3 cp") for c in calls) == 5, "it retries"
    signal = calls[-1]
    assert signal.startswith("cfn-signal --success false --reason cannot download "
                             f"s3://{ARTIFACTS}/{RELEASE}boot.sh"), signal
    assert signal.endswith(f"--region {REGION} --stack {CORE_STACK} --resource AutoScalingGroup"), signal
    assert "cannot download" in run.stderr


# --- edge.yaml against core's exports ------------------------------------------------


# Outputs of core.yaml whose Fn::GetAtt moto cannot evaluate (it exports the
# intrinsic itself): the ALB's CanonicalHostedZoneID and LoadBalancerFullName.
MOTO_UNRESOLVED = {"LoadBalancerHostedZoneId", "LoadBalancerFullName"}


def edge_values(aws):
    values = {("export", k): v for k, v in aws["exports"].items()}
    values.update(aws["edge_parameters"])
    values.update({"AWS::Region": REGION, "AWS::StackName": EDGE_STACK, "AWS::Partition": "aws"})
    return values


def test_every_import_of_edge_names_an_export_of_core(aws):
    imports = [node["Fn::ImportValue"] for node in walk(load(EDGE)) if isinstance(node, dict) and "Fn::ImportValue" in node]
    assert len(imports) >= 10
    names = {resolve(i, {"CoreStackName": CORE_STACK}) for i in imports}
    assert names <= set(aws["exports"]), f"not exported by core: {names - set(aws['exports'])}"
    # Each export edge uses has a real value in moto, but for moto's known gaps.
    unresolved = {n for n, v in aws["exports"].items() if v.startswith("{")}
    assert unresolved == {f"{CORE_STACK}-{o}" for o in MOTO_UNRESOLVED}, "moto's gaps changed: update MOTO_UNRESOLVED"
    # And core's template exports each of them under the name edge uses.
    declared = {
        resolve(o["Export"]["Name"], {"AWS::StackName": CORE_STACK})
        for o in load(CORE)["Outputs"].values() if "Export" in o
    }
    assert names <= declared


def test_moto_leaves_out_only_what_it_cannot_create(aws):
    types = {load(EDGE)["Resources"][n]["Type"] for n in aws["edge_left_out"]}
    assert types == {
        "AWS::CloudFront::OriginAccessControl",
        "AWS::CloudFront::Function",
        "AWS::CloudFront::ResponseHeadersPolicy",
        "AWS::CloudFront::Distribution",
        "AWS::S3::BucketPolicy",
        "AWS::WAFv2::WebACL",
        "AWS::WAFv2::WebACLAssociation",
        "AWS::CloudWatch::Alarm",
    }
    assert set(aws["edge"]) == set(load(EDGE)["Resources"]) - aws["edge_left_out"]


def test_the_api_and_admin_names_point_at_cores_alb(aws):
    elb = boto3.client("elbv2", region_name=REGION)
    lb = elb.describe_load_balancers(LoadBalancerArns=[aws["core"]["LoadBalancer"]])["LoadBalancers"][0]
    records = boto3.client("route53", region_name=REGION).list_resource_record_sets(HostedZoneId=aws["zone"])
    by_name = {(r["Name"], r["Type"]): r for r in records["ResourceRecordSets"]}
    for host in ["api", "admin"]:
        alias = by_name[(f"{host}.{DOMAIN}.", "A")]["AliasTarget"]
        assert alias["DNSName"].rstrip(".") == lb["DNSName"]
        # moto cannot resolve the ALB's CanonicalHostedZoneID (see
        # MOTO_UNRESOLVED): the record must carry whatever core exported.
        assert alias["HostedZoneId"] == aws["exports"][f"{CORE_STACK}-LoadBalancerHostedZoneId"]
    assert (f"shop.{DOMAIN}.", "A") in by_name and (f"shop.{DOMAIN}.", "AAAA") in by_name


def test_the_invalidation_policy_lands_on_cores_instance_role(aws):
    iam = boto3.client("iam", region_name=REGION)
    role = aws["core"]["InstanceRole"]
    assert sorted(iam.list_role_policies(RoleName=role)["PolicyNames"]) == ["shopfront-api", "shopfront-invalidate"]
    statements = policy_document(role, "shopfront-invalidate")["Statement"]
    assert [as_list(s["Action"]) for s in statements] == [["cloudfront:CreateInvalidation"]]


def test_the_alarm_topic_is_encrypted_with_a_key_cloudwatch_may_use(aws):
    kms = boto3.client("kms", region_name=REGION)
    key = aws["edge"]["AlarmKey"]
    assert kms.get_key_rotation_status(KeyId=key)["KeyRotationEnabled"] is True
    policy = kms.get_key_policy(KeyId=key, PolicyName="default")["Policy"]
    policy = json.loads(policy) if isinstance(policy, str) else policy
    cloudwatch = [s for s in policy["Statement"] if s["Principal"] == {"Service": "cloudwatch.amazonaws.com"}]
    assert len(cloudwatch) == 1 and cloudwatch[0]["Effect"] == "Allow"
    assert sorted(as_list(cloudwatch[0]["Action"])) == ["kms:Decrypt", "kms:GenerateDataKey*"]
    sns = boto3.client("sns", region_name=REGION)
    attributes = sns.get_topic_attributes(TopicArn=aws["edge"]["AlarmTopic"])["Attributes"]
    assert attributes["KmsMasterKeyId"] == key
    for name, resource in load(EDGE)["Resources"].items():
        if resource["Type"] == "AWS::CloudWatch::Alarm":
            assert resource["Properties"]["AlarmActions"] == [{"Ref": "AlarmTopic"}], name


def test_the_alarms_watch_cores_real_resources(aws):
    core = aws["core"]
    elb = boto3.client("elbv2", region_name=REGION)
    lb_arn = core["LoadBalancer"]
    target_group = elb.describe_target_groups(LoadBalancerArn=lb_arn)["TargetGroups"][0]["TargetGroupArn"]
    expected = {
        ("AWS/ApplicationELB", "LoadBalancer"): lb_arn.split(":loadbalancer/")[1],
        ("AWS/ApplicationELB", "TargetGroup"): target_group.split(":")[-1],
        ("AWS/EC2", "AutoScalingGroupName"): core["AutoScalingGroup"],
    }
    rds_ids = {core["Database"], core["DatabaseReplica"]}
    values = edge_values(aws)
    seen = set()
    for name, resource in load(EDGE)["Resources"].items():
        if resource["Type"] != "AWS::CloudWatch::Alarm":
            continue
        properties = resource["Properties"]
        for dimension in properties["Dimensions"]:
            value = resolve(dimension["Value"], values)
            key = (properties["Namespace"], dimension["Name"])
            if key == ("AWS/RDS", "DBInstanceIdentifier"):
                assert value in rds_ids, f"{name} watches {value}"
                if properties["MetricName"] == "ReplicaLag":
                    assert value == core["DatabaseReplica"]
            else:
                assert value == expected[key], f"{name}: {key} is {value}"
            seen.add(key)
    assert seen == set(expected) | {("AWS/RDS", "DBInstanceIdentifier")}


def test_cloudfront_the_bucket_policy_and_waf_resolve_to_cores_bucket_and_alb(aws):
    resources = load(EDGE)["Resources"]
    values = edge_values(aws)
    bucket = aws["core"]["SiteBucket"]
    boto3.client("s3", region_name=REGION).head_bucket(Bucket=bucket)
    origin = resources["Distribution"]["Properties"]["DistributionConfig"]["Origins"][0]
    assert resolve(origin["DomainName"], values) == aws["exports"][f"{CORE_STACK}-SiteBucketRegionalDomainName"]
    assert resolve(origin["DomainName"], values).startswith(f"{bucket}.s3.")
    policy = resources["SiteBucketPolicy"]["Properties"]
    assert resolve(policy["Bucket"], values) == bucket
    for statement in policy["PolicyDocument"]["Statement"]:
        listed = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        for resource in listed:
            assert resolve(resource, values) in {f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"}
    association = resources["ApiWebAclAssociation"]["Properties"]
    assert resolve(association["ResourceArn"], values) == aws["core"]["LoadBalancer"]
