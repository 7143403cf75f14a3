"""Wires the admission webhook into the controller manager: caches, certificates, the server.

Owns the ``WebhookServer`` runnable that every replica runs (not only the leader):

1. registers the shared informers the plugins read (PVCs, PVs, Datasets, every runtime
   kind, DaemonSets) and one on ConfigMaps of Fluid's namespace for the plugin profile;
2. waits for those caches (an admission answered from an empty cache would silently
   skip the mutation), then makes sure the certificate Secret is valid (``CertKeeper``),
   writes it to ``cert_dir`` and serves TLS with a reloadable context;
3. patches ``caBundle`` into the Mutating and Validating webhook configurations, and, in
   the same patch, the pod webhooks' ``objectSelector``/``matchConditions`` to match its
   serverless platform key (``--serverless-platform-key``: pods with that label must reach
   the webhook; the wanted selection is built once, at construction);
4. every ``check_interval`` seconds re-reads the Secret, rotates it when fewer than 30 days
   remain, reloads the served certificate when it changed (another replica may have
   rotated it) and re-patches ``caBundle`` and the selection when they differ (re-applied
   manifests may have reset them): one read and at most one patch per configuration.

The plugin profile is rebuilt whenever its ConfigMap changes; a plugin name it does not
know is left out, logged (``webhook_profile_plugin_unknown``) and reported as a Warning
Event ``UnknownWebhookPlugin`` on the ConfigMap.

Routes: the pod mutation path and the data.fluid.io validation path. Never reconciles and
never reads the API server per admission. Called by ``fluid.cli.controller_manager`` and
by tests; ``fluid.webhook`` does not import ``fluid.controllers`` (the context is any object
with ``client`` and ``namespace``).
"""

from __future__ import annotations

import asyncio
import datetime
import os
import ssl
import tempfile
from pathlib import Path
from typing import Any, Protocol

import attrs
import structlog

from fluid.api import kinds
from fluid.kube import KubeClient, errors, resources
from fluid.kube.events import WARNING, EventRecorder, EventSink
from fluid.reconcile.informer import Informer
from fluid.reconcile.manager import Manager
from fluid.webhook import (
    admission,
    certs,
    configuration,
    datasets,
    mutation,
    profile,
    server,
    validation,
)
from fluid.webhook.plugins import file_prefetcher

__all__ = ["WebhookConfig", "WebhookServer", "setup"]

log = structlog.get_logger(__name__)


class _Context(Protocol):
    @property
    def client(self) -> KubeClient: ...

    @property
    def namespace(self) -> str: ...


@attrs.frozen(kw_only=True)
class WebhookConfig:
    """Where and how the webhook serves; the defaults match ``manifests/webhook``."""

    host: str = "0.0.0.0"
    port: int = 9443
    """9443 as upstream; 0 picks a free port (tests)."""
    service_name: str = "fluid-pod-admission-webhook"
    """The Service in front of the replicas; its DNS names go into the certificate."""
    cert_secret: str = "fluid-webhook-certs"
    mutating_configs: tuple[str, ...] = ("fluid-pod-admission-webhook",)
    validating_configs: tuple[str, ...] = ("fluid-validating-webhook",)
    plugins_configmap: str = "webhook-plugins"
    check_interval: float = 600.0
    """Seconds between certificate checks: rotation needs days of notice, reload minutes."""
    cert_dir: Path | None = None
    """Where the PEM files are written for the TLS context; a private temp dir when None."""
    rotate_before: datetime.timedelta = certs.ROTATE_BEFORE
    leaf_validity: datetime.timedelta = certs.LEAF_VALIDITY
    serverless_platform_key: str = ""
    """A pod label key (upstream's ``KEY_SERVERLESS_PLATFORM``) whose presence, any value,
    asks for serverless injection; "" (upstream's default) for none."""
    file_prefetcher_image: str = ""
    """The ``FilePrefetcher`` plugin's default image (``FILE_PREFETCHER_IMAGE``); "" for none."""

    def plugin_defaults(self) -> dict[str, dict[str, Any]]:
        """Plugin args the operator configured; the profile's own args override them."""
        if not self.file_prefetcher_image:
            return {}
        return {file_prefetcher.NAME: {"image": self.file_prefetcher_image}}


class _ProfileWatch:
    """Rebuilds the plugin chains when the profile ConfigMap changes; keeps the last good one."""

    def __init__(
        self, name: str, *, defaults: dict[str, dict[str, Any]] | None = None,
        events: EventSink | None = None,
    ) -> None:
        self._name = name
        self._defaults = defaults or {}
        self._events = events
        self._pending: set[asyncio.Task[None]] = set()
        self.current = profile.parse(profile.DEFAULT_PROFILE, defaults=self._defaults)
        self._text: str | None = None

    def __call__(self) -> profile.Profile:
        return self.current

    def _load(self, obj: dict[str, Any] | None) -> None:
        text = ((obj or {}).get("data") or {}).get(profile.CONFIGMAP_KEY)
        if text == self._text:
            return
        try:
            self.current = profile.parse(text if text is not None else profile.DEFAULT_PROFILE,
                                         defaults=self._defaults)
        except profile.ProfileError as exc:
            log.error("webhook_profile_invalid", configmap=self._name, error=str(exc))
            return
        self._text = text
        log.info("webhook_profile_loaded", configmap=self._name, default=text is None)
        if obj is not None and self.current.unknown:
            self._report_unknown(obj, self.current.unknown)

    def _report_unknown(self, obj: dict[str, Any], unknown: tuple[tuple[str, str], ...]) -> None:
        for chain, plugin in unknown:
            log.warning("webhook_profile_plugin_unknown", configmap=self._name, chain=chain,
                        plugin=plugin)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # called outside the event loop (unit tests): the log is the report
            return
        if self._events is None:
            return
        names = ", ".join(f"{plugin} (in {chain})" for chain, plugin in unknown)
        message = (f"webhook plugins unknown to this Fluid were left out, the rest of the "
                   f"profile applies: {names}")
        configmap = {**obj, "apiVersion": "v1", "kind": "ConfigMap"}  # list items carry no kind
        task = loop.create_task(self._events.record(configmap, WARNING, "UnknownWebhookPlugin", message))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    def _mine(self, obj: dict[str, Any]) -> bool:
        return bool((obj.get("metadata") or {}).get("name") == self._name)

    def on_add(self, obj: dict[str, Any]) -> None:
        if self._mine(obj):
            self._load(obj)

    def on_update(self, old: dict[str, Any], new: dict[str, Any]) -> None:
        if self._mine(new):
            self._load(new)

    def on_delete(self, obj: dict[str, Any]) -> None:
        if self._mine(obj):
            self._load(None)


def _write(directory: Path, bundle: certs.Bundle) -> tuple[Path, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = directory / "tls.crt", directory / "tls.key"
    cert_path.write_bytes(bundle.cert)
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(bundle.key)
    return cert_path, key_path


class WebhookServer:
    """The Manager runnable serving admission reviews on this replica."""

    def __init__(self, manager: Manager, context: _Context, config: WebhookConfig) -> None:
        self.config = config
        self._client = context.client
        self._informers: list[Informer] = []
        self.caches = self._register_caches(manager)
        self.profile = _ProfileWatch(config.plugins_configmap, defaults=config.plugin_defaults(),
                                     events=EventRecorder(context.client, "fluid-webhook"))
        profiles = manager.informer(resources.CONFIGMAPS, namespace=context.namespace)
        profiles.add_handler(self.profile)
        self._informers.append(profiles)
        self.keeper = certs.CertKeeper(
            client=context.client, namespace=context.namespace, secret_name=config.cert_secret,
            names=certs.serving_names(config.service_name, context.namespace),
            mutating=config.mutating_configs, validating=config.validating_configs,
            rotate_before=config.rotate_before, leaf_validity=config.leaf_validity,
            mutating_changes=configuration.selection_changes(platform_key=config.serverless_platform_key),
        )
        self._cert_dir = config.cert_dir or Path(tempfile.mkdtemp(prefix="fluid-webhook-"))
        self._tls: ssl.SSLContext | None = None
        self._served: bytes = b""
        self.port: int | None = None
        self.serving = asyncio.Event()

    def _register_caches(self, manager: Manager) -> datasets.Caches:
        def cache(res: resources.Resource) -> Informer:
            informer = manager.informer(res)
            self._informers.append(informer)
            return informer

        runtimes = {info.runtime_type: cache(info.resource).store
                    for info in kinds.RUNTIMES if info.runtime_type}
        self._kind_stores = {info.kind: cache(info.resource).store
                             for info in (kinds.DATASET, *kinds.RUNTIMES)}
        return datasets.Caches(
            pvcs=cache(resources.PERSISTENT_VOLUME_CLAIMS).store,
            datasets=self._kind_stores[kinds.DATASET.kind],
            runtimes=runtimes,
            pvs=cache(resources.PERSISTENT_VOLUMES).store,
            daemonsets=cache(resources.DAEMONSETS).store,
        )

    def _lookup(self) -> validation.Lookup:
        """Datasets and runtimes from the caches; other kinds (rare) from the API server."""
        fallback = admission.kube_lookup(self._client)

        async def lookup(kind: str, namespace: str, name: str) -> dict[str, Any] | None:
            store = self._kind_stores.get(kind)
            if store is None:
                return await fallback(kind, namespace, name)
            return store.get(f"{namespace}/{name}" if namespace else name)

        return lookup

    def routes(self) -> dict[str, admission.ReviewHandler]:
        routes = server.validating_routes(lookup=self._lookup())
        routes[mutation.MUTATE_PATH] = mutation.mutating_handler(
            profile=self.profile, caches=self.caches, platform_key=self.config.serverless_platform_key)
        return routes

    async def run(self) -> None:
        """Serve until cancelled (the Manager cancels runnables at shutdown)."""
        await asyncio.gather(*(i.wait_for_sync() for i in self._informers))
        bundle = await self.keeper.ensure()
        self._load(bundle)
        assert self._tls is not None
        running = await server.serve(server.build_server(self.routes()), host=self.config.host,
                                     port=self.config.port, ssl_context=self._tls)
        self.port = running.port
        try:
            await self._patch_ca(bundle)
            self.serving.set()
            while True:
                await asyncio.sleep(self.config.check_interval)
                await self.check()
        finally:
            self.serving.clear()
            await running.stop()
            log.info("webhook_stopped", port=self.port)

    async def check(self) -> None:
        """One round of: rotate if needed, reload if the Secret changed, re-patch the configurations."""
        try:
            bundle = await self.keeper.ensure()
            if bundle.cert != self._served:
                self._load(bundle)
                log.info("webhook_cert_reloaded",
                         not_after=bundle.leaf().not_valid_after_utc.isoformat())
            await self._patch_ca(bundle)
        except (errors.ApiError, OSError, RuntimeError) as exc:
            log.warning("webhook_cert_check_failed", error=str(exc))

    async def _patch_ca(self, bundle: certs.Bundle) -> None:
        try:
            await self.keeper.patch_ca_bundles(bundle)
        except errors.ApiError as exc:  # e.g. a concurrent patch from another replica
            log.warning("webhook_ca_bundle_patch_failed", error=str(exc))

    def _load(self, bundle: certs.Bundle) -> None:
        cert_path, key_path = _write(self._cert_dir, bundle)
        if self._tls is None:
            self._tls = server.tls_context(cert_path, key_path)
        else:
            self._tls.load_cert_chain(str(cert_path), str(key_path))
        self._served = bundle.cert


def setup(manager: Manager, context: _Context, *, config: WebhookConfig | None = None) -> WebhookServer:
    """Register the webhook server (every replica) and the caches its plugins read."""
    webhook = WebhookServer(manager, context, config or WebhookConfig())
    manager.add_runnable("webhook", webhook.run)
    return webhook
