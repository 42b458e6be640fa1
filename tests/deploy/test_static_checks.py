"""The deployment files checked here without a container engine.

compose.yaml against the Compose Specification's JSON schema (vendored in
deploy/checks), `nginx -t` with Debian's nginx, `promtool check config` with
Debian's prometheus, the Grafana dashboard loaded and its queries' metric names,
the Dockerfile's shape, and the Rasa export being current.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
from pathlib import Path

import jsonschema
import yaml

from tests.deploy.conftest import DEPLOY, NGINX_CONF, ROOT, need
from voiceflow.processors.nlu.intents import default_catalog
from voiceflow.processors.nlu.rasa_export import export_rasa, rasa_files

COMPOSE = yaml.safe_load((ROOT / "compose.yaml").read_text())

#: the metric names every engineer agreed on (BRIEF.md)
AGREED_METRICS = {
    "voiceflow_calls_active",
    "voiceflow_calls_total",
    "voiceflow_stage_seconds",
    "voiceflow_intent_seconds",
    "voiceflow_v2v_seconds",
    "voiceflow_bargeins_total",
    "voiceflow_provider_requests_total",
    "voiceflow_provider_errors_total",
    "voiceflow_provider_latency_seconds",
    "voiceflow_breaker_state",
    "voiceflow_queue_high_water",
    "voiceflow_tool_calls_total",
    "voiceflow_campaign_calls_total",
    "voiceflow_session_store_fallback_total",
    "voiceflow_input_audio_dropped_total",
}


# -- compose ----------------------------------------------------------------------------------
def test_compose_file_is_valid_against_the_compose_specification_schema() -> None:
    schema = json.loads((DEPLOY / "checks" / "compose-spec.schema.json").read_text())
    errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(COMPOSE), key=lambda e: e.json_path)
    assert not errors, "\n".join(f"{e.json_path}: {e.message}" for e in errors)


def test_the_schema_catches_a_broken_compose_file() -> None:
    schema = json.loads((DEPLOY / "checks" / "compose-spec.schema.json").read_text())
    broken = {"services": {"x": {"image": "a", "profiles": "production", "bogus": 1}}}
    errors = list(jsonschema.Draft7Validator(schema).iter_errors(broken))
    assert {e.json_path for e in errors} >= {"$.services.x", "$.services.x.profiles"}


def test_compose_services_profiles_and_limits_are_the_ones_the_issue_lists() -> None:
    services = COMPOSE["services"]
    assert set(services) == {"voice-agent", "redis", "rasa", "prometheus", "grafana", "nginx"}
    profiles = {name: s.get("profiles", []) for name, s in services.items()}
    assert profiles == {
        "voice-agent": [],
        "redis": [],
        "rasa": ["with-rasa"],
        "prometheus": ["monitoring"],
        "grafana": ["monitoring"],
        "nginx": ["production"],
    }
    agent = services["voice-agent"]
    assert agent["deploy"]["resources"]["limits"] == {"cpus": "2", "memory": "2G"}
    assert agent["environment"]["VOICEFLOW_REDIS_URL"] == "redis://redis:6379/0"
    nginx_ip = services["nginx"]["networks"]["backend"]["ipv4_address"]
    assert agent["environment"]["FORWARDED_ALLOW_IPS"] == nginx_ip  # forwarded-for trusted from nginx only
    redis_cmd = " ".join(services["redis"]["command"])
    assert "--appendonly yes" in redis_cmd and "--maxmemory 256mb" in redis_cmd
    assert "--maxmemory-policy allkeys-lru" in redis_cmd
    assert "deploy/rasa" in services["rasa"]["volumes"][0]


# -- Dockerfile --------------------------------------------------------------------------------
def test_dockerfile_is_multi_stage_non_root_with_a_healthcheck() -> None:
    lines = [ln.strip() for ln in (ROOT / "Dockerfile").read_text().splitlines()]
    stages = [ln for ln in lines if ln.startswith("FROM ")]
    assert len(stages) >= 2 and any(" AS build" in s for s in stages)
    final = lines[lines.index(stages[-1]) :]
    users = [ln.split()[1] for ln in final if ln.startswith("USER ")]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert any(ln.startswith("COPY --from=build") for ln in final)
    health = " ".join(final[final.index(next(ln for ln in final if ln.startswith("HEALTHCHECK"))) :][:2])
    assert "/healthz" in health
    assert any("nlu train" in ln for ln in lines)  # models prepared at build time, not at start


# -- nginx ---------------------------------------------------------------------------------------
def nginx_check(conf_text: str) -> subprocess.CompletedProcess[str]:
    """`nginx -t` on the config, with compose's service name resolving (to 127.0.0.1) as it would there.

    As root the shipped file is checked verbatim, with /etc/hosts mapped in a private
    mount namespace; otherwise the upstream host name is replaced by 127.0.0.1.
    """
    nginx = need("nginx")
    with tempfile.TemporaryDirectory(prefix="vf-nginx-t-") as tmp:
        conf = Path(tmp) / "nginx.conf"
        hosts = Path(tmp) / "hosts"
        hosts.write_text("127.0.0.1 localhost voice-agent\n")
        (Path(tmp) / "logs").mkdir()
        args = [nginx, "-t", "-p", tmp, "-c", str(conf), "-g", f"error_log stderr; pid {tmp}/nginx.pid;"]
        if os.geteuid() == 0 and need("unshare"):
            conf.write_text(conf_text)
            script = f'mount --bind "{hosts}" /etc/hosts && exec "$@"'
            cmd = ["unshare", "--mount", "sh", "-c", script, "nginx-check", *args]
        else:
            conf.write_text(conf_text.replace("server voice-agent:", "server 127.0.0.1:"))
            cmd = args
        return subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=60)


def test_nginx_accepts_the_shipped_config() -> None:
    result = nginx_check(NGINX_CONF.read_text())
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr


def test_nginx_rejects_a_broken_config() -> None:
    result = nginx_check(NGINX_CONF.read_text().replace("ip_hash;", "ip_hash on;"))
    assert result.returncode != 0 and "ip_hash" in result.stderr


def test_nginx_config_has_affinity_limits_websockets_and_forwarded_for() -> None:
    text = NGINX_CONF.read_text()
    assert re.search(r"upstream voiceflow \{\s*ip_hash;", text)
    assert "zone=api:10m rate=30r/s" in text and "zone=api burst=20" in text
    assert "zone=ws:10m  rate=10r/s" in text and "limit_conn per_ip 100;" in text
    assert "proxy_set_header Upgrade           $http_upgrade;" in text
    server = text[text.index("    server {") :]
    locations = re.findall(r"location [^{]*\{([^}]*)\}", server)
    assert locations and not any("proxy_set_header" in body for body in locations), (
        "a location with its own proxy_set_header drops the server-level ones (X-Forwarded-For, Upgrade)"
    )
    assert "proxy_read_timeout 3600s;" in text and "proxy_send_timeout 3600s;" in text
    assert "proxy_set_header X-Forwarded-For   $remote_addr;" in text  # set, not appended: unforgeable


# -- prometheus ---------------------------------------------------------------------------------
def test_promtool_accepts_the_prometheus_config() -> None:
    result = subprocess.run(
        [need("promtool"), "check", "config", str(DEPLOY / "prometheus" / "prometheus.yml")],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    job = next(j for j in config["scrape_configs"] if j["job_name"] == "voiceflow")
    assert job["scrape_interval"] == "15s" and job["metrics_path"] == "/metrics"


def test_promtool_rejects_a_broken_config(tmp_path: Path) -> None:
    bad = tmp_path / "prometheus.yml"
    bad.write_text("global:\n  scrape_interval: soon\n")
    result = subprocess.run(
        [need("promtool"), "check", "config", str(bad)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode != 0


# -- grafana -------------------------------------------------------------------------------------
def dashboard_metrics() -> dict[str, set[str]]:
    """Metric names each panel's queries use (``_bucket`` etc. folded into the histogram's name)."""
    board = json.loads((DEPLOY / "grafana" / "dashboards" / "voiceflow.json").read_text())
    out: dict[str, set[str]] = {}
    for panel in board["panels"]:
        names = set()
        for target in panel["targets"]:
            for name in re.findall(r"\bvoiceflow_[a-z0-9_]+", target["expr"]):
                names.add(re.sub(r"_(bucket|sum|count)$", "", name))
        out[panel["title"]] = names
    return out


def test_grafana_dashboard_loads_and_every_query_names_an_agreed_metric() -> None:
    used = dashboard_metrics()
    assert len(used) >= 10 and all(used.values())
    every = set().union(*used.values())
    assert every <= AGREED_METRICS, f"unknown metrics in the dashboard: {every - AGREED_METRICS}"
    for needed in (
        "voiceflow_v2v_seconds",
        "voiceflow_stage_seconds",
        "voiceflow_calls_total",
        "voiceflow_provider_errors_total",
        "voiceflow_breaker_state",
    ):
        assert needed in every
    provisioning = yaml.safe_load((DEPLOY / "grafana/provisioning/dashboards/voiceflow.yaml").read_text())
    assert provisioning["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"
    datasource = yaml.safe_load((DEPLOY / "grafana/provisioning/datasources/prometheus.yaml").read_text())
    assert datasource["datasources"][0]["uid"] == "prometheus"


def test_dashboard_metrics_are_exported_by_the_metrics_module() -> None:
    """Against what the process really registers (the observability layer's module and the sessions')."""
    from prometheus_client import REGISTRY

    import voiceflow.observability.metrics
    import voiceflow.sessions.metrics  # noqa: F401  # registers the session store's counter

    exported = set()
    for family in REGISTRY.collect():
        exported |= {family.name, f"{family.name}_total"}
    missing = set().union(*dashboard_metrics().values()) - exported
    assert not missing, f"the dashboard queries metrics nobody exports: {missing}"


# -- rasa export ------------------------------------------------------------------------------------
def test_export_rasa_writes_every_intent_and_example(tmp_path: Path) -> None:
    export_rasa(tmp_path)
    catalog = default_catalog()
    domain = yaml.safe_load((tmp_path / "domain.yml").read_text())
    assert domain["intents"] == list(catalog.names)
    nlu = yaml.safe_load((tmp_path / "data/nlu.yml").read_text())["nlu"]
    assert [block["intent"] for block in nlu] == list(catalog.names)
    for block, spec in zip(nlu, catalog.intents, strict=True):
        examples = [line[2:] for line in block["examples"].splitlines()]
        assert examples == [" ".join(e.split()) for e in spec.examples]
    config = yaml.safe_load((tmp_path / "config.yml").read_text())
    assert config["language"] == "en" and any(c["name"] == "DIETClassifier" for c in config["pipeline"])


def test_the_checked_in_rasa_project_is_current() -> None:
    for relative, text in rasa_files().items():
        assert (DEPLOY / "rasa" / relative).read_text() == text, (
            f"deploy/rasa/{relative} is stale: run `voiceflow nlu export-rasa`"
        )
