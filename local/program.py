"""Run the Pulumi program under mocks, the way `pulumi up` runs it, and record what it declares.

Like the CLI: Pulumi.yaml's config defaults are merged under the stack's config, keys are
namespaced `serverless-hub:key`, arrays and objects are JSON strings, a declared key with no
default is required, and the program runs from the project root as `__main__`. As in the CLI,
declared `type:`s are checked as the CLI checks them (its message included), unless a test asks
for a value the CLI would refuse to reach the program anyway; such tests say so.

Each run is fresh: its own thread, contextvars context and event loop for Pulumi's runtime state,
and, for a copy of the project, the copy's own modules (image_tag, stack_settings, users) rather
than the ones already imported from this checkout.
"""

import asyncio
import contextlib
import contextvars
import hashlib
import json
import logging
import runpy
import shutil
import sys
import threading
from base64 import b64encode
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import yaml
from google.protobuf import struct_pb2
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc

PROJECT_ROOT = Path(__file__).resolve().parents[1]
# What the program needs besides the images' sources (image_tag.SOURCE_FOLDERS).
PROGRAM_FILES = (
    "__main__.py",
    "image_tag.py",
    "images.py",
    "stack_settings.py",
    "service_rules.py",
    "Pulumi.yaml",
    ".dockerignore",
)
PROGRAM_PACKAGES = ("hub_on_aws",)

REPOSITORY = "aws:ecr/repository:Repository"
LIFECYCLE_POLICY = "aws:ecr/lifecyclePolicy:LifecyclePolicy"
IMAGE = "docker:index/image:Image"
STACK_REFERENCE = "pulumi:pulumi:StackReference"
AUTHORIZATION_TOKEN = "aws:ecr/getAuthorizationToken:getAuthorizationToken"  # noqa: S105 (a token)
# What the hub's settings look up: the network, the account and the region.
GET_VPC = "aws:ec2/getVpc:getVpc"
GET_SUBNETS = "aws:ec2/getSubnets:getSubnets"
GET_SUBNET = "aws:ec2/getSubnet:getSubnet"
GET_CALLER_IDENTITY = "aws:index/getCallerIdentity:getCallerIdentity"
GET_REGION = "aws:index/getRegion:getRegion"

# The types whose `name` the AWS provider makes up when the program gives none (Pulumi's
# auto-naming); the mocks make it up the same way, so the names AWS would receive can be checked.
AUTONAMED = {
    "aws:ec2/securityGroup:SecurityGroup",
    "aws:lb/loadBalancer:LoadBalancer",
    "aws:lb/targetGroup:TargetGroup",
    "aws:cloudwatch/logGroup:LogGroup",
    "aws:iam/role:Role",
    "aws:iam/rolePolicy:RolePolicy",
    "aws:secretsmanager/secret:Secret",
    "aws:ecs/cluster:Cluster",
    "aws:ecs/service:Service",
}

# Private: the wire protocol's marker for a secret value has no public name in the SDK.
_SIG, _SECRET_SIG = rpc._special_sig_key, rpc._special_secret_sig


class ConfigRefused(ValueError):
    """The CLI would refuse the stack before the program runs, with this message."""


@dataclass(frozen=True)
class DeclaredResource:
    type: str
    name: str
    # The inputs as the engine receives them, with secrets unwrapped to their plain values.
    inputs: dict
    # Dotted paths of the inputs the program marked secret, e.g. "registry.password".
    secret_inputs: frozenset[str]
    urn: str = ""
    # The URNs of the resources it waits for (depends_on and the outputs it uses).
    dependencies: list[str] = field(default_factory=list)
    # What the mock engine made of it: its id, and its state (inputs and the outputs AWS gives).
    id: str = ""
    state: dict = field(default_factory=dict)
    # False for a component (a group of resources in the program), True for a provider's resource.
    custom: bool = True


@dataclass(frozen=True)
class Invoke:
    token: str
    args: dict


@dataclass(frozen=True)
class StackOutput:
    value: Any
    secret: bool


@dataclass
class Declared:
    """What one run of the program declared; `error` is what stopped it, if anything did."""

    project_root: Path
    resources: list[DeclaredResource] = field(default_factory=list)
    invokes: list[Invoke] = field(default_factory=list)
    outputs: dict[str, StackOutput] = field(default_factory=dict)
    # What the program said to the operator at warning level (`pulumi preview` shows these).
    warnings: list[str] = field(default_factory=list)
    error: Exception | None = None

    def resource(self, type_: str, name: str = "hub") -> DeclaredResource:
        """The one resource of this type and name (the program names its main ones "hub")."""
        found = [r for r in self.resources if (r.type, r.name) == (type_, name)]
        declared = [(r.type, r.name) for r in self.resources]
        assert len(found) == 1, f"expected one {type_} {name!r}, declared: {declared}"
        return found[0]

    def invoke(self, token: str) -> Invoke:
        """The one call of this provider function."""
        found = [i for i in self.invokes if i.token == token]
        assert len(found) == 1, f"expected one {token}, called: {[i.token for i in self.invokes]}"
        return found[0]

    def path(self, relative: str) -> Path:
        """A path the program gave relative to the project root (build context, dockerfile)."""
        return (self.project_root / relative).resolve()


class HubMocks(pulumi.runtime.Mocks):
    """AWS and docker as the program sees them: ids, ARNs and names as AWS would give them.

    `registry_host` is where the repository lives: ECR's host by default, or a local
    registry such as "127.0.0.1:5000" for an end-to-end push. `subnets` is the account's
    network: subnet id -> (VPC id, availability zone); the first VPC is the default one.
    """

    def __init__(
        self,
        registry_id: str = "123456789012",
        region: str = "eu-west-1",
        registry_host: str | None = None,
        token_user_name: str = "AWS",  # noqa: S107 (a mock's login)
        token_password: str = "mock-ecr-password",  # noqa: S107
        subnets: dict[str, tuple[str, str]] | None = None,
        earlier_outputs: dict | None = None,
    ):
        self.registry_id = registry_id
        self.region = region
        self.registry_host = registry_host or f"{registry_id}.dkr.ecr.{region}.amazonaws.com"
        self.token_user_name = token_user_name
        self.token_password = token_password
        # The stack's outputs from its last update, as a StackReference to itself reads them.
        self.earlier_outputs = earlier_outputs or {}
        self.subnets = subnets or {
            "subnet-0a1b2c3d4e5f60001": ("vpc-0a1b2c3d4e5f60000", f"{region}a"),
            "subnet-0a1b2c3d4e5f60002": ("vpc-0a1b2c3d4e5f60000", f"{region}b"),
            "subnet-0a1b2c3d4e5f60003": ("vpc-0a1b2c3d4e5f60000", f"{region}c"),
        }

    def arn(self, service: str, resource: str, region: bool = True) -> str:
        return f"arn:aws:{service}:{self.region if region else ''}:{self.registry_id}:{resource}"

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
        state = dict(args.inputs)
        if args.typ == STACK_REFERENCE:
            return args.resource_id, state | {"outputs": self.earlier_outputs}
        name = args.inputs.get("name") or f"{args.name}-{_digest(args.name)[:7]}"
        if args.typ == REPOSITORY:
            name = args.inputs["name"]
            state |= {
                "arn": self.arn("ecr", f"repository/{name}"),
                "registryId": self.registry_id,
                "repositoryUrl": f"{self.registry_host}/{name}",
            }
            return name, state
        if args.typ == IMAGE:
            image_name = args.inputs["imageName"]
            state["repoDigest"] = f"{image_name.rsplit(':', 1)[0]}@sha256:{_digest(image_name)}"
            return image_name, state
        made = self._aws_state(args.typ, args.name, name, args.inputs)
        if args.typ in AUTONAMED:
            # The provider names what the program leaves unnamed: `<resource name>-<7 hex>`.
            made.setdefault("name", name)
        return made.pop("id", f"{args.name}-id"), state | made

    def _aws_state(self, typ: str, resource_name: str, name: str, inputs: dict) -> dict:
        """What AWS reports for a new resource of this type: its id, ARN and generated names."""
        short = _digest(resource_name)[:17]
        if typ == "aws:cognito/userPool:UserPool":
            pool_id = f"{self.region}_{short[:9]}"
            return {"id": pool_id, "arn": self.arn("cognito-idp", f"userpool/{pool_id}")}
        if typ == "aws:cognito/userPoolClient:UserPoolClient":
            return {"id": short[:26], "clientSecret": f"mock-client-secret-{short}"}
        if typ == "aws:secretsmanager/secret:Secret":
            arn = self.arn("secretsmanager", f"secret:{name}-{short[:6]}")
            return {"id": arn, "arn": arn, "name": name}
        if typ == "aws:iam/role:Role":
            # A role's ARN carries its path: arn:aws:iam::<account>:role/<path>/<name>.
            path = inputs.get("path") or "/"
            arn = self.arn("iam", f"role{path}{name}", region=False)
            return {"id": name, "name": name, "arn": arn}
        if typ == "aws:iam/policy:Policy":
            arn = self.arn("iam", f"policy{inputs.get('path') or '/'}{name}", region=False)
            return {"id": arn, "arn": arn, "name": name}
        if typ == "aws:iam/openIdConnectProvider:OpenIdConnectProvider":
            host = inputs["url"].removeprefix("https://")
            arn = self.arn("iam", f"oidc-provider/{host}", region=False)
            return {"id": arn, "arn": arn}
        if typ == "aws:cloudwatch/logGroup:LogGroup":
            return {"id": name, "name": name, "arn": self.arn("logs", f"log-group:{name}")}
        if typ == "aws:efs/fileSystem:FileSystem":
            fs_id = f"fs-{short}"
            return {"id": fs_id, "arn": self.arn("elasticfilesystem", f"file-system/{fs_id}")}
        if typ == "aws:efs/accessPoint:AccessPoint":
            point_id = f"fsap-{short[:17]}"
            arn = self.arn("elasticfilesystem", f"access-point/{point_id}")
            return {"id": point_id, "arn": arn}
        if typ == "aws:s3/bucket:Bucket":
            bucket = f"{resource_name}-{short[:7]}"
            arn = f"arn:aws:s3:::{bucket}"
            return {"id": bucket, "bucket": bucket, "arn": arn, "region": self.region}
        if typ == "aws:efs/accessPoint:AccessPoint":
            return {"id": f"fsap-{short}"}
        if typ == "aws:ec2/securityGroup:SecurityGroup":
            return {"id": f"sg-{short}"}
        if typ == "aws:lb/loadBalancer:LoadBalancer":
            return {
                "id": self.arn("elasticloadbalancing", f"loadbalancer/app/{name}/{short[:16]}"),
                "arn": self.arn("elasticloadbalancing", f"loadbalancer/app/{name}/{short[:16]}"),
                "dnsName": f"{name}-{short[:10]}.{self.region}.elb.amazonaws.com",
                "zoneId": "Z32O12XQLNTSW2",
            }
        if typ == "aws:lb/targetGroup:TargetGroup":
            arn = self.arn("elasticloadbalancing", f"targetgroup/{name}/{short[:16]}")
            return {"id": arn, "arn": arn}
        if typ == "aws:acm/certificate:Certificate":
            domain = inputs["domainName"]
            return {
                "arn": self.arn(
                    "acm", f"certificate/{_digest(domain)[:8]}-0000-4000-8000-{short[:12]}"
                ),
                "domainValidationOptions": [
                    {
                        "domainName": domain,
                        "resourceRecordName": f"_{short[:8]}.{domain}.",
                        "resourceRecordType": "CNAME",
                        "resourceRecordValue": f"_{short}.acm-validations.aws.",
                    }
                ],
            }
        if typ == "aws:route53/record:Record":
            return {"fqdn": inputs["name"].rstrip(".")}
        if typ == "aws:acm/certificateValidation:CertificateValidation":
            return {"certificateArn": inputs["certificateArn"]}
        if typ == "aws:ecs/cluster:Cluster":
            return {"id": name, "name": name, "arn": self.arn("ecs", f"cluster/{name}")}
        if typ == "aws:ecs/taskDefinition:TaskDefinition":
            family = inputs["family"]
            return {"arn": self.arn("ecs", f"task-definition/{family}:1"), "revision": 1}
        if typ == "aws:ecs/service:Service":
            return {"id": name, "name": name}
        if typ == "random:index/randomBytes:RandomBytes":
            return {
                "hex": _digest(resource_name),
                "base64": b64encode(bytes.fromhex(_digest(resource_name))).decode(),
            }
        return {}

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict:
        if args.token == AUTHORIZATION_TOKEN:
            login = f"{self.token_user_name}:{self.token_password}"
            return {
                "id": self.region,
                "registryId": args.args.get("registryId", self.registry_id),
                "userName": self.token_user_name,
                "password": self.token_password,
                "authorizationToken": b64encode(login.encode()).decode(),
                "proxyEndpoint": f"https://{self.registry_host}",
                "expiresAt": "2099-01-01T00:00:00Z",
            }
        default_vpc = next(iter(self.subnets.values()))[0]
        if args.token == GET_VPC:
            return {"id": default_vpc, "default": True, "region": self.region}
        if args.token == GET_SUBNETS:
            filters = {f["name"]: f["values"] for f in args.args.get("filters", [])}
            vpc = filters.get("vpc-id", [default_vpc])[0]
            ids = [sid for sid, (in_vpc, _) in self.subnets.items() if in_vpc == vpc]
            return {"id": self.region, "ids": ids, "region": self.region}
        if args.token == GET_SUBNET:
            vpc, zone = self.subnets[args.args["id"]]
            return {"id": args.args["id"], "vpcId": vpc, "availabilityZone": zone}
        if args.token == GET_CALLER_IDENTITY:
            return {
                "id": self.registry_id,
                "accountId": self.registry_id,
                "arn": self.arn("iam", "user/operator", region=False),
                "userId": "AIDAMOCKOPERATOR",
            }
        if args.token == GET_REGION:
            return {"id": self.region, "name": self.region, "region": self.region}
        return {}


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def copy_project(root: Path) -> Path:
    """A copy of the program and the image's sources in `root`, to change files in."""
    from image_tag import SOURCE_FOLDERS

    root.mkdir(parents=True, exist_ok=True)
    for name in PROGRAM_FILES:
        shutil.copy2(PROJECT_ROOT / name, root / name)
    for name in (*PROGRAM_PACKAGES, *SOURCE_FOLDERS):
        ignore = shutil.ignore_patterns("__pycache__")
        shutil.copytree(PROJECT_ROOT / name, root / name, ignore=ignore)
    return root


def stack_config(stack: str, project_root: Path = PROJECT_ROOT) -> dict:
    """The `config:` block of Pulumi.<stack>.yaml, keys as written there."""
    text = (Path(project_root) / f"Pulumi.{stack}.yaml").read_text()
    return (yaml.safe_load(text) or {}).get("config") or {}


def cli_config(
    config: dict, stack: str, project_root: Path = PROJECT_ROOT, check_types: bool = True
) -> dict[str, str]:
    """The config the CLI hands the program: Pulumi.yaml defaults under `config`, as strings."""
    project = _project_file(project_root)
    name = project["name"]
    declarations = project.get("config") or {}

    def namespaced(key: str) -> str:
        return key if ":" in key else f"{name}:{key}"

    merged = {namespaced(key): value for key, value in config.items()}
    missing = []
    for key, declaration in declarations.items():
        if namespaced(key) in merged:
            continue
        if not isinstance(declaration, dict):
            merged[namespaced(key)] = declaration
        elif declaration.get("default") is not None:
            merged[namespaced(key)] = declaration["default"]
        elif declaration.get("value") is not None:
            merged[namespaced(key)] = declaration["value"]
        else:
            missing.append(key)
    if missing:
        keys = ", ".join(f"'{key}'" for key in sorted(missing))
        raise ConfigRefused(f"Stack '{stack}' is missing configuration value(s) {keys}")
    for key, declaration in sorted(declarations.items()) if check_types else ():
        if isinstance(declaration, dict) and "type" in declaration:
            if not _has_type(
                merged[namespaced(key)], declaration["type"], declaration.get("items")
            ):
                raise ConfigRefused(
                    f"Stack '{stack}' with configuration key '{key}' must be of type "
                    f"'{_type_name(declaration['type'], declaration.get('items'))}'"
                )
    return {key: _config_string(value) for key, value in merged.items()}


def _has_type(value: Any, type_: str, items: dict | None) -> bool:
    """The CLI's check of a stack value against a declared type (Go's ValidateConfigValue)."""
    if type_ == "string":
        return isinstance(value, str)
    if type_ == "integer":
        if isinstance(value, str):
            return value.lstrip("+-").isdigit()
        return (
            not isinstance(value, bool) and isinstance(value, (int, float)) and value == int(value)
        )
    if type_ == "boolean":
        return isinstance(value, bool) or value in ("true", "false")
    if type_ == "object":
        return isinstance(value, dict)
    if not isinstance(value, list) or items is None:
        return False
    return all(_has_type(item, items["type"], items.get("items")) for item in value)


def _type_name(type_: str, items: dict | None) -> str:
    """The type as the CLI's message names it: array<string>."""
    return f"array<{_type_name(items['type'], items.get('items'))}>" if items else type_


def _project_file(project_root: Path) -> dict:
    return yaml.safe_load((Path(project_root) / "Pulumi.yaml").read_text())


def run_program(
    config: dict,
    stack: str = "test",
    mocks: pulumi.runtime.Mocks | None = None,
    project_root: Path = PROJECT_ROOT,
    check: bool = True,
    check_types: bool = True,
) -> Declared:
    """Run the program once with this stack config (Pulumi.<stack>.yaml's `config:` form).

    Raises what stopped the program unless check=False; then it is in Declared.error.
    ConfigRefused comes first, as from the CLI: check_types=False skips its type checks.
    """
    values = cli_config(config, stack, project_root, check_types)
    declared = Declared(project_root=Path(project_root).resolve())
    mocks = mocks or HubMocks()
    project = _project_file(project_root)["name"]
    # Its own thread, context and event loop: no runtime state leaks into caller or next run.
    thread = threading.Thread(
        target=contextvars.Context().run, args=(_run, declared, values, project, stack, mocks)
    )
    thread.start()
    thread.join()
    if check and declared.error is not None:
        raise declared.error
    return declared


def _run(
    declared: Declared, values: dict, project: str, stack: str, mocks: pulumi.runtime.Mocks
) -> None:
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        pulumi.runtime.set_all_config(values, [])
        monitor = _RecordingMonitor(mocks, declared)
        pulumi.runtime.set_mocks(
            mocks,
            project=project,
            stack=stack,
            preview=False,
            logger=_warnings_into(declared.warnings),
            monitor=monitor,
        )

        # Pulumi's own unit-test runner: it waits for every registration and the returned output.
        @pulumi.runtime.test
        def program():
            with _modules_from(declared.project_root):
                runpy.run_path(str(declared.project_root), run_name="__main__")
            exported = pulumi.runtime.get_root_resource().outputs
            return pulumi.Output.from_input(_record_outputs(declared, exported))

        try:
            program()
        except Exception as error:  # noqa: BLE001 (handed to the caller in Declared.error)
            declared.error = error
    finally:
        loop.close()


def _warnings_into(warnings: list[str]) -> logging.Logger:
    """A logger for the mock engine that keeps this run's warnings and shows nothing."""
    logger = logging.getLogger(f"{__name__}.run-{id(warnings)}")
    logger.propagate = False
    handler = logging.Handler(logging.WARNING)
    handler.emit = lambda record: warnings.append(record.getMessage())
    logger.handlers = [handler]
    return logger


async def _record_outputs(declared: Declared, exported: dict) -> None:
    """The stack's outputs as the CLI would show them: each value, and whether it is secret."""
    for name, value in exported.items():
        output = pulumi.Output.from_input(value)
        declared.outputs[name] = StackOutput(await output.future(), await output.is_secret())


@contextlib.contextmanager
def _modules_from(project_root: Path):
    """The program imports its own modules from `project_root`, then this checkout's come back."""
    if project_root == PROJECT_ROOT:
        yield
        return
    names = {path.stem for path in project_root.glob("*.py")} - {"__main__"}
    names |= {path.parent.name for path in project_root.glob("*/__init__.py")}

    def from_project(module: str) -> bool:
        return module.split(".", 1)[0] in names

    saved = {name: module for name, module in sys.modules.items() if from_project(name)}
    for name in saved:
        del sys.modules[name]
    try:
        yield
    finally:
        for name in [name for name in sys.modules if from_project(name)]:
            del sys.modules[name]
        sys.modules.update(saved)


# Not exported, but set_mocks takes one: the only way to see the requests before they are decoded.
class _RecordingMonitor(pulumi_mocks.MockMonitor):
    """The mock engine, noting each resource and invoke exactly as the program sent it."""

    def __init__(self, mocks: pulumi.runtime.Mocks, declared: Declared):
        super().__init__(mocks)
        self.declared = declared

    def RegisterResource(self, request):  # noqa: N802 (the engine's method name)
        registered = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            self.declared.resources.append(
                DeclaredResource(
                    type=request.type,
                    name=request.name,
                    inputs=_plain(rpc.deserialize_properties(request.object)),
                    secret_inputs=frozenset(_secret_paths(request.object)),
                    urn=registered.urn,
                    dependencies=sorted(request.dependencies),
                    id=registered.id,
                    state=_plain(rpc.deserialize_properties(registered.object)),
                    custom=request.custom,
                )
            )
        return registered

    def Invoke(self, request):  # noqa: N802 (the engine's method name)
        args = _plain(rpc.deserialize_properties(request.args))
        self.declared.invokes.append(Invoke(token=request.tok, args=args))
        return super().Invoke(request)


def _plain(value: Any) -> Any:
    """A deserialized value with every secret wrapper replaced by what it wraps."""
    value = rpc.unwrap_rpc_secret(value)
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def _secret_paths(value: Any, path: str = "") -> set[str]:
    """Where in a wire-format value the secret markers are (the SDK's decoding moves them up)."""
    if isinstance(value, struct_pb2.Struct):
        if value.fields.get(_SIG) and value[_SIG] == _SECRET_SIG:
            return {path} | _secret_paths(value["value"], path)
        children = value.items()
    elif isinstance(value, struct_pb2.ListValue):
        children = enumerate(value)
    else:
        return set()
    return set().union(*(_secret_paths(v, f"{path}.{k}" if path else str(k)) for k, v in children))


def _config_string(value: Any) -> str:
    """A config value as the CLI passes it: JSON for arrays and objects, text for the rest."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return str(value)
