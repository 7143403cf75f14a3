"""The generated manifests are current, and the configurations scope the webhook tightly."""

from __future__ import annotations

from pathlib import Path

import yaml

from fluid.webhook import configuration

MANIFESTS = Path(__file__).resolve().parents[3] / "manifests" / "webhook"


def test_manifests_are_up_to_date() -> None:
    for name, text in configuration.render().items():
        path = MANIFESTS / name
        assert path.exists(), f"{path} missing: run python -m fluid.webhook.configuration"
        assert path.read_text() == text, f"{path} is stale: run python -m fluid.webhook.configuration"


def test_plugin_configmap_is_the_default_profile() -> None:
    cm = yaml.safe_load((MANIFESTS / "plugins-configmap.yaml").read_text())
    assert cm["data"]["pluginsProfile"] == configuration.profile.DEFAULT_PROFILE


def test_failure_policies_and_scoping() -> None:
    serverful, serverless = configuration.mutating_configuration()["webhooks"]
    assert serverful["failurePolicy"] == "Ignore"
    assert serverless["failurePolicy"] == "Fail"
    for webhook in (serverful, serverless):
        assert webhook["rules"][0]["operations"] == ["CREATE"]
        assert webhook["timeoutSeconds"] <= 10
        assert webhook["matchConditions"], "pods without datasets must be filtered in the API server"
        excluded = webhook["namespaceSelector"]["matchExpressions"][0]["values"]
        assert "kube-system" in excluded
    local = configuration.mutating_configuration(url="https://127.0.0.1:1234", ca_bundle="Q0E=")
    client = local["webhooks"][0]["clientConfig"]
    assert client == {"url": "https://127.0.0.1:1234/mutate-fluid-io-v1alpha1-schedulepod",
                      "caBundle": "Q0E="}
