"""docker-compose.yml cannot run here (no Docker engine), so it is checked statically."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent


def compose() -> dict[str, Any]:
    document = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert isinstance(document, dict)
    return document


def test_every_service_has_an_image_or_a_buildable_context() -> None:
    services = compose()["services"]
    assert services
    for name, service in services.items():
        assert "image" in service or "build" in service, name
        if "build" in service:
            context = (
                service["build"]
                if isinstance(service["build"], str)
                else service["build"]["context"]
            )
            assert (ROOT / context / "Dockerfile").is_file(), name


def test_dockerfile_copies_what_exists() -> None:
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if line.startswith("COPY "):
            for source in line.split()[1:-1]:
                assert (ROOT / source).exists(), source


def test_services_have_healthchecks() -> None:
    for name, service in compose()["services"].items():
        assert "healthcheck" in service, name
