"""The Grafana dashboard (grafana/) asks only for metrics the service really exports, through the data source that
docker-compose.yml provisions: a renamed metric fails here, not as an empty panel in production."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml
from prometheus_client.parser import text_string_to_metric_families

from {{ cookiecutter.package_name }}.serving import telemetry

ROOT = Path(__file__).resolve().parent.parent
DASHBOARD = ROOT / "grafana" / "dashboards" / "service.json"
PROMQL_WORDS = {"and", "or", "unless", "bool", "offset"}


def panels() -> list[dict]:
    return json.loads(DASHBOARD.read_text(encoding="utf-8"))["panels"]


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression reads (label matchers, ranges, grouping clauses and functions aside)."""
    expr = re.sub(r'"[^"]*"', "", expr)
    expr = re.sub(r"\{[^}]*\}|\[[^\]]*\]", "", expr)
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", expr)
    return set(re.findall(r"\b[A-Za-z_:][A-Za-z0-9_:]*\b(?!\s*\()", expr)) - PROMQL_WORDS


def exported_samples() -> set[str]:
    """Every sample name /metrics serves once each kind of request was seen (suffixes such as _bucket included)."""
    telemetry.observe("ok", 0.01, labels=["a"], values=[1.5])
    telemetry.observe("invalid", 0.002)
    telemetry.observe("error", 0.003)
    telemetry.serving_model("test")
    text = telemetry.exposition().decode()
    return {sample.name for family in text_string_to_metric_families(text) for sample in family.samples}


def test_every_panel_queries_metrics_the_service_exports() -> None:
    exported = exported_samples()
    seen: set[str] = set()
    for panel in panels():
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            names = metric_names(target["expr"])
            assert names, (panel["title"], target["expr"])
            assert names <= exported, (panel["title"], sorted(names - exported))
            seen |= names
    # the panels the dashboard promises: request rate, errors, latency quantiles, predictions, model version
    assert {"prediction_requests_total", "prediction_request_duration_seconds_bucket", "model_info"} <= seen
    assert {"predictions_total", "predicted_value_sum"} <= seen
    exprs = [target["expr"] for panel in panels() for target in panel["targets"]]
    assert any(expr.startswith("histogram_quantile(0.99,") for expr in exprs)


def test_metric_names_are_read_from_promql() -> None:
    expr = 'histogram_quantile(0.9, sum by (le) (rate(a_bucket{status="x"}[$__rate_interval]))) / max(b) or c'
    assert metric_names(expr) == {"a_bucket", "b", "c"}


def test_panels_use_the_provisioned_data_source_and_compose_mounts_grafana() -> None:
    sources = yaml.safe_load((ROOT / "grafana/provisioning/datasources/prometheus.yml").read_text(encoding="utf-8"))
    (source,) = sources["datasources"]
    assert source["url"] == "http://prometheus:9090"
    for panel in panels():
        assert panel["datasource"]["uid"] == source["uid"], panel["title"]
        assert all(target["datasource"]["uid"] == source["uid"] for target in panel["targets"])
    providers = yaml.safe_load((ROOT / "grafana/provisioning/dashboards/service.yml").read_text(encoding="utf-8"))
    dashboards_in = providers["providers"][0]["options"]["path"]
    grafana = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))["services"]["grafana"]
    mounts = {mount.split(":")[1]: mount.split(":")[0] for mount in grafana["volumes"]}
    assert (ROOT / mounts[dashboards_in]).resolve() == DASHBOARD.parent
    assert (ROOT / mounts["/etc/grafana/provisioning"]).resolve() == ROOT / "grafana" / "provisioning"
    assert "@sha256:" in grafana["image"]
