"""What the rendered chart does: GPU placement, one beat, secrets, probes, hooks, scaling."""

from __future__ import annotations

from typing import Any

import pytest

from grump.celery.profiles import WORKER_PROFILES, WorkerKind
from grump.celery.queues import redis_priority_keys
from grump.settings import Settings

from .support import (
    ALL_FEATURES_VALUES,
    CHART_DIR,
    GPU_POOL_VALUES,
    SECRET_ENV_NAMES,
    component_of,
    helm_template,
    load_yaml,
    objects_of_kind,
    pod_spec,
    settings_env_names,
)

VALUE_SETS = {
    "default": (),
    "gpu-pool": (GPU_POOL_VALUES,),
    "all-features": (ALL_FEATURES_VALUES,),
}
Objects = list[dict[str, Any]]


@pytest.fixture(params=list(VALUE_SETS), ids=list(VALUE_SETS))
def rendered(request: pytest.FixtureRequest) -> Objects:
    return helm_template(VALUE_SETS[request.param])


def deployments(objects: Objects) -> dict[str, dict[str, Any]]:
    return {component_of(obj): obj for obj in objects if obj["kind"] == "Deployment"}


def workload_containers(objects: Objects) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for obj in objects:
        if obj["kind"] in ("Deployment", "Job", "Pod"):
            for container in pod_spec(obj)["containers"]:
                found.append((obj["metadata"]["name"], container))
    return found


def gpu_requests(container: dict[str, Any]) -> tuple[Any, Any]:
    resources = container.get("resources", {})
    return (
        resources.get("limits", {}).get("nvidia.com/gpu"),
        resources.get("requests", {}).get("nvidia.com/gpu"),
    )


def tolerates_gpu_taint(spec: dict[str, Any]) -> bool:
    return any(
        t.get("key") == "nvidia.com/gpu" and t.get("effect") in ("NoSchedule", None)
        for t in spec.get("tolerations", [])
    )


# --- GPU pool --------------------------------------------------------------------


def test_only_the_gpu_tier_asks_for_and_tolerates_gpus(rendered: Objects) -> None:
    for component, deployment in deployments(rendered).items():
        spec = pod_spec(deployment)
        (container,) = spec["containers"]
        limit, request = gpu_requests(container)
        if component == "worker-gpu":
            assert limit is not None and int(limit) >= 1
            assert tolerates_gpu_taint(spec)
            assert spec["nodeSelector"]["nvidia.com/gpu.present"] == "true"
            assert "-gpu" in container["image"].split(":")[0]
        else:
            assert limit is None and request is None, component
            assert not tolerates_gpu_taint(spec), component
            assert "nvidia.com/gpu.present" not in spec.get("nodeSelector", {}), component
            assert "-gpu" not in container["image"].split(":")[0], component
    for name, container in workload_containers(rendered):
        if "worker-gpu" not in name:
            assert gpu_requests(container) == (None, None), name


def test_gpu_count_follows_values() -> None:
    gpu = deployments(helm_template((ALL_FEATURES_VALUES,)))["worker-gpu"]
    (container,) = pod_spec(gpu)["containers"]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == 2
    # The other limits given in values are kept next to the GPU.
    assert container["resources"]["limits"]["memory"] == "8Gi"
    assert pod_spec(gpu)["runtimeClassName"] == "nvidia"


def test_gpu_pool_example_keeps_cpu_work_off_gpu_nodes() -> None:
    for component, deployment in deployments(helm_template((GPU_POOL_VALUES,))).items():
        if component == "worker-gpu":
            continue
        terms = pod_spec(deployment)["affinity"]["nodeAffinity"][
            "requiredDuringSchedulingIgnoredDuringExecution"
        ]["nodeSelectorTerms"]
        expression = terms[0]["matchExpressions"][0]
        assert expression == {
            "key": "nvidia.com/gpu.present", "operator": "NotIn", "values": ["true"]
        }, component  # fmt: skip


# --- beat --------------------------------------------------------------------------


def test_beat_is_a_single_replica_replaced_not_rolled(rendered: Objects) -> None:
    beat = deployments(rendered)["beat"]
    assert beat["spec"]["replicas"] == 1
    assert beat["spec"]["strategy"] == {"type": "Recreate"}
    # Nothing may scale beat up or keep it from a node drain.
    for obj in rendered:
        if obj["kind"] in ("HorizontalPodAutoscaler", "ScaledObject"):
            assert obj["spec"]["scaleTargetRef"]["name"] != beat["metadata"]["name"]
        if obj["kind"] == "PodDisruptionBudget":
            assert obj["spec"]["selector"]["matchLabels"]["app.kubernetes.io/component"] != "beat"


# --- settings and secrets ------------------------------------------------------------


def test_secrets_never_land_in_a_config_map() -> None:
    objects = helm_template((ALL_FEATURES_VALUES,))
    secret_values = load_yaml(ALL_FEATURES_VALUES)["secrets"]
    sentinels = [value for value in secret_values.values() if "SENTINEL" in value]
    assert len(sentinels) == len(SECRET_ENV_NAMES)
    config_maps = objects_of_kind(objects, "ConfigMap")
    assert config_maps
    for name, config_map in config_maps.items():
        data = config_map.get("data", {})
        assert not set(data) & SECRET_ENV_NAMES, name
        for value in data.values():
            assert not any(sentinel in value for sentinel in sentinels), name
    # ...and every one of them is in the Secret the pods read.
    secret = objects_of_kind(objects, "Secret")["grump"]
    assert set(secret["stringData"]) == SECRET_ENV_NAMES
    stored = set(secret["stringData"].values())
    assert set(sentinels) <= stored


def test_pods_read_settings_from_the_config_map_and_the_secret(rendered: Objects) -> None:
    config_maps = objects_of_kind(rendered, "ConfigMap")
    for component, deployment in deployments(rendered).items():
        (container,) = pod_spec(deployment)["containers"]
        sources = container["envFrom"]
        config_name = sources[0]["configMapRef"]["name"]
        assert config_name in config_maps, component
        secret_name = sources[1]["secretRef"]["name"]
        assert secret_name in objects_of_kind(rendered, "Secret") or secret_name == "grump-secrets"


def test_existing_secret_replaces_the_charts_secrets() -> None:
    objects = helm_template((GPU_POOL_VALUES,))
    assert "Secret" not in {obj["kind"] for obj in objects}
    migrate = objects_of_kind(objects, "Job")["grump-migrate"]
    env = {e["name"]: e for e in pod_spec(migrate)["containers"][0]["env"]}
    assert env["GRUMP_DATABASE_URL"]["valueFrom"]["secretKeyRef"]["name"] == "grump-secrets"


def test_every_environment_name_is_a_grump_setting(rendered: Objects) -> None:
    known = settings_env_names()
    names: set[str] = set()
    for obj in rendered:
        if obj["kind"] == "ConfigMap":
            names |= set(obj["data"])
        if obj["kind"] == "Secret":
            names |= set(obj.get("stringData", {}))
    for _, container in workload_containers(rendered):
        names |= {e["name"] for e in container.get("env", [])}
    grump_names = {name for name in names if name.startswith("GRUMP_")}
    assert grump_names, "no settings rendered"
    assert grump_names <= known, sorted(grump_names - known)


def test_worker_concurrency_reaches_the_tiers_setting() -> None:
    values = load_yaml(ALL_FEATURES_VALUES)["workers"]
    objects = deployments(helm_template((ALL_FEATURES_VALUES,)))
    for worker in values:
        (container,) = pod_spec(objects[f"worker-{worker['name']}"])["containers"]
        env = {e["name"]: e.get("value") for e in container["env"]}
        assert env[f"GRUMP_{worker['tier'].upper()}_CONCURRENCY"] == str(worker["concurrency"])


def test_default_worker_concurrency_is_grumps_default() -> None:
    for worker in load_yaml(CHART_DIR / "values.yaml")["workers"]:
        field = f"{worker['tier']}_concurrency"
        assert worker["concurrency"] == Settings.model_fields[field].default, worker["name"]


def test_config_values_become_strings_in_the_config_map() -> None:
    config = objects_of_kind(helm_template((ALL_FEATURES_VALUES,)), "ConfigMap")["grump-config"]
    assert config["data"]["GRUMP_ROUTING_THRESHOLD"] == "70"
    assert config["data"]["GRUMP_METRICS_PORT"] == "9100"
    assert config["data"]["GRUMP_API_URL"] == "http://grump-api:8000"


# --- probes, services, hooks ----------------------------------------------------------


def test_api_probes_use_healthz_and_readyz(rendered: Objects) -> None:
    (container,) = pod_spec(deployments(rendered)["api"])["containers"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["startupProbe"]["httpGet"]["path"] == "/healthz"


def test_every_long_running_container_has_a_liveness_probe(rendered: Objects) -> None:
    for component, deployment in deployments(rendered).items():
        (container,) = pod_spec(deployment)["containers"]
        probe = container["livenessProbe"]["httpGet"]
        port_names = {port["name"] for port in container["ports"]}
        assert probe["port"] in port_names, component


def test_containers_run_unprivileged_and_read_only(rendered: Objects) -> None:
    for name, container in workload_containers(rendered):
        security = container["securityContext"]
        assert security["allowPrivilegeEscalation"] is False, name
        assert security["readOnlyRootFilesystem"] is True, name
    for obj in rendered:
        if obj["kind"] in ("Deployment", "Job", "Pod"):
            assert pod_spec(obj)["securityContext"]["runAsNonRoot"] is True


def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(key) == value for key, value in selector.items())


def test_selectors_find_their_pods(rendered: Objects) -> None:
    pods = {
        component: deployment["spec"]["template"]["metadata"]["labels"]
        for component, deployment in deployments(rendered).items()
    }
    for deployment in deployments(rendered).values():
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert selects(deployment["spec"]["selector"]["matchLabels"], labels)
    for name, service in objects_of_kind(rendered, "Service").items():
        chosen = {c for c, labels in pods.items() if selects(service["spec"]["selector"], labels)}
        assert chosen, f"service {name} selects no pod"
        if name == "grump-metrics":
            assert chosen == {c for c in pods if c.startswith("worker-")} | {"beat"}
    for name, pdb in objects_of_kind(rendered, "PodDisruptionBudget").items():
        chosen = {
            c
            for c, labels in pods.items()
            if selects(pdb["spec"]["selector"]["matchLabels"], labels)
        }
        assert len(chosen) == 1, name


def test_migrate_job_runs_before_install_and_upgrade(rendered: Objects) -> None:
    jobs = objects_of_kind(rendered, "Job")
    migrate = jobs["grump-migrate"]
    annotations = migrate["metadata"]["annotations"]
    assert set(annotations["helm.sh/hook"].split(",")) == {"pre-install", "pre-upgrade"}
    (container,) = pod_spec(migrate)["containers"]
    assert container["args"] == ["migrate"]
    # A pre-install hook runs before the release's ordinary objects exist: what
    # it reads must be a hook of lower weight, or an existing Secret.
    secret_name = container["env"][0]["valueFrom"]["secretKeyRef"]["name"]
    secrets = objects_of_kind(rendered, "Secret")
    if secret_name in secrets:
        hook = secrets[secret_name]["metadata"]["annotations"]
        assert hook["helm.sh/hook"] == annotations["helm.sh/hook"]
        assert int(hook["helm.sh/hook-weight"]) < int(annotations["helm.sh/hook-weight"])
    else:
        assert secret_name == "grump-secrets"
    assert "serviceAccountName" not in pod_spec(migrate)


def test_helm_test_pod_calls_readyz_on_the_api_service(rendered: Objects) -> None:
    pods = objects_of_kind(rendered, "Pod")
    test_pod = pods["grump-test-readyz"]
    assert test_pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    (container,) = test_pod["spec"]["containers"]
    url = container["args"][0]
    service = objects_of_kind(rendered, "Service")["grump-api"]
    assert url == f"http://grump-api:{service['spec']['ports'][0]['port']}/readyz"


def test_flower_is_behind_basic_auth(rendered: Objects) -> None:
    flower = deployments(rendered)["flower"]
    (container,) = pod_spec(flower)["containers"]
    assert container["args"] == ["flower"]
    secret_name = container["envFrom"][1]["secretRef"]["name"]
    secrets = objects_of_kind(rendered, "Secret")
    if secret_name in secrets:
        data = secrets[secret_name]["stringData"]
        assert data["GRUMP_FLOWER_USER"]
        assert len(data["GRUMP_FLOWER_PASSWORD"]) >= 16


# --- workers and autoscaling -------------------------------------------------------


def test_worker_queues_in_values_are_the_tiers_queues() -> None:
    for path in (CHART_DIR / "values.yaml", GPU_POOL_VALUES, ALL_FEATURES_VALUES):
        for worker in load_yaml(path)["workers"]:
            profile = WORKER_PROFILES[WorkerKind(worker["tier"])]
            assert tuple(worker["queues"]) == profile.queues, (path.name, worker["name"])


def test_default_values_run_one_worker_per_tier() -> None:
    tiers = [
        deployment["metadata"]["labels"]["grump/tier"]
        for c, deployment in deployments(helm_template()).items()
        if c.startswith("worker-")
    ]
    assert sorted(tiers) == sorted(kind.value for kind in WorkerKind)


def test_keda_redis_triggers_watch_every_priority_list() -> None:
    objects = helm_template((GPU_POOL_VALUES,))
    scaled = objects_of_kind(objects, "ScaledObject")
    values = {w["name"]: w for w in load_yaml(GPU_POOL_VALUES)["workers"]}
    assert set(scaled) == {f"grump-worker-{name}" for name in values}
    for name, worker in values.items():
        triggers = scaled[f"grump-worker-{name}"]["spec"]["triggers"]
        lists = [t["metadata"]["listName"] for t in triggers]
        expected = [key for queue in worker["queues"] for key in redis_priority_keys(queue)]
        assert lists == expected
        assert {t["type"] for t in triggers} == {"redis"}
        assert {t["metadata"]["listLength"] for t in triggers} == {
            str(worker["autoscaling"]["targetQueueLength"])
        }
        assert {t["metadata"]["passwordFromEnv"] for t in triggers} == {"REDIS_PASSWORD"}


def test_scaled_deployments_leave_replicas_to_the_autoscaler() -> None:
    objects = helm_template((ALL_FEATURES_VALUES,))
    targets = {
        obj["spec"]["scaleTargetRef"]["name"]
        for obj in objects
        if obj["kind"] in ("ScaledObject", "HorizontalPodAutoscaler")
    }
    for deployment in objects_of_kind(objects, "Deployment").values():
        if deployment["metadata"]["name"] in targets:
            assert "replicas" not in deployment["spec"], deployment["metadata"]["name"]
    assert {"grump-api", "grump-worker-cpu", "grump-worker-llm", "grump-worker-gpu"} <= targets


def test_prometheus_and_hpa_scalers_use_the_summed_queue_gauge() -> None:
    objects = helm_template((ALL_FEATURES_VALUES,))
    scaled = objects_of_kind(objects, "ScaledObject")
    (trigger,) = scaled["grump-worker-llm"]["spec"]["triggers"]
    assert trigger["type"] == "prometheus"
    assert (
        'worker_queue_depth{queue=~"complete.economy|complete.premium"}'
        in trigger["metadata"]["query"]
    )
    hpa = objects_of_kind(objects, "HorizontalPodAutoscaler")["grump-worker-cpu"]
    metrics = hpa["spec"]["metrics"]
    assert [m["external"]["metric"]["selector"]["matchLabels"]["queue"] for m in metrics] == [
        "parse", "maintenance",
    ]  # fmt: skip
    assert {m["external"]["metric"]["name"] for m in metrics} == {"worker_queue_depth"}


# --- optional objects ------------------------------------------------------------------


def test_optional_objects_are_off_by_default() -> None:
    kinds = {obj["kind"] for obj in helm_template()}
    assert not kinds & {"Ingress", "HorizontalPodAutoscaler", "ScaledObject",
                        "ServiceMonitor", "NetworkPolicy"}  # fmt: skip


def test_all_optional_objects_render_when_switched_on() -> None:
    objects = helm_template((ALL_FEATURES_VALUES,))
    kinds = {obj["kind"] for obj in objects}
    assert {"Ingress", "HorizontalPodAutoscaler", "ScaledObject", "ServiceMonitor",
            "NetworkPolicy"} <= kinds  # fmt: skip
    ingress = objects_of_kind(objects, "Ingress")["grump-api"]
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend == {"name": "grump-api", "port": {"number": 8000}}


def test_service_monitor_scrapes_api_and_worker_services() -> None:
    objects = helm_template((ALL_FEATURES_VALUES,))
    monitor = objects_of_kind(objects, "ServiceMonitor")["grump"]
    selector = monitor["spec"]["selector"]["matchLabels"]
    selected = {
        name for name, service in objects_of_kind(objects, "Service").items()
        if selects(selector, service["metadata"]["labels"])
    }  # fmt: skip
    assert selected == {"grump-api", "grump-metrics"}
    ports = {endpoint["port"] for endpoint in monitor["spec"]["endpoints"]}
    assert ports == {"http", "metrics"}


def test_network_policy_lets_the_release_and_scrapers_reach_the_api() -> None:
    objects = helm_template((ALL_FEATURES_VALUES,))
    policy = objects_of_kind(objects, "NetworkPolicy")["grump-api"]
    sources = [peer for rule in policy["spec"]["ingress"] for peer in rule.get("from", [])]
    # The helm test pod and the other grump pods are of the release.
    assert {"podSelector": {"matchLabels": {"app.kubernetes.io/instance": "grump"}}} in sources
    assert {"namespaceSelector": {}} in sources


RABBITMQ_URL = "amqp://grump:pw@rabbitmq:5672/grump"


def test_a_rabbitmq_url_is_the_broker_and_keda_reads_its_queues() -> None:
    rabbitmq = (f"secrets.rabbitmqUrl={RABBITMQ_URL}", "rabbitmq.queueType=classic")
    objects = helm_template((), rabbitmq)
    secret = objects_of_kind(objects, "Secret")["grump"]
    assert secret["stringData"]["GRUMP_BROKER_URL"] == RABBITMQ_URL
    assert secret["stringData"]["GRUMP_REDIS_URL"].startswith("redis://")  # leases
    config = objects_of_kind(objects, "ConfigMap")["grump-config"]
    assert config["data"]["GRUMP_RABBITMQ_QUEUE_TYPE"] == "classic"
    Settings.model_validate({"rabbitmq_queue_type": config["data"]["GRUMP_RABBITMQ_QUEUE_TYPE"]})
    # The GPU pool's values name their own Secret; KEDA reaches RabbitMQ at the worker's URL.
    scaled = objects_of_kind(
        helm_template((GPU_POOL_VALUES,), (*rabbitmq, "keda.source=rabbitmq")), "ScaledObject"
    )
    values = {w["name"]: w for w in load_yaml(GPU_POOL_VALUES)["workers"]}
    for name, worker in values.items():
        triggers = scaled[f"grump-worker-{name}"]["spec"]["triggers"]
        assert [t["metadata"]["queueName"] for t in triggers] == worker["queues"]
        assert {t["type"] for t in triggers} == {"rabbitmq"}
        assert {t["metadata"]["hostFromEnv"] for t in triggers} == {"GRUMP_BROKER_URL"}


def test_a_rabbitmq_broker_without_redis_is_refused() -> None:
    from .support import require_tool, run_tool

    helm = require_tool("helm")
    result = run_tool(
        [
            helm, "template", "grump", CHART_DIR,
            "--set", f"secrets.rabbitmqUrl={RABBITMQ_URL}",
            "--set", "secrets.redisUrl=",
        ]
    )  # fmt: skip
    assert result.returncode != 0
    assert "secrets.redisUrl" in result.stderr
    wrong = run_tool([helm, "template", "grump", CHART_DIR, "--set", "secrets.rabbitmqUrl=x://y"])
    assert wrong.returncode != 0 and "rabbitmqUrl" in wrong.stderr
