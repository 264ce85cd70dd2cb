"""deploy/kubernetes.yaml: valid Kubernetes objects whose probes reach the bot's real routes.

kubernetes-validate checks each object against the Kubernetes API schemas it ships (no cluster,
no network). The rest is what the README promises: two replicas in webhook mode, liveness on
/healthz and readiness on /readyz of the port the container listens on, secrets from a Secret,
time to finish after SIGTERM, a PodDisruptionBudget over the same pods, the image's non-root
user. The container's arguments are run against the fake Bot API and each probe's path asked.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from simulation.http import FakeTelegramServer
from tests.deployment import (
    BIN,
    ROOT,
    Container,
    dockerfile_stages,
    run_command,
    with_port_zero,
)
from tests.processes import wait_for

MANIFEST = ROOT / "deploy" / "kubernetes.yaml"
DOCUMENTS: list[dict[str, Any]] = [d for d in yaml.safe_load_all(MANIFEST.read_text()) if d]


def kind(name: str) -> dict[str, Any]:
    (found,) = [d for d in DOCUMENTS if d["kind"] == name]
    return found


def bot_container() -> dict[str, Any]:
    (container,) = kind("Deployment")["spec"]["template"]["spec"]["containers"]
    assert isinstance(container, dict)
    return container


@pytest.fixture
def containers() -> Iterator[list[Container]]:
    started: list[Container] = []
    yield started
    for container in started:
        container.stop()


def test_manifest_is_valid_for_kubernetes(tmp_path: Path) -> None:
    def validate(path: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(BIN / "kubernetes-validate"), "--strict", "--quiet", str(path)],
            capture_output=True,
            text=True,
            timeout=300,
        )

    answer = validate(MANIFEST)
    assert answer.returncode == 0, answer.stdout + answer.stderr
    # The validator bites: a probe with a misspelt field is refused.
    broken = tmp_path / "kubernetes.yaml"
    broken.write_text(MANIFEST.read_text().replace("periodSeconds: 10", "periodSecond: 10"))
    assert validate(broken).returncode != 0


def test_deployment_runs_two_replicas_with_probes_secrets_and_a_grace_period() -> None:
    assert {d["kind"] for d in DOCUMENTS} == {
        "Deployment",
        "Service",
        "PodDisruptionBudget",
        "Job",
    }
    deployment = kind("Deployment")
    assert deployment["spec"]["replicas"] == 2
    pod = deployment["spec"]["template"]["spec"]
    assert pod["terminationGracePeriodSeconds"] >= 30
    assert pod["securityContext"]["runAsNonRoot"] is True
    image_user = dockerfile_stages()[-1].last("USER")
    assert image_user is not None
    assert str(pod["securityContext"]["runAsUser"]) == image_user.split(":")[0]
    container = bot_container()
    args = container["args"]
    assert args[:2] == ["run", "--no-migrate"] and "--webhook-url" in args
    assert args[args.index("--listen") + 1] == "0.0.0.0"
    port = int(args[args.index("--port") + 1])
    (named,) = container["ports"]
    assert named["containerPort"] == port
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        get = container[probe]["httpGet"]
        assert get["path"] == path and get["port"] in (port, named["name"])
    assert container["envFrom"] == [{"secretRef": {"name": "imbot"}}]
    assert "BOT_TOKEN" not in yaml.safe_dump(container)  # secrets only by reference
    migrate = kind("Job")["spec"]["template"]["spec"]["containers"][0]
    assert migrate["args"] == ["db", "upgrade"] and migrate["envFrom"] == container["envFrom"]


def test_service_and_disruption_budget_select_the_bot_pods() -> None:
    labels = kind("Deployment")["spec"]["template"]["metadata"]["labels"]
    assert kind("Deployment")["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert kind("Service")["spec"]["selector"].items() <= labels.items()
    budget = kind("PodDisruptionBudget")["spec"]
    assert budget["selector"]["matchLabels"].items() <= labels.items()
    assert 1 <= budget["minAvailable"] < kind("Deployment")["spec"]["replicas"]
    (service_port,) = kind("Service")["spec"]["ports"]
    assert service_port["targetPort"] == bot_container()["ports"][0]["name"]


def test_probes_answer_on_the_container_port_when_its_arguments_run(
    server: FakeTelegramServer, containers: list[Container], tmp_path: Path
) -> None:
    container = bot_container()
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["IMBOT_CONFIG"].startswith(container["volumeMounts"][0]["mountPath"])
    env["IMBOT_CONFIG"] = str(ROOT / "config" / "example.yaml")  # the ConfigMap's file
    env.update(  # what the Secret holds
        BOT_TOKEN="123456:K8S-test-token",
        WEBHOOK_SECRET="k8s_Secret-2",
        DATABASE_URL=f"sqlite:///{tmp_path / 'imbot.sqlite3'}",
        BOT_API_URL=server.url("k8s"),
    )
    job = run_command(
        ["imbot", *kind("Job")["spec"]["template"]["spec"]["containers"][0]["args"]], env
    )
    assert job.returncode == 0, job.stderr  # the Job migrates; the pods run --no-migrate
    pod = Container(with_port_zero(["imbot", *container["args"]]), env, tmp_path / "pod.log")
    containers.append(pod)
    port = pod.port()
    wait_for(lambda: "receiving updates by webhook" in pod.output(), 60, "the webhook")
    with httpx.Client(timeout=10) as client:
        for probe in ("livenessProbe", "readinessProbe"):
            answer = client.get(f"http://127.0.0.1:{port}{container[probe]['httpGet']['path']}")
            assert answer.status_code == 200, (probe, answer.text)
    assert pod.stop() == 0  # SIGTERM, as Kubernetes sends it: a clean exit
