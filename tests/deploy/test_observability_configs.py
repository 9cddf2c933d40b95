"""The Grafana dashboard and the Prometheus alert rules name only metrics that clipray
defines (``observability/metrics.py``, as Ray's agent exports them), and the rules file has
the structure Prometheus loads (groups of rules with alert, expr, for, labels, annotations).
``promtool check rules`` is not installed here: the structure is checked field by field."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from clipray.observability.metrics import DEFINITIONS, exported_names

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
DASHBOARD = REPO / "deploy" / "grafana" / "clipray.json"
ALERTS = REPO / "deploy" / "prometheus" / "alerts.yml"
_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or",
             "unless", "bool", "offset", "inf", "nan"}  # fmt: skip
_DURATION = re.compile(r"^(\d+(ms|s|m|h|d|w|y))+$")


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression reads: identifiers that are not functions,
    keywords, label names (in ``{}`` or after by/on) or Grafana variables."""
    assert expr.count("(") == expr.count(")"), expr
    text = re.sub(r'"[^"]*"', "", expr)
    text = re.sub(r"\{[^}]*\}", "", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", "", text)  # ranges, $__rate_interval included
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    names = set()
    for m in re.finditer(r"(?<![\w$.])([a-zA-Z_:][\w:]*)(\s*\()?", text):
        word, call = m.group(1), m.group(2)
        if call or word.lower() in _KEYWORDS:
            continue
        names.add(word)
    return names


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        pytest.param("histogram_quantile(0.95, sum by (le, stage) "
                     "(rate(ray_clipray_stage_seconds_bucket[$__rate_interval])))",
                     {"ray_clipray_stage_seconds_bucket"}, id="quantile"),
        pytest.param('max by (step) (a_x{step="render"}) > 2 * on (step) b_y',
                     {"a_x", "b_y"}, id="binary-on"),
        pytest.param("sum(increase(c_total[5m])) > 0", {"c_total"}, id="increase"),
    ],
)
def test_the_expression_reader_finds_the_metrics(expr, names):
    assert metric_names(expr) == names


def test_the_metric_names_follow_the_scheme():
    for d in DEFINITIONS:
        assert re.fullmatch(r"clipray_[a-z0-9_]+", d.name), d.name
        assert d.kind != "histogram" or d.boundaries == tuple(sorted(d.boundaries)), d.name
    assert len({d.name for d in DEFINITIONS}) == len(DEFINITIONS)
    assert "ray_clipray_stage_seconds_bucket" in exported_names()
    assert "ray_clipray_job_step_failures_total" in exported_names()
    assert "ray_clipray_jobs_in_state" in exported_names()


def test_the_dashboard_queries_only_defined_metrics():
    dash = json.loads(DASHBOARD.read_text())
    defined = exported_names()
    panels = dash["panels"]
    assert len({p["id"] for p in panels}) == len(panels)
    seen: set[str] = set()
    for p in panels:
        assert p["datasource"]["type"] == "prometheus", p["title"]
        assert {"x", "y", "w", "h"} <= set(p["gridPos"]), p["title"]
        assert p["targets"], p["title"]
        for t in p["targets"]:
            names = metric_names(t["expr"])
            assert names, (p["title"], t["expr"])
            assert names <= defined, (p["title"], names - defined)
            seen |= names
    titles = " / ".join(p["title"] for p in panels)
    for want in ("Stage duration p50", "Stage duration p95", "Render seconds per output second",
                 "Jobs by state", "Step failures by code", "Step retries by code",
                 "Job admissions by model service"):  # fmt: skip
        assert want in titles
    for metric in ("ray_clipray_stage_seconds_bucket", "ray_clipray_jobs_in_state",
                   "ray_clipray_render_seconds_per_output_second_bucket",
                   "ray_clipray_job_step_failures_total", "ray_clipray_job_step_retries_total",
                   "ray_clipray_model_admissions_total"):
        assert metric in seen, metric  # fmt: skip


def test_the_alert_rules_are_prometheus_rules_over_defined_metrics():
    doc = yaml.safe_load(ALERTS.read_text())
    assert set(doc) == {"groups"}
    defined = exported_names()
    alerts: dict[str, set[str]] = {}
    for group in doc["groups"]:
        assert set(group) <= {"name", "interval", "limit", "rules"}, group.get("name")
        assert isinstance(group["name"], str)
        assert group["rules"]
        for rule in group["rules"]:
            assert set(rule) <= {"alert", "expr", "for", "keep_firing_for", "labels",
                                 "annotations"}, rule  # fmt: skip
            assert re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", rule["alert"])
            assert _DURATION.match(str(rule["for"])), rule["alert"]
            assert all(isinstance(v, str) for v in rule["labels"].values())
            assert rule["labels"]["severity"] in {"info", "warning", "critical"}
            assert rule["annotations"]["summary"]
            names = metric_names(rule["expr"])
            assert names, rule["alert"]
            assert names <= defined, (rule["alert"], names - defined)
            alerts[rule["alert"]] = names
    assert set(alerts) == {"ClipJobStepStuck", "ClipJobStepFailureRate", "ClipRenderFailures",
                           "ClipModelQueueBehind"}  # fmt: skip
    assert alerts["ClipJobStepStuck"] == {"ray_clipray_job_step_oldest_running_seconds",
                                          "ray_clipray_job_step_timeout_seconds"}  # fmt: skip
    assert alerts["ClipModelQueueBehind"] == {"ray_clipray_model_queue_depth",
                                              "ray_clipray_model_queue_soft_limit"}  # fmt: skip
