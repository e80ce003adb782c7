"""The Kubernetes manifests (k8s/) and the platform image (Dockerfile): the invariants a deployment relies on.

Every YAML file is read with PyYAML, so the checks run anywhere; when `kustomize` or `kubectl` is on the
PATH the overlays are also rendered and checked as a whole.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from arc.benchling.v1 import benchling_service_pb2
from arc.logs.v1 import logs_service_pb2
from arc.pipelines.v1 import pipelines_service_pb2
from arc.runs.v1 import runs_service_pb2
from arc_core.settings import Settings
from arc_platform.targets import NEEDS_DATABASE, SERVICES

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "k8s"
BASE = K8S / "base"
DEV = K8S / "overlays" / "dev"
PRODUCTION = K8S / "overlays" / "production"
NETWORK_POLICIES = K8S / "components" / "network-policies"

GRPC_PORT = 50051
STATUS_PORT = 50052  # Runs only: ReportRunStatus and health, the one port Batch VMs may reach
HTTP_PORT = 8080
IMAGE_UID = 10001
# The health name each gRPC role serves, from the generated descriptors (not retyped).
HEALTH_NAMES = {
    "runs": runs_service_pb2.DESCRIPTOR.services_by_name["RunsService"].full_name,
    "logs": logs_service_pb2.DESCRIPTOR.services_by_name["LogsService"].full_name,
    "pipelines": pipelines_service_pb2.DESCRIPTOR.services_by_name["PipelinesService"].full_name,
    "benchling": benchling_service_pb2.DESCRIPTOR.services_by_name["BenchlingService"].full_name,
}
ROLES = (*SERVICES, "gateway")
PROXY = "cloud-sql-proxy"

Doc = dict[str, Any]


def load(path: Path) -> list[Doc]:
    with path.open() as f:
        return [doc for doc in yaml.safe_load_all(f) if doc is not None]


def docs_under(folder: Path) -> list[Doc]:
    return [doc for path in sorted(folder.rglob("*.yaml")) for doc in load(path)]


def find(docs: list[Doc], kind: str, name: str) -> Doc:
    matches = [d for d in docs if d.get("kind") == kind and d.get("metadata", {}).get("name") == name]
    assert len(matches) == 1, f"expected one {kind} {name}, found {len(matches)}"
    return matches[0]


def of_kind(docs: list[Doc], kind: str) -> list[Doc]:
    return [d for d in docs if d.get("kind") == kind]


def kustomization(folder: Path) -> Doc:
    return load(folder / "kustomization.yaml")[0]


def pod_spec(workload: Doc) -> Doc:
    return workload["spec"]["template"]["spec"]


def app_container(workload: Doc, name: str) -> Doc:
    (container,) = [c for c in pod_spec(workload)["containers"] if c["name"] == name]
    return container


def all_containers(workload: Doc) -> list[Doc]:
    spec = pod_spec(workload)
    return [*spec.get("initContainers", []), *spec["containers"]]


def env_names(container: Doc) -> dict[str, Doc]:
    return {e["name"]: e for e in container.get("env", [])}


def configmap_data(docs: list[Doc], name: str) -> dict[str, str]:
    return dict(find(docs, "ConfigMap", name)["data"])


def patch_docs(folder: Path) -> list[Doc]:
    """The strategic-merge patches of a kustomization or component: files and inline ones."""
    out: list[Doc] = []
    for patch in kustomization(folder).get("patches", []):
        if "path" in patch:
            out += load(folder / patch["path"])
        elif "target" not in patch:
            out += [d for d in yaml.safe_load_all(patch["patch"]) if d]
    return out


def overlay_config(overlay: Path) -> dict[str, str]:
    """arc-config as the overlay renders it: base, then its components' patches, then its own."""
    data = configmap_data(load(BASE / "config.yaml"), "arc-config")
    layers = [(overlay / c).resolve() for c in kustomization(overlay).get("components", [])] + [overlay]
    for layer in layers:
        for doc in patch_docs(layer):
            if doc.get("kind") == "ConfigMap" and doc["metadata"]["name"] == "arc-config":
                data.update(doc["data"])
    return data


@pytest.fixture(scope="module")
def base() -> list[Doc]:
    return docs_under(BASE)


# --- every file -------------------------------------------------------------------------------------


def test_every_yaml_file_parses_into_kubernetes_objects() -> None:
    files = sorted(K8S.rglob("*.yaml"))
    assert len(files) > 10
    for path in files:
        docs = load(path)
        assert docs, f"{path} is empty"
        for doc in docs:
            assert isinstance(doc, dict) and doc.get("kind"), f"{path}: a document without kind"
            if path.name != "kustomization.yaml":
                assert doc.get("apiVersion") and doc.get("metadata", {}).get("name"), f"{path}: {doc.get('kind')}"


def test_every_kustomization_lists_files_that_exist() -> None:
    kustomizations = sorted(K8S.rglob("kustomization.yaml"))
    assert {k.parent for k in kustomizations} >= {BASE, DEV, PRODUCTION, NETWORK_POLICIES}
    for path in kustomizations:
        folder = path.parent
        spec = load(path)[0]
        expected_kind = "Component" if folder.parent.name == "components" else "Kustomization"
        assert spec["kind"] == expected_kind, path
        for entry in [*spec.get("resources", []), *spec.get("components", [])]:
            target = (folder / entry).resolve()
            assert target.is_file() or (target / "kustomization.yaml").is_file(), f"{path}: {entry} does not exist"
        for patch in spec.get("patches", []):
            if "path" in patch:
                assert (folder / patch["path"]).is_file(), f"{path}: patch {patch['path']} does not exist"
        listed = {(folder / e).resolve() for e in spec.get("resources", [])}
        listed |= {(folder / p["path"]).resolve() for p in spec.get("patches", []) if "path" in p}
        for own in folder.glob("*.yaml"):
            if own.name != "kustomization.yaml":
                assert own.resolve() in listed, f"{own} is not used by {path}"


# --- one Deployment, Service and ServiceAccount per role ---------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_role_file_holds_its_deployment_service_and_service_account(role: str) -> None:
    docs = load(BASE / f"{role}.yaml")
    assert sorted(d["kind"] for d in docs) == ["Deployment", "Service", "ServiceAccount"]
    for doc in docs:
        assert doc["metadata"]["name"] == f"arc-{role}"
        assert doc["metadata"]["labels"]["app.kubernetes.io/part-of"] == "arc-reactor"


@pytest.mark.parametrize("role", ROLES)
def test_deployment_runs_its_own_target_as_its_own_service_account(base: list[Doc], role: str) -> None:
    deployment = find(base, "Deployment", f"arc-{role}")
    container = app_container(deployment, role)
    assert container["args"] == ["serve", "--target", role]
    assert container["image"] == "arc-reactor"
    assert "replicas" not in deployment["spec"], "the overlays (or the autoscaler) own the replica count"

    spec = pod_spec(deployment)
    assert spec["serviceAccountName"] == f"arc-{role}"
    assert spec["automountServiceAccountToken"] is False
    account = find(base, "ServiceAccount", f"arc-{role}")
    gsa = account["metadata"]["annotations"]["iam.gke.io/gcp-service-account"]
    assert gsa.startswith(f"arc-{role}@") and gsa.endswith(".iam.gserviceaccount.com")


@pytest.mark.parametrize("role", ROLES)
def test_service_selects_its_deployment(base: list[Doc], role: str) -> None:
    deployment = find(base, "Deployment", f"arc-{role}")
    service = find(base, "Service", f"arc-{role}")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"] == service["spec"]["selector"]
    assert service["spec"]["selector"].items() <= labels.items()
    (port,) = service["spec"]["ports"]
    container_ports = {p["name"]: p["containerPort"] for p in app_container(deployment, role)["ports"]}
    assert container_ports[port["targetPort"]] == (HTTP_PORT if role == "gateway" else GRPC_PORT)
    if role != "gateway":
        assert port["port"] == GRPC_PORT


def test_service_addresses_point_at_the_services(base: list[Doc]) -> None:
    config = configmap_data(base, "arc-config")
    for role in SERVICES:
        assert config[f"ARC_{role.upper()}_ADDRESS"] == f"arc-{role}:{GRPC_PORT}"
        find(base, "Service", f"arc-{role}")
    assert config["ARC_BIND_HOST"] == "0.0.0.0"
    assert config["ARC_GRPC_PORT"] == str(GRPC_PORT) and config["ARC_HTTP_PORT"] == str(HTTP_PORT)


# --- security and resources ---------------------------------------------------------------------------


def workloads(docs: list[Doc]) -> list[Doc]:
    return of_kind(docs, "Deployment") + of_kind(docs, "Job")


def test_every_pod_is_non_root_with_a_read_only_root_and_no_privileges(base: list[Doc]) -> None:
    assert len(workloads(base)) == len(ROLES) + 1
    for workload in workloads(base):
        name = workload["metadata"]["name"]
        pod = pod_spec(workload)["securityContext"]
        assert pod["runAsNonRoot"] is True, name
        assert pod["runAsUser"] == IMAGE_UID, name
        assert pod["seccompProfile"] == {"type": "RuntimeDefault"}, name
        for container in all_containers(workload):
            where = f"{name}/{container['name']}"
            security = container["securityContext"]
            assert security["runAsNonRoot"] is True, where
            assert security["readOnlyRootFilesystem"] is True, where
            assert security["allowPrivilegeEscalation"] is False, where
            assert security["capabilities"]["drop"] == ["ALL"], where
            assert security.get("privileged", False) is False, where


def test_every_container_has_requests_and_limits(base: list[Doc]) -> None:
    for workload in workloads(base):
        for container in all_containers(workload):
            resources = container["resources"]
            for bound in ("requests", "limits"):
                assert {"cpu", "memory"} <= resources[bound].keys(), f"{container['name']}: {bound}"


def test_the_platform_containers_write_only_to_an_emptydir_tmp(base: list[Doc]) -> None:
    config = configmap_data(base, "arc-config")
    assert config["ARC_DATA_DIR"].startswith("/tmp/")
    for workload in workloads(base):
        spec = pod_spec(workload)
        volumes = {v["name"]: v for v in spec["volumes"]}
        for container in spec["containers"]:
            (mount,) = [m for m in container["volumeMounts"] if m["mountPath"] == "/tmp"]
            assert "emptyDir" in volumes[mount["name"]]
            assert container["envFrom"] == [{"configMapRef": {"name": "arc-config"}}]


# --- probes -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", list(SERVICES))
def test_grpc_roles_are_ready_when_their_own_health_service_is_serving(base: list[Doc], role: str) -> None:
    container = app_container(find(base, "Deployment", f"arc-{role}"), role)
    expected = {"port": GRPC_PORT, "service": HEALTH_NAMES[role]}
    assert container["readinessProbe"]["grpc"] == expected
    for kind in ("startupProbe", "livenessProbe"):
        probe = container[kind]
        if "grpc" in probe:
            assert probe["grpc"] == expected, kind
        elif role in NEEDS_DATABASE:
            # Health that tracks a backend (database, warehouse) must not restart the pod: an outage
            # makes it unready; startup and liveness only ask that the server accepts connections.
            assert probe["tcpSocket"]["port"] in ("grpc", GRPC_PORT), kind
        else:
            pytest.fail(f"{role} {kind} is neither a gRPC nor a TCP probe")


def test_gateway_probes_are_http_on_the_health_route(base: list[Doc]) -> None:
    container = app_container(find(base, "Deployment", "arc-gateway"), "gateway")
    for kind in ("readinessProbe", "livenessProbe"):
        probe = container[kind]["httpGet"]
        assert probe["port"] in ("http", HTTP_PORT)
        assert probe["path"].startswith("/api/health"), kind


# --- database ------------------------------------------------------------------------------------------


def proxy_sidecar(workload: Doc) -> Doc | None:
    for container in pod_spec(workload).get("initContainers", []):
        if container["name"] == PROXY:
            return container
    return None


@pytest.mark.parametrize("role", ROLES)
def test_only_the_roles_that_need_the_database_get_it_through_the_proxy(base: list[Doc], role: str) -> None:
    deployment = find(base, "Deployment", f"arc-{role}")
    env = env_names(app_container(deployment, role))
    sidecar = proxy_sidecar(deployment)
    if role not in NEEDS_DATABASE:
        assert "DATABASE_URL" not in env and sidecar is None
        return
    assert env["DATABASE_URL"]["valueFrom"]["secretKeyRef"] == {"name": "arc-database", "key": "url"}
    assert sidecar is not None
    assert sidecar["restartPolicy"] == "Always", "a native sidecar: ready before the service starts"
    assert "startupProbe" in sidecar
    assert sidecar["envFrom"] == [{"configMapRef": {"name": "arc-cloudsql"}}]


def test_benchling_reads_its_warehouse_dsn_from_its_own_secret(base: list[Doc]) -> None:
    env = env_names(app_container(find(base, "Deployment", "arc-benchling"), "benchling"))
    ref = env["ARC_BENCHLING_WAREHOUSE_URL"]["valueFrom"]["secretKeyRef"]
    assert ref["name"] == "arc-benchling-warehouse" and not ref.get("optional", False)


def test_no_secret_value_is_committed() -> None:
    for doc in docs_under(K8S):
        assert doc.get("kind") != "Secret", "Secrets are created outside the repository"
        for key in doc.get("data", {}) if doc.get("kind") == "ConfigMap" else ():
            assert key != "DATABASE_URL" and "PASSWORD" not in key


def test_migrate_job_applies_migrations_once_with_the_proxy(base: list[Doc]) -> None:
    job = find(base, "Job", "arc-migrate")
    spec = pod_spec(job)
    assert spec["restartPolicy"] == "Never"
    (container,) = spec["containers"]
    assert container["args"] == ["migrate"]
    assert env_names(container)["DATABASE_URL"]["valueFrom"]["secretKeyRef"]["name"] == "arc-database"
    sidecar = proxy_sidecar(job)
    assert sidecar is not None and sidecar["restartPolicy"] == "Always", "a plain sidecar would never let it finish"


# --- settings -----------------------------------------------------------------------------------------


def setting_names() -> set[str]:
    return {"DATABASE_URL"} | {f"ARC_{name.upper()}" for name in Settings.model_fields}


def test_every_configured_variable_is_a_setting() -> None:
    known = setting_names()
    for path in sorted(K8S.rglob("*.yaml")):
        for doc in load(path):
            if doc.get("kind") == "ConfigMap" and doc["metadata"]["name"] == "arc-config":
                unknown = set(doc.get("data", {})) - known
                assert not unknown, f"{path}: not settings: {sorted(unknown)}"
            if doc.get("kind") in ("Deployment", "Job") and "template" in doc.get("spec", {}):
                for container in doc["spec"]["template"]["spec"].get("containers", []):
                    unknown = {n for n in env_names(container) if n.startswith("ARC_")} - known
                    assert not unknown, f"{path}: not settings: {sorted(unknown)}"


@pytest.mark.parametrize("overlay", [DEV, PRODUCTION], ids=["dev", "production"])
def test_overlay_settings_are_accepted_by_the_settings_class(overlay: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("ARC_") or name == "DATABASE_URL":
            monkeypatch.delenv(name)
    for name, value in overlay_config(overlay).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("DATABASE_URL", "postgresql://arc:secret@127.0.0.1:5432/arc")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.executor == "batch"
    assert settings.resolved_storage_root.startswith("gs://")
    assert settings.service_address("pipelines") == f"arc-pipelines:{GRPC_PORT}"


# --- overlays -----------------------------------------------------------------------------------------


def test_production_overlay_runs_behind_iap_in_production_mode() -> None:
    config = overlay_config(PRODUCTION)
    assert config["ARC_AUTH_MODE"] == "iap"
    assert config["ARC_ENVIRONMENT"] == "production"
    assert config["ARC_IAP_AUDIENCE"].startswith("/projects/")
    assert config["ARC_STATUS_ADDRESS"].endswith(f":{STATUS_PORT}"), "orchestrators report on the status port"

    spec = kustomization(PRODUCTION)
    components = {Path(c).name for c in spec["components"]}
    assert components >= {"iap", "network-policies", "runs-internal-lb"}
    assert {i["name"] for i in spec["images"]} == {"arc-reactor"}
    assert all(i.get("newTag") for i in spec["images"])


def test_production_scales_the_gateway_with_an_autoscaler_and_the_rest_with_replicas() -> None:
    spec = kustomization(PRODUCTION)
    replicas = {r["name"]: r["count"] for r in spec["replicas"]}
    assert "arc-gateway" not in replicas, "the autoscaler owns the gateway's replica count"
    assert all(replicas[f"arc-{role}"] >= 2 for role in SERVICES)
    hpa = find(docs_under(PRODUCTION), "HorizontalPodAutoscaler", "arc-gateway")
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "arc-gateway"}
    assert hpa["spec"]["minReplicas"] >= 2


def test_dev_overlay_has_one_replica_each_and_no_public_entry_point() -> None:
    spec = kustomization(DEV)
    assert {r["name"]: r["count"] for r in spec["replicas"]} == {f"arc-{role}": 1 for role in ROLES}
    assert not any(Path(c).name == "iap" for c in spec.get("components", []))
    assert overlay_config(DEV)["ARC_AUTH_MODE"] == "dev"
    assert overlay_config(DEV)["ARC_STATUS_ADDRESS"].endswith(f":{STATUS_PORT}")
    assert not of_kind(docs_under(DEV), "Ingress")


def test_dev_overlay_includes_the_network_policies() -> None:
    """Dev identity is a header anyone can send: the policies keep the Batch VMs off every other port."""
    components = {(DEV / c).resolve() for c in kustomization(DEV)["components"]}
    assert NETWORK_POLICIES.resolve() in components
    assert (K8S / "components" / "runs-internal-lb").resolve() in components


def test_iap_component_protects_the_gateway_service() -> None:
    folder = K8S / "components" / "iap"
    docs = docs_under(folder)
    backend = find(docs, "BackendConfig", "arc-gateway")
    assert backend["spec"]["iap"]["enabled"] is True
    assert backend["spec"]["healthCheck"]["requestPath"] == "/api/health"
    ingress = find(docs, "Ingress", "arc-gateway")
    assert ingress["spec"]["defaultBackend"]["service"]["name"] == "arc-gateway"
    (service_patch,) = [d for d in patch_docs(folder) if d["kind"] == "Service"]
    assert service_patch["metadata"]["name"] == "arc-gateway"
    assert '"arc-gateway"' in service_patch["metadata"]["annotations"]["cloud.google.com/backend-config"]


# --- network policies ---------------------------------------------------------------------------------


def test_network_policies_deny_everything_by_default() -> None:
    docs = docs_under(NETWORK_POLICIES)
    deny = [
        d
        for d in of_kind(docs, "NetworkPolicy")
        if d["spec"]["podSelector"] == {}
        and sorted(d["spec"]["policyTypes"]) == ["Egress", "Ingress"]
        and not d["spec"].get("ingress")
        and not d["spec"].get("egress")
    ]
    assert len(deny) == 1


def selected_roles(selector: Doc) -> set[str]:
    """The Arc Reactor pods a pod selector picks, by name (``{}`` picks every pod)."""
    everyone = {f"arc-{role}" for role in ROLES} | {"arc-migrate"}
    if not selector:
        return everyone
    names: set[str] = set()
    if "app.kubernetes.io/name" in selector.get("matchLabels", {}):
        names.add(selector["matchLabels"]["app.kubernetes.io/name"])
    for expression in selector.get("matchExpressions", []):
        if expression["key"] == "app.kubernetes.io/name" and expression["operator"] == "In":
            names |= set(expression["values"])
    if selector.get("matchLabels", {}).get("app.kubernetes.io/part-of") == "arc-reactor":
        names |= everyone
    return names


def peers(policy: Doc, direction: str) -> set[str]:
    """Names of the pods a policy lets in (``ingress``) or out to (``egress``)."""
    key = "from" if direction == "ingress" else "to"
    names: set[str] = set()
    for rule in policy["spec"].get(direction, []):
        for peer in rule.get(key, []):
            if "podSelector" in peer:  # ipBlock peers are outside the cluster
                names |= selected_roles(peer["podSelector"])
    return names


def test_network_policies_allow_exactly_the_call_paths() -> None:
    policies = of_kind(docs_under(NETWORK_POLICIES), "NetworkPolicy")
    calls = {  # caller -> callees, as the code calls them
        "arc-gateway": {"arc-runs", "arc-logs", "arc-pipelines", "arc-benchling"},
        "arc-runs": {"arc-pipelines"},
        "arc-logs": {"arc-runs"},
        "arc-benchling": {"arc-pipelines"},
        "arc-pipelines": set(),
    }
    allowed_in = {f"arc-{r}": set() for r in ROLES}
    allowed_out = {f"arc-{r}": set() for r in ROLES}
    for policy in policies:
        for role in selected_roles(policy["spec"]["podSelector"]) & allowed_in.keys():
            allowed_in[role] |= peers(policy, "ingress")
            allowed_out[role] |= peers(policy, "egress")
    for caller, callees in calls.items():
        assert allowed_out[caller] == callees, caller
        for callee in callees:
            assert caller in allowed_in[callee], f"{caller} -> {callee}"
    for callee, callers in allowed_in.items():
        assert callers == {c for c, out in calls.items() if callee in out}, callee


def test_runs_accepts_orchestrators_and_the_gateway_accepts_the_load_balancer() -> None:
    docs = docs_under(NETWORK_POLICIES)
    runs_blocks = [
        peer["ipBlock"]["cidr"]
        for rule in find(docs, "NetworkPolicy", "arc-runs")["spec"]["ingress"]
        for peer in rule["from"]
        if "ipBlock" in peer
    ]
    assert runs_blocks, "orchestrators on Batch VMs report to Runs"
    gateway_blocks = {
        peer["ipBlock"]["cidr"]
        for rule in find(docs, "NetworkPolicy", "arc-gateway")["spec"]["ingress"]
        for peer in rule["from"]
    }
    assert gateway_blocks == {"130.211.0.0/22", "35.191.0.0/16"}  # Google's front ends and health checks
    lb = find(docs_under(K8S / "components" / "runs-internal-lb"), "Service", "arc-runs-internal")
    assert lb["metadata"]["annotations"]["networking.gke.io/load-balancer-type"] == "Internal"
    assert lb["spec"]["externalTrafficPolicy"] == "Local", "the network policy needs the VM's own address"


def internal_lb() -> Doc:
    return find(docs_under(K8S / "components" / "runs-internal-lb"), "Service", "arc-runs-internal")


def test_runs_exposes_a_status_port_beside_the_main_one(base: list[Doc]) -> None:
    container = app_container(find(base, "Deployment", "arc-runs"), "runs")
    assert {p["name"]: p["containerPort"] for p in container["ports"]} == {"grpc": GRPC_PORT, "status": STATUS_PORT}
    assert env_names(container)["ARC_STATUS_PORT"]["value"] == str(STATUS_PORT)
    assert Settings.model_fields["status_port"].default == STATUS_PORT
    # In-cluster callers use the ClusterIP Service: the main port only.
    assert [p["port"] for p in find(base, "Service", "arc-runs")["spec"]["ports"]] == [GRPC_PORT]


def test_the_internal_load_balancer_targets_only_the_status_port() -> None:
    lb = internal_lb()
    assert lb["spec"]["selector"] == {"app.kubernetes.io/name": "arc-runs"}
    assert [(p["port"], p["targetPort"]) for p in lb["spec"]["ports"]] == [(STATUS_PORT, "status")]


def batch_ranges() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    ranges = [ipaddress.ip_network(r) for r in internal_lb()["spec"]["loadBalancerSourceRanges"]]
    assert ranges
    return ranges


def test_the_batch_subnet_reaches_only_the_status_port_of_runs() -> None:
    """Any ingress rule that admits an address of the Batch VMs' subnet: on arc-runs, port 50052 only."""
    batch = batch_ranges()
    admitted: list[tuple[set[str], list[Doc]]] = []
    for policy in of_kind(docs_under(NETWORK_POLICIES), "NetworkPolicy"):
        for rule in policy["spec"].get("ingress", []):
            assert rule.get("from"), f"{policy['metadata']['name']}: an ingress rule open to every source"
            blocks = [ipaddress.ip_network(p["ipBlock"]["cidr"]) for p in rule["from"] if "ipBlock" in p]
            if any(block.overlaps(b) for block in blocks for b in batch if block.version == b.version):
                admitted.append((selected_roles(policy["spec"]["podSelector"]), rule.get("ports", [])))
    assert admitted, "orchestrators on Batch VMs report to Runs"
    for roles, ports in admitted:
        assert roles == {"arc-runs"}
        assert ports == [{"protocol": "TCP", "port": STATUS_PORT}], "the main port is never reachable from the VMs"


def test_the_in_cluster_callers_of_runs_use_the_main_port() -> None:
    policy = find(docs_under(NETWORK_POLICIES), "NetworkPolicy", "arc-runs")
    pod_rules = [r for r in policy["spec"]["ingress"] if any("podSelector" in p for p in r["from"])]
    assert pod_rules
    for rule in pod_rules:
        assert [p["port"] for p in rule["ports"]] == [GRPC_PORT]


def test_production_patches_the_same_batch_subnet_into_the_lb_and_the_policy() -> None:
    patches = {
        p["target"]["name"]: yaml.safe_load(p["patch"]) for p in kustomization(PRODUCTION)["patches"] if "target" in p
    }
    (lb_op,) = patches["arc-runs-internal"]
    (policy_op,) = patches["arc-runs"]
    assert lb_op["path"] == "/spec/loadBalancerSourceRanges"
    # The index the policy patch replaces is the ipBlock rule.
    index = int(policy_op["path"].split("/")[3])
    rule = find(docs_under(NETWORK_POLICIES), "NetworkPolicy", "arc-runs")["spec"]["ingress"][index]
    assert "ipBlock" in rule["from"][0] and rule["ports"] == [{"protocol": "TCP", "port": STATUS_PORT}]
    assert policy_op["path"] == f"/spec/ingress/{index}/from/0/ipBlock/cidr"
    assert lb_op["value"] == [policy_op["value"]]


# --- the image ------------------------------------------------------------------------------------------


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def test_dockerfile_builds_a_non_root_image_of_the_platform() -> None:
    instructions = dockerfile_instructions()

    def get(op: str) -> list[str]:
        return [arg for o, arg in instructions if o == op]

    assert get("FROM") == ["python:3.11-slim"]
    assert get("USER") == [f"{IMAGE_UID}:{IMAGE_UID}"]
    assert get("ENTRYPOINT") == ['["python", "-m", "arc_platform"]']
    assert get("CMD") == ['["serve", "--target", "all"]']
    copied = {arg.split()[0] for arg in get("COPY")}
    assert copied >= {"requirements.txt", "arc_core", "arc_platform", "gen", "services", "gateway", "protos"}
    env = " ".join(get("ENV"))
    assert "PYTHONPATH=/app:/app/gen" in env and "ARC_BIND_HOST=0.0.0.0" in env
    assert any("pip install" in arg and "-r requirements.txt" in arg for arg in get("RUN"))


def test_dockerignore_keeps_the_context_small_but_keeps_the_orchestrator() -> None:
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()}
    assert {".venv", ".arc", ".git", ".env", "tests", "bench"} <= ignored
    # orchestrator/Dockerfile.orchestrator builds from the same context.
    assert not any(line.startswith("orchestrator") for line in ignored)
    assert not ignored & {"arc_core", "arc_platform", "gen", "services", "gateway", "protos", "requirements.txt"}


# --- rendered, when a kustomize is at hand ----------------------------------------------------------------


def kustomize_command() -> list[str] | None:
    if shutil.which("kustomize"):
        return ["kustomize", "build"]
    if shutil.which("kubectl"):
        return ["kubectl", "kustomize"]
    return None


@pytest.mark.parametrize("overlay", [DEV, PRODUCTION], ids=["dev", "production"])
def test_overlay_renders(overlay: Path) -> None:
    command = kustomize_command()
    if command is None:
        pytest.skip("neither kustomize nor kubectl is installed")
    try:
        result = subprocess.run([*command, str(overlay)], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        pytest.skip(f"{command[0]} cannot run here: {exc}")
    assert result.returncode == 0, result.stderr
    docs = [d for d in yaml.safe_load_all(result.stdout) if d]
    namespace = kustomization(overlay)["namespace"]
    for doc in docs:
        if doc["kind"] != "Namespace":
            assert doc["metadata"].get("namespace") == namespace, doc["metadata"]["name"]
    config = configmap_data(docs, "arc-config")
    assert config == overlay_config(overlay)
    image = next(i for i in kustomization(overlay)["images"] if i["name"] == "arc-reactor")
    for workload in workloads(docs):
        for container in pod_spec(workload)["containers"]:
            assert container["image"] == f"{image['newName']}:{image['newTag']}"
    if overlay == PRODUCTION:
        assert config["ARC_AUTH_MODE"] == "iap" and config["ARC_ENVIRONMENT"] == "production"
        assert len(of_kind(docs, "NetworkPolicy")) >= 6
        assert find(docs, "Deployment", "arc-gateway")["spec"].get("replicas") is None
        gateway = find(docs, "Service", "arc-gateway")
        assert "cloud.google.com/backend-config" in gateway["metadata"]["annotations"]
    else:
        assert len(of_kind(docs, "NetworkPolicy")) >= 6 and not of_kind(docs, "Ingress")
        assert all(d["spec"]["replicas"] == 1 for d in of_kind(docs, "Deployment"))


def test_the_orchestrator_image_installs_every_plugin_runs_need() -> None:
    """A run never reaches the plugin registry: the image installs nf-google and nf-cloudcache at the versions
    Nextflow 24.04.4 bundles (modules/nextflow/src/main/resources/META-INF/plugins-info.txt) and every plugin
    the catalog's pipeline versions declare (recorded from each tag's nextflow.config in SOURCE.yaml)."""
    dockerfile = (ROOT / "orchestrator" / "Dockerfile.orchestrator").read_text()
    declared = next(line for line in dockerfile.splitlines() if line.startswith("ARG NXF_PLUGINS="))
    installed = set(declared.split("=", 1)[1].strip('"').split(","))
    assert 'nextflow plugin install "$NXF_PLUGINS"' in dockerfile
    needed = {"nf-google@1.13.2-patch1", "nf-cloudcache@0.4.1"}
    sources = sorted((ROOT / "services" / "pipelines" / "catalog").glob("*/versions/*/SOURCE.yaml"))
    assert sources
    for source in sources:
        recorded = yaml.safe_load(source.read_text())
        assert "nextflow_plugins" in recorded, f"{source} does not say which plugins its version needs"
        needed |= set(recorded["nextflow_plugins"])
    assert needed - installed == set()
