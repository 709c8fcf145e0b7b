"""The core stack (infra/cloudformation/core.yaml), created in moto.

moto builds the network, security groups, RDS primary and replica, the ALB
with its listeners, the Auto Scaling group and IAM from the template, and the
tests assert the properties that matter. moto does not create Secrets Manager
secrets from templates (and cannot create CloudFront, WAF, bucket policies or
alarms at all): those are checked by cfn-lint and checkov only.
"""

import json
import pathlib
import urllib.parse

import boto3
import pytest
import yaml
from moto import mock_aws

TEMPLATE = pathlib.Path(__file__).parents[1] / "cloudformation" / "core.yaml"
REGION = "eu-west-1"
API_PORT = 8080


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


def template():
    return yaml.load(TEMPLATE.read_text(), Loader=_Loader)


@pytest.fixture(scope="module")
def stack():
    with mock_aws():
        ssm = boto3.client("ssm", region_name=REGION)
        ec2 = boto3.client("ec2", region_name=REGION)
        image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
        ssm.put_parameter(Name="/shopfront/test/ami", Value=image, Type="String")
        acm = boto3.client("acm", region_name=REGION)
        certificate = acm.request_certificate(
            DomainName="api.shop.example.com",
            SubjectAlternativeNames=["admin.shop.example.com"],
        )["CertificateArn"]
        cfn = boto3.client("cloudformation", region_name=REGION)
        cfn.create_stack(
            StackName="shop",
            TemplateBody=json.dumps(template()),
            Parameters=[
                {"ParameterKey": "ImageId", "ParameterValue": "/shopfront/test/ami"},
                {"ParameterKey": "ArtifactsBucket", "ParameterValue": "shop-artifacts"},
                {"ParameterKey": "AlbCertificateArn", "ParameterValue": certificate},
            ],
            Capabilities=["CAPABILITY_IAM"],
        )
        status = cfn.describe_stacks(StackName="shop")["Stacks"][0]["StackStatus"]
        assert status == "CREATE_COMPLETE", status
        resources = {
            r["LogicalResourceId"]: r["PhysicalResourceId"]
            for r in cfn.list_stack_resources(StackName="shop")["StackResourceSummaries"]
        }
        yield resources


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


def test_rds_is_multi_az_encrypted_private_and_the_replica_follows_the_primary(stack):
    rds = boto3.client("rds", region_name=REGION)
    primary = rds.describe_db_instances(DBInstanceIdentifier=stack["Database"])["DBInstances"][0]
    replica = rds.describe_db_instances(DBInstanceIdentifier=stack["DatabaseReplica"])["DBInstances"][0]
    assert primary["Engine"] == "postgres"
    assert primary["MultiAZ"] is True
    assert primary["StorageEncrypted"] is True
    assert primary["PubliclyAccessible"] is False
    assert primary["BackupRetentionPeriod"] == 7
    assert replica["ReadReplicaSourceDBInstanceIdentifier"] == primary["DBInstanceIdentifier"]
    assert replica["DBInstanceIdentifier"] in primary["ReadReplicaDBInstanceIdentifiers"]
    assert replica["PubliclyAccessible"] is False
    subnets = {s["SubnetIdentifier"] for s in primary["DBSubnetGroup"]["Subnets"]}
    assert subnets == {stack["PrivateSubnetA"], stack["PrivateSubnetB"]}


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


def test_the_api_runs_in_an_asg_of_at_least_two_across_azs_with_imdsv2_only(stack):
    asg = boto3.client("autoscaling", region_name=REGION)
    group = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[stack["AutoScalingGroup"]])["AutoScalingGroups"][0]
    assert group["MinSize"] >= 2
    assert set(group["VPCZoneIdentifier"].split(",")) == {stack["PublicSubnetA"], stack["PublicSubnetB"]}
    assert group["HealthCheckType"] == "ELB"
    assert len(group["TargetGroupARNs"]) == 1
    ec2 = boto3.client("ec2", region_name=REGION)
    version = ec2.describe_launch_template_versions(LaunchTemplateId=stack["LaunchTemplate"])["LaunchTemplateVersions"][0]
    data = version["LaunchTemplateData"]
    assert data["MetadataOptions"]["HttpTokens"] == "required"
    assert data["NetworkInterfaces"][0]["Groups"] == [stack["AppSecurityGroup"]]
    assert data["BlockDeviceMappings"][0]["Ebs"]["Encrypted"] is True


def test_the_instance_policy_grants_exactly_these_actions(stack):
    iam = boto3.client("iam", region_name=REGION)
    role = stack["InstanceRole"]
    names = iam.list_role_policies(RoleName=role)["PolicyNames"]
    assert names == ["shopfront-api"]
    document = iam.get_role_policy(RoleName=role, PolicyName="shopfront-api")["PolicyDocument"]
    if isinstance(document, str):
        document = json.loads(urllib.parse.unquote(document))
    actions = {}
    for statement in document["Statement"]:
        assert statement["Effect"] == "Allow"
        action = statement["Action"]
        actions[statement["Sid"]] = sorted([action] if isinstance(action, str) else action)
    assert actions == {
        "ListSite": ["s3:ListBucket"],
        "PublishSiteAndImages": ["s3:DeleteObject", "s3:GetObject", "s3:PutObject"],
        "FetchRelease": ["s3:GetObject"],
        "ReadSecrets": ["secretsmanager:GetSecretValue"],
        "ShipLogs": ["logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"],
    }


def test_what_moto_does_not_model_is_set_in_the_template():
    resources = template()["Resources"]
    primary = resources["Database"]
    assert primary["Properties"]["DeletionProtection"] is True
    # moto reads a misspelt property for these, so they are checked here.
    for name in ["Database", "DatabaseReplica"]:
        assert resources[name]["Properties"]["VPCSecurityGroups"] == [{"Ref": "DbSecurityGroup"}]
    assert primary["DeletionPolicy"] == "Snapshot"
    # Session Manager instead of SSH; moto ignores managed policies on roles.
    assert resources["InstanceRole"]["Properties"]["ManagedPolicyArns"] == [
        {"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/AmazonSSMManagedInstanceCore"}
    ]


def test_nothing_in_the_template_opens_ssh_or_a_database_port_to_the_internet():
    for name, resource in template()["Resources"].items():
        if resource["Type"] != "AWS::EC2::SecurityGroup":
            continue
        for rule in resource["Properties"].get("SecurityGroupIngress", []):
            assert rule["FromPort"] in (80, 443), f"{name} opens {rule['FromPort']}"
