"""The calls the AWS provider makes to AWS for what the program declares, in the APIs' own terms.

Each declared resource becomes the request(s) that create it, with the API's member names and
types, so that service_rules can hold them to botocore's models and the services' rules. A Pulumi
input with no API member is dropped only where a translation says so (the provider's own:
waiting, deleting with force); `unread_inputs` finds any other that a translation leaves out.
"""

import json

from local.program import Declared, DeclaredResource
from service_rules import Account, Request

# What makes no AWS call: the docker provider pushes through the registry's own protocol, and
# random's bytes and the program's components live only in Pulumi's state.
NO_AWS_CALL = {"docker:index/image:Image", "random:index/randomBytes:RandomBytes"}
COMPONENT_PREFIX = "serverless-hub:"
# Inputs with no API member: what the provider itself does with them.
PROVIDER_ONLY = {
    # Deleting with everything in it.
    "aws:ecr/repository:Repository": {"forceDelete"},
    "aws:s3/bucket:Bucket": {"forceDestroy"},
    # Waiting for the certificate's validation records.
    "aws:acm/certificateValidation:CertificateValidation": {"validationRecordFqdns"},
    # Keeping old revisions, tracking the newest.
    "aws:ecs/taskDefinition:TaskDefinition": {"skipDestroy", "trackLatest"},
    # Waiting, redeploying, deleting with tasks running.
    "aws:ecs/service:Service": {
        "waitForSteadyState",
        "forceNewDeployment",
        "forceDelete",
        "triggers",
    },
}


def whole(number) -> int:
    """The engine carries every number as a double (8000.0); the APIs take integers."""
    if isinstance(number, float) and number.is_integer():
        return int(number)
    return number


def pascal(value):
    """camelCase keys as the PascalCase APIs name them, all the way down."""
    if isinstance(value, dict):
        return {key[:1].upper() + key[1:]: pascal(item) for key, item in value.items()}
    if isinstance(value, list):
        return [pascal(item) for item in value]
    return whole(value)


def _without(inputs: dict, *names: str) -> dict:
    return {key: value for key, value in inputs.items() if key not in names}


def _tags(tags: dict | None) -> list[dict]:
    return [{"Key": key, "Value": value} for key, value in (tags or {}).items()]


# One function per resource type: (inputs, state) -> [(service, operation, params)].


def _repository(inputs, state):
    request = {
        "repositoryName": inputs["name"],
        "imageTagMutability": inputs.get("imageTagMutability"),
        "imageTagMutabilityExclusionFilters": inputs.get("imageTagMutabilityExclusionFilters"),
        "imageScanningConfiguration": inputs.get("imageScanningConfiguration"),
        # Pulumi takes a list of one; the API one configuration.
        "encryptionConfiguration": (inputs.get("encryptionConfigurations") or [None])[0],
    }
    return [("ecr", "CreateRepository", {k: v for k, v in request.items() if v is not None})]


def _lifecycle_policy(inputs, state):
    request = {"repositoryName": inputs["repository"], "lifecyclePolicyText": inputs["policy"]}
    return [("ecr", "PutLifecyclePolicy", request)]


def _user_pool(inputs, state):
    request = pascal(_without(inputs, "name", "passwordPolicy", "emailConfiguration"))
    request["PoolName"] = inputs["name"]
    if "passwordPolicy" in inputs:
        request["Policies"] = {"PasswordPolicy": pascal(inputs["passwordPolicy"])}
    if "emailConfiguration" in inputs:
        email = pascal(_without(inputs["emailConfiguration"], "fromEmailAddress"))
        if "fromEmailAddress" in inputs["emailConfiguration"]:
            email["From"] = inputs["emailConfiguration"]["fromEmailAddress"]
        request["EmailConfiguration"] = email
    return [("cognito-idp", "CreateUserPool", request)]


def _user_pool_domain(inputs, state):
    return [("cognito-idp", "CreateUserPoolDomain", pascal(inputs))]


def _user_pool_client(inputs, state):
    request = pascal(_without(inputs, "name"))
    request["ClientName"] = inputs["name"]
    # Pulumi spells OAuth and URLs as words; the API as acronyms.
    for pulumi_name, api_name in (
        ("AllowedOauthFlows", "AllowedOAuthFlows"),
        ("AllowedOauthScopes", "AllowedOAuthScopes"),
        ("AllowedOauthFlowsUserPoolClient", "AllowedOAuthFlowsUserPoolClient"),
        ("CallbackUrls", "CallbackURLs"),
        ("LogoutUrls", "LogoutURLs"),
        ("DefaultRedirectUri", "DefaultRedirectURI"),
    ):
        if pulumi_name in request:
            request[api_name] = request.pop(pulumi_name)
    return [("cognito-idp", "CreateUserPoolClient", request)]


def _user(inputs, state):
    request = pascal(_without(inputs, "attributes", "password", "temporaryPassword"))
    request["UserAttributes"] = [
        {"Name": name, "Value": value} for name, value in (inputs.get("attributes") or {}).items()
    ]
    if "temporaryPassword" in inputs:
        request["TemporaryPassword"] = inputs["temporaryPassword"]
    return [("cognito-idp", "AdminCreateUser", request)]


def _user_group(inputs, state):
    request = pascal(_without(inputs, "name"))
    request["GroupName"] = inputs["name"]
    return [("cognito-idp", "CreateGroup", request)]


def _bucket(inputs, state):
    request = {"Bucket": state["bucket"]}
    # Outside us-east-1 the provider names the bucket's region.
    if state.get("region", "us-east-1") != "us-east-1":
        request["CreateBucketConfiguration"] = {"LocationConstraint": state["region"]}
    return [("s3", "CreateBucket", request)]


def _public_access_block(inputs, state):
    configuration = pascal(_without(inputs, "bucket", "skipDestroy"))
    request = {"Bucket": inputs["bucket"], "PublicAccessBlockConfiguration": configuration}
    return [("s3", "PutPublicAccessBlock", request)]


def _ownership_controls(inputs, state):
    rules = [pascal(inputs["rule"])]
    request = {"Bucket": inputs["bucket"], "OwnershipControls": {"Rules": rules}}
    return [("s3", "PutBucketOwnershipControls", request)]


def _bucket_encryption(inputs, state):
    rules = []
    for rule in inputs["rules"]:
        default = rule.get("applyServerSideEncryptionByDefault", {})
        entry = {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": default["sseAlgorithm"]}}
        if "kmsMasterKeyId" in default:
            entry["ApplyServerSideEncryptionByDefault"]["KMSMasterKeyID"] = default[
                "kmsMasterKeyId"
            ]
        if "bucketKeyEnabled" in rule:
            entry["BucketKeyEnabled"] = rule["bucketKeyEnabled"]
        rules.append(entry)
    request = {"Bucket": inputs["bucket"], "ServerSideEncryptionConfiguration": {"Rules": rules}}
    return [("s3", "PutBucketEncryption", request)]


def _bucket_versioning(inputs, state):
    configuration = {"Status": inputs["versioningConfiguration"]["status"]}
    request = {"Bucket": inputs["bucket"], "VersioningConfiguration": configuration}
    return [("s3", "PutBucketVersioning", request)]


def _bucket_object(inputs, state):
    request = {"Bucket": inputs["bucket"], "Key": inputs["key"], "Body": inputs["content"]}
    if "contentType" in inputs:
        request["ContentType"] = inputs["contentType"]
    return [("s3", "PutObject", request)]


def _security_group(inputs, state):
    request = {"GroupName": state["name"], "Description": inputs["description"]}
    if "vpcId" in inputs:
        request["VpcId"] = inputs["vpcId"]
    return [("ec2", "CreateSecurityGroup", request)]


def _security_group_rule(operation):
    def translate(inputs, state):
        permission = {
            "IpProtocol": inputs["ipProtocol"],
            "FromPort": whole(inputs["fromPort"]),
            "ToPort": whole(inputs["toPort"]),
        }
        peer = {"Description": inputs["description"]} if "description" in inputs else {}
        if "cidrIpv4" in inputs:
            permission["IpRanges"] = [{"CidrIp": inputs["cidrIpv4"], **peer}]
        if "cidrIpv6" in inputs:
            permission["Ipv6Ranges"] = [{"CidrIpv6": inputs["cidrIpv6"], **peer}]
        if "referencedSecurityGroupId" in inputs:
            group = {"GroupId": inputs["referencedSecurityGroupId"], **peer}
            permission["UserIdGroupPairs"] = [group]
        if "prefixListId" in inputs:
            permission["PrefixListIds"] = [{"PrefixListId": inputs["prefixListId"], **peer}]
        request = {"GroupId": inputs["securityGroupId"], "IpPermissions": [permission]}
        return [("ec2", operation, request)]

    return translate


def _file_system(inputs, state):
    request = pascal(_without(inputs, "tags", "creationToken"))
    # The provider makes up the idempotency token the API requires.
    request["CreationToken"] = inputs.get("creationToken") or f"{state.get('name', 'fs')}-token"
    if inputs.get("tags"):
        request["Tags"] = _tags(inputs["tags"])
    return [("efs", "CreateFileSystem", request)]


def _backup_policy(inputs, state):
    return [("efs", "PutBackupPolicy", pascal(inputs))]


def _mount_target(inputs, state):
    return [("efs", "CreateMountTarget", pascal(inputs))]


def _access_point(inputs, state):
    request = pascal(_without(inputs, "tags"))
    request["ClientToken"] = "access-point-token"
    if inputs.get("tags"):
        request["Tags"] = _tags(inputs["tags"])
    return [("efs", "CreateAccessPoint", request)]


def _file_system_policy(inputs, state):
    return [("efs", "PutFileSystemPolicy", pascal(inputs))]


def _load_balancer(inputs, state):
    request = {
        "Name": state["name"],
        "Subnets": inputs.get("subnets", []),
        "SecurityGroups": inputs.get("securityGroups", []),
        "Scheme": "internal" if inputs.get("internal") else "internet-facing",
        "Type": inputs.get("loadBalancerType", "application"),
    }
    if "ipAddressType" in inputs:
        request["IpAddressType"] = inputs["ipAddressType"]
    attributes = []
    if "idleTimeout" in inputs:
        attributes.append(("idle_timeout.timeout_seconds", whole(inputs["idleTimeout"])))
    if "dropInvalidHeaderFields" in inputs:
        attributes.append(
            ("routing.http.drop_invalid_header_fields.enabled", inputs["dropInvalidHeaderFields"])
        )
    return [
        ("elbv2", "CreateLoadBalancer", request),
        (
            "elbv2",
            "ModifyLoadBalancerAttributes",
            _attributes("LoadBalancerArn", state["arn"], attributes),
        ),
    ]


def _attributes(member: str, arn: str, pairs) -> dict:
    """Key/Value attributes, values as the API's strings (true, 3600)."""
    values = [{"Key": key, "Value": json.dumps(value)} for key, value in pairs]
    return {member: arn, "Attributes": values}


def _target_group(inputs, state):
    check = inputs.get("healthCheck", {})
    request = {
        "Name": state["name"],
        "Protocol": inputs.get("protocol"),
        "Port": whole(inputs.get("port")),
        "VpcId": inputs.get("vpcId"),
        "TargetType": inputs.get("targetType"),
        "HealthCheckPath": check.get("path"),
        "HealthCheckPort": check.get("port"),
        "HealthCheckIntervalSeconds": whole(check.get("interval")),
        "HealthyThresholdCount": whole(check.get("healthyThreshold")),
        "UnhealthyThresholdCount": whole(check.get("unhealthyThreshold")),
        "Matcher": {"HttpCode": check["matcher"]} if "matcher" in check else None,
    }
    attributes = []
    if "deregistrationDelay" in inputs:
        delay = whole(inputs["deregistrationDelay"])
        attributes.append(("deregistration_delay.timeout_seconds", delay))
    return [
        ("elbv2", "CreateTargetGroup", {k: v for k, v in request.items() if v is not None}),
        (
            "elbv2",
            "ModifyTargetGroupAttributes",
            _attributes("TargetGroupArn", state["arn"], attributes),
        ),
    ]


def _listener(inputs, state):
    actions = []
    for action in inputs["defaultActions"]:
        entry = {"Type": action["type"]}
        if "targetGroupArn" in action:
            entry["TargetGroupArn"] = action["targetGroupArn"]
        if "redirect" in action:
            entry["RedirectConfig"] = pascal(action["redirect"])
        actions.append(entry)
    request = {
        "LoadBalancerArn": inputs["loadBalancerArn"],
        "Port": whole(inputs["port"]),
        "Protocol": inputs["protocol"],
        "DefaultActions": actions,
    }
    if "sslPolicy" in inputs:
        request["SslPolicy"] = inputs["sslPolicy"]
    if "certificateArn" in inputs:
        request["Certificates"] = [{"CertificateArn": inputs["certificateArn"]}]
    return [("elbv2", "CreateListener", request)]


def _certificate(inputs, state):
    return [("acm", "RequestCertificate", pascal(inputs))]


def _certificate_validation(inputs, state):
    # The provider waits for the certificate to be issued; it creates nothing.
    return [("acm", "DescribeCertificate", {"CertificateArn": inputs["certificateArn"]})]


def _record(inputs, state):
    record = {"Name": inputs["name"], "Type": inputs["type"]}
    if "ttl" in inputs:
        record["TTL"] = whole(inputs["ttl"])
    if "records" in inputs:
        record["ResourceRecords"] = [{"Value": value} for value in inputs["records"]]
    for alias in inputs.get("aliases", []):
        record["AliasTarget"] = {
            "HostedZoneId": alias["zoneId"],
            "DNSName": alias["name"],
            "EvaluateTargetHealth": alias["evaluateTargetHealth"],
        }
    action = "UPSERT" if inputs.get("allowOverwrite") else "CREATE"
    batch = {"Changes": [{"Action": action, "ResourceRecordSet": record}]}
    return [
        (
            "route53",
            "ChangeResourceRecordSets",
            {"HostedZoneId": inputs["zoneId"], "ChangeBatch": batch},
        )
    ]


def _log_group(inputs, state):
    calls = [("logs", "CreateLogGroup", {"logGroupName": state["name"]})]
    if "retentionInDays" in inputs:
        retention = {
            "logGroupName": state["name"],
            "retentionInDays": whole(inputs["retentionInDays"]),
        }
        calls.append(("logs", "PutRetentionPolicy", retention))
    return calls


def _secret(inputs, state):
    return [("secretsmanager", "CreateSecret", {"Name": state["name"]})]


def _secret_version(inputs, state):
    request = {"SecretId": inputs["secretId"], "SecretString": inputs["secretString"]}
    return [("secretsmanager", "PutSecretValue", request)]


def _role(inputs, state):
    request = {"RoleName": state["name"], "AssumeRolePolicyDocument": inputs["assumeRolePolicy"]}
    if inputs.get("path"):
        request["Path"] = inputs["path"]
    if inputs.get("permissionsBoundary"):
        request["PermissionsBoundary"] = inputs["permissionsBoundary"]
    return [("iam", "CreateRole", request)]


def _role_policy(inputs, state):
    request = {
        "RoleName": inputs["role"],
        "PolicyName": state["name"],
        "PolicyDocument": inputs["policy"],
    }
    return [("iam", "PutRolePolicy", request)]


def _task_definition(inputs, state):
    request = _without(inputs, *PROVIDER_ONLY["aws:ecs/taskDefinition:TaskDefinition"])
    # Pulumi takes the container definitions as the API's own JSON, in one string.
    request["containerDefinitions"] = json.loads(request["containerDefinitions"])
    return [("ecs", "RegisterTaskDefinition", request)]


def _cluster(inputs, state):
    return [("ecs", "CreateCluster", {"clusterName": state["name"]})]


def _service(inputs, state):
    request = _without(inputs, *PROVIDER_ONLY["aws:ecs/service:Service"])
    # Pulumi flattens deploymentConfiguration's members into the service, prefixed.
    configuration = {}
    if "deploymentMinimumHealthyPercent" in request:
        configuration["minimumHealthyPercent"] = whole(
            request.pop("deploymentMinimumHealthyPercent")
        )
    if "deploymentMaximumPercent" in request:
        configuration["maximumPercent"] = whole(request.pop("deploymentMaximumPercent"))
    if "deploymentCircuitBreaker" in request:
        configuration["deploymentCircuitBreaker"] = request.pop("deploymentCircuitBreaker")
    request["deploymentConfiguration"] = configuration
    # Pulumi's networkConfiguration is the API's awsvpcConfiguration, with a bool for the address.
    if "networkConfiguration" in request:
        network = dict(request.pop("networkConfiguration"))
        network["assignPublicIp"] = "ENABLED" if network.get("assignPublicIp") else "DISABLED"
        request["networkConfiguration"] = {"awsvpcConfiguration": network}
    request["serviceName"] = state["name"]
    for key in ("desiredCount", "healthCheckGracePeriodSeconds"):
        if key in request:
            request[key] = whole(request[key])
    request["loadBalancers"] = [
        target | {"containerPort": whole(target["containerPort"])}
        for target in request.get("loadBalancers", [])
    ]
    return [("ecs", "CreateService", request)]


TRANSLATIONS = {
    "aws:ecr/repository:Repository": _repository,
    "aws:ecr/lifecyclePolicy:LifecyclePolicy": _lifecycle_policy,
    "aws:cognito/userPool:UserPool": _user_pool,
    "aws:cognito/userPoolDomain:UserPoolDomain": _user_pool_domain,
    "aws:cognito/userPoolClient:UserPoolClient": _user_pool_client,
    "aws:cognito/user:User": _user,
    "aws:cognito/userGroup:UserGroup": _user_group,
    "aws:s3/bucket:Bucket": _bucket,
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": _public_access_block,
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": _ownership_controls,
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": (
        _bucket_encryption
    ),
    "aws:s3/bucketVersioning:BucketVersioning": _bucket_versioning,
    "aws:s3/bucketObjectv2:BucketObjectv2": _bucket_object,
    "aws:ec2/securityGroup:SecurityGroup": _security_group,
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": _security_group_rule(
        "AuthorizeSecurityGroupIngress"
    ),
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": _security_group_rule(
        "AuthorizeSecurityGroupEgress"
    ),
    "aws:efs/fileSystem:FileSystem": _file_system,
    "aws:efs/backupPolicy:BackupPolicy": _backup_policy,
    "aws:efs/mountTarget:MountTarget": _mount_target,
    "aws:efs/accessPoint:AccessPoint": _access_point,
    "aws:efs/fileSystemPolicy:FileSystemPolicy": _file_system_policy,
    "aws:lb/loadBalancer:LoadBalancer": _load_balancer,
    "aws:lb/targetGroup:TargetGroup": _target_group,
    "aws:lb/listener:Listener": _listener,
    "aws:acm/certificate:Certificate": _certificate,
    "aws:acm/certificateValidation:CertificateValidation": _certificate_validation,
    "aws:route53/record:Record": _record,
    "aws:cloudwatch/logGroup:LogGroup": _log_group,
    "aws:secretsmanager/secret:Secret": _secret,
    "aws:secretsmanager/secretVersion:SecretVersion": _secret_version,
    "aws:iam/role:Role": _role,
    "aws:iam/rolePolicy:RolePolicy": _role_policy,
    "aws:ecs/taskDefinition:TaskDefinition": _task_definition,
    "aws:ecs/cluster:Cluster": _cluster,
    "aws:ecs/service:Service": _service,
}


def untranslated(declared: Declared) -> set[str]:
    """Declared types this module cannot turn into requests: each must be added here first."""
    types = {resource.type for resource in declared.resources}
    return {
        type_
        for type_ in types - set(TRANSLATIONS) - NO_AWS_CALL
        if not type_.startswith(COMPONENT_PREFIX)
    }


class _Inputs(dict):
    """A resource's inputs that remember which of them a translation read."""

    def __init__(self, inputs: dict):
        super().__init__(inputs)
        self.read = set()

    def __getitem__(self, key):
        self.read.add(key)
        return super().__getitem__(key)

    def get(self, key, default=None):
        self.read.add(key)
        return super().get(key, default)

    def items(self):
        self.read.update(self.keys())
        return super().items()


def unread_inputs(resource: DeclaredResource) -> set[str]:
    """The inputs of a resource that its translation leaves out: each must be translated."""
    inputs = _Inputs(resource.inputs)
    TRANSLATIONS[resource.type](inputs, resource.state)
    return set(inputs) - inputs.read - PROVIDER_ONLY.get(resource.type, set())


def requests_for(resource: DeclaredResource) -> list[Request]:
    """The requests that make one declared resource."""
    calls = TRANSLATIONS[resource.type](resource.inputs, resource.state)
    creates = tuple(filter(None, {resource.id, resource.state.get("arn")}))
    return [
        Request(f"{resource.type} {resource.name}", service, operation, params, creates)
        for service, operation, params in calls
    ]


def requests_of(declared: Declared) -> list[Request]:
    """Every request the program's resources make, in the order they were declared."""
    return [
        request
        for resource in declared.resources
        if resource.type in TRANSLATIONS
        for request in requests_for(resource)
    ]


def account_of(mocks) -> Account:
    """The account as the mocks have it: each subnet's availability zone."""
    return Account({subnet: zone for subnet, (_, zone) in mocks.subnets.items()})
