"""docker-compose.yml cannot run here (no Docker engine), so it is checked statically."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

from amendments.config import Settings
from amendments.local.devserver import DEV_SERVER_CONFIG
from tests.support.compose import mounts, services
from tests.support.paths import ROOT

SETTING_NAMES = {name.upper() for name in Settings.model_fields}


def env_file(name: str) -> dict[str, str]:
    pairs = {}
    for line in (ROOT / name).read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            pairs[key.strip()] = value.strip()
    return pairs


def test_the_stack_has_every_part() -> None:
    assert set(services()) == {
        "postgresql",
        "temporal",
        "temporal-ui",
        "simulator",
        "worker",
        "callbacks",
        "codec-server",
        "prometheus",
        "grafana",
        "release",
    }


ONE_SHOT = {"release"}  # runs once and exits: nothing waits for it to be healthy


def test_images_are_pinned_or_built_here() -> None:
    built = {s["image"] for s in services().values() if "build" in s and "image" in s}
    for name, service in services().items():
        if "build" in service:
            context = (
                service["build"]
                if isinstance(service["build"], str)
                else service["build"]["context"]
            )
            assert (ROOT / context / "Dockerfile").is_file(), name
            continue
        image = service["image"]
        assert image in built or re.fullmatch(r"[\w./-]+:v?\d+(\.\d+)+", image), (name, image)


def test_dockerfile_copies_what_exists() -> None:
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if line.startswith("COPY "):
            for source in line.split()[1:-1]:
                assert (ROOT / source).exists(), source


def test_every_service_has_a_healthcheck_and_waits_for_healthy_dependencies() -> None:
    for name, service in services().items():
        if name in ONE_SHOT:
            assert service["restart"] == "no"
            assert all(name not in other.get("depends_on", {}) for other in services().values())
        else:
            assert service["healthcheck"]["test"], name
        for dependency, condition in service.get("depends_on", {}).items():
            assert dependency in services(), (name, dependency)
            assert condition == {"condition": "service_healthy"}, (name, dependency)


def test_workers_scale_out() -> None:
    worker = services()["worker"]
    assert "container_name" not in worker
    assert "ports" not in worker  # --scale worker=3 needs no port per worker


def test_worker_settings_are_the_ones_the_code_reads() -> None:
    worker = services()["worker"]
    names = set(env_file(worker["env_file"])) | set(worker["environment"])
    assert names <= SETTING_NAMES, names - SETTING_NAMES
    assert {
        "TEMPORAL_ADDRESS",
        "TEMPORAL_NAMESPACE",
        "TASK_QUEUE",
        "DINTERO_BASE_URL",
        "DINTERO_ACCOUNT_ID",
        "DINTERO_CLIENT_ID",
        "DINTERO_CLIENT_SECRET",
    } <= names
    assert worker["environment"]["TEMPORAL_ADDRESS"] == "temporal:7233"
    assert worker["environment"]["DINTERO_BASE_URL"].startswith("http://simulator:")


def test_workers_run_as_a_version_the_release_step_promotes() -> None:
    worker, release = services()["worker"], services()["release"]
    build = "${TEMPORAL_WORKER_BUILD_ID:-local}"
    assert worker["environment"]["TEMPORAL_WORKER_BUILD_ID"] == build
    deployment = worker["environment"]["TEMPORAL_DEPLOYMENT_NAME"]
    assert release["environment"]["TEMPORAL_DEPLOYMENT_NAME"] == deployment
    assert release["env_file"] == worker["env_file"]  # the same task queue and namespace
    assert release["command"][:4] == ["amend", "deploy", "promote", build]
    assert release["depends_on"] == {"worker": {"condition": "service_healthy"}}
    assert set(release["environment"]) <= SETTING_NAMES


def test_env_example_loads_as_settings(monkeypatch: Any) -> None:
    for key, value in env_file(".env.example").items():
        monkeypatch.setenv(key, value)
    settings = Settings(_env_file=None)
    assert settings.dintero_credentials()[0] == "T12345678"


def test_prometheus_scrapes_the_workers_with_the_committed_rules() -> None:
    [config_dir] = mounts("prometheus").values()
    config = yaml.safe_load((config_dir / "prometheus.yml").read_text())
    for rules in config["rule_files"]:
        assert (config_dir / rules).is_file(), rules
    [job] = config["scrape_configs"]
    [dns] = job["dns_sd_configs"]
    worker = services()["worker"]
    port = worker["environment"]["METRICS_BIND_ADDRESS"].rpartition(":")[2]
    assert (dns["names"], str(dns["port"])) == (["worker"], port)
    assert port in worker["expose"]


def test_grafana_reads_the_committed_datasource_and_dashboard() -> None:
    grafana = mounts("grafana")
    provisioning = grafana["/etc/grafana/provisioning"]
    [datasource] = yaml.safe_load((provisioning / "datasources" / "prometheus.yml").read_text())[
        "datasources"
    ]
    port = services()["prometheus"]["ports"][0].rpartition(":")[2]
    assert datasource["url"] == f"http://prometheus:{port}"
    [provider] = yaml.safe_load((provisioning / "dashboards" / "dashboards.yml").read_text())[
        "providers"
    ]
    dashboards = grafana[provider["options"]["path"]]
    board = json.loads((dashboards / "order-amendments.json").read_text())
    uids = {t["datasource"]["uid"] for p in board["panels"] for t in p["targets"]}
    assert uids == {datasource["uid"]}
    home = services()["grafana"]["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert home.startswith(provider["options"]["path"])


def test_the_callback_receiver_is_where_the_workers_say_dintero_calls() -> None:
    worker, callbacks = services()["worker"], services()["callbacks"]
    port = callbacks["command"][callbacks["command"].index("--port") + 1]
    assert worker["environment"]["CALLBACK_BASE_URL"] == f"http://callbacks:{port}"
    assert callbacks["command"][:2] == ["amend", "callbacks"]
    names = set(env_file(callbacks["env_file"])) | set(callbacks["environment"])
    assert names <= SETTING_NAMES, names - SETTING_NAMES


def test_the_server_keeps_task_queues_in_priority_order_like_every_dev_server() -> None:
    temporal = services()["temporal"]
    loaded = Path("/etc/temporal") / temporal["environment"]["DYNAMIC_CONFIG_FILE_PATH"]
    dynamic = yaml.safe_load(mounts("temporal")[str(loaded)].read_text())
    # Priority and fairness as on the dev servers; the partitions left at the server's default
    # (scaled out).
    assert dynamic == {
        "matching.useNewMatcher": [{"value": True}],
        "matching.enableFairness": [{"value": True}],
    }
    assert DEV_SERVER_CONFIG["matching.useNewMatcher"] is True
    assert DEV_SERVER_CONFIG["matching.enableFairness"] is True


def test_the_ui_decodes_through_the_codec_server_with_the_workers_keys() -> None:
    codec, ui = services()["codec-server"], services()["temporal-ui"]
    assert codec["command"][:2] == ["amend", "codec-server"]
    port = codec["command"][codec["command"].index("--port") + 1]
    assert f"{port}:{port}" in codec["ports"]
    assert ui["environment"]["TEMPORAL_CODEC_ENDPOINT"] == f"http://localhost:{port}"
    assert ui["environment"]["TEMPORAL_CORS_ORIGINS"] in codec["environment"]["CODEC_CORS_ORIGINS"]
    assert "codec-server" in ui["depends_on"]
    keys = {services()[name]["environment"]["ENCRYPTION_KEYS"] for name in ("worker", "callbacks")}
    assert keys == {codec["environment"]["ENCRYPTION_KEYS"]} == {"${ENCRYPTION_KEYS:-}"}
    assert {"ENCRYPTION_KEYS", "CODEC_SERVER_TOKEN", "CODEC_CORS_ORIGINS"} <= SETTING_NAMES
