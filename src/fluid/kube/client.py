"""The one async client to the API server: raw-dict requests, orjson bodies, retries.

Owns the HTTP session (through kubernetes-asyncio's ApiClient, for kubeconfig and
in-cluster auth) and nothing else: no caching, no logging of bodies. Every component
of the process shares one ``KubeClient`` created in the composition root (``fluid.cli``).

Hot paths never build kubernetes-asyncio models: requests go through the ApiClient's
aiohttp session with orjson-encoded bodies, and responses come back as plain dicts.
"""

from __future__ import annotations

import asyncio
import builtins
from collections.abc import AsyncIterator, Mapping
from typing import Any

import aiohttp
import orjson
import tenacity
from kubernetes_asyncio import client as k8s_client
from kubernetes_asyncio import config as k8s_config

from fluid.kube import errors
from fluid.kube.resources import Resource, resource_of

__all__ = ["FIELD_MANAGER", "KubeClient"]

FIELD_MANAGER = "fluid"
"""Server-side apply field manager for everything this project writes."""

_MERGE_PATCH = "application/merge-patch+json"
_JSON_PATCH = "application/json-patch+json"
_APPLY_PATCH = "application/apply-patch+yaml"
_TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io"
_RETRYABLE_NETWORK = (aiohttp.ClientConnectionError, asyncio.TimeoutError, ConnectionError)


def _retryable(exc: BaseException) -> bool:
    if isinstance(exc, errors.ApiError):
        return exc.retryable
    return isinstance(exc, _RETRYABLE_NETWORK)


class KubeClient:
    """Raw-dict access to any resource, with retries on throttling, 5xx, conflicts and timeouts.

    ``attempts`` bounds the retries of one call (default 5: about 3 s of backoff in
    total, enough to ride out an apiserver restart without hiding a real outage).
    """

    def __init__(
        self, api_client: k8s_client.ApiClient, *, timeout: float = 30.0, attempts: int = 5
    ) -> None:
        self._api = api_client
        self._host = str(api_client.configuration.host).rstrip("/")
        self._timeout = timeout
        self._attempts = attempts
        self._discovered: dict[tuple[str, str], Resource] = {}

    @classmethod
    async def connect(cls, kubeconfig: str | None = None, **kwargs: Any) -> KubeClient:
        """Connect with a kubeconfig file, else ``$KUBECONFIG``/``~/.kube/config``, else in-cluster."""
        configuration = k8s_client.Configuration()
        try:
            await k8s_config.load_kube_config(
                config_file=kubeconfig, client_configuration=configuration
            )
        except (k8s_config.ConfigException, FileNotFoundError, TypeError):
            if kubeconfig:
                raise
            k8s_config.load_incluster_config(  # type: ignore[no-untyped-call]
                client_configuration=configuration
            )
        configuration.connection_pool_maxsize = max(configuration.connection_pool_maxsize, 64)
        return cls(k8s_client.ApiClient(configuration), **kwargs)

    @property
    def host(self) -> str:
        return self._host

    async def close(self) -> None:
        await self._api.close()

    # -- the request primitive -------------------------------------------------------------

    async def _headers(self, content_type: str | None, accept: str) -> dict[str, str]:
        headers = {"Accept": accept}
        if content_type:
            headers["Content-Type"] = content_type
        await self._api.update_params_for_auth(headers, [], ["BearerToken"])
        return headers

    async def _request_once(
        self,
        method: str,
        path: str,
        params: Mapping[str, str] | None,
        body: bytes | None,
        content_type: str | None,
        timeout: float | None,
        accept: str,
    ) -> bytes:
        session: aiohttp.ClientSession = self._api.rest_client.pool_manager
        headers = await self._headers(content_type, accept)
        client_timeout = aiohttp.ClientTimeout(total=timeout or self._timeout)
        async with session.request(
            method, self._host + path, params=params, data=body, headers=headers,
            timeout=client_timeout, server_hostname=self._api.rest_client.server_hostname,
        ) as resp:
            payload = await resp.read()
            if resp.status >= 300:
                raise errors.from_response(resp.status, payload)
            return payload

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: bytes | None = None,
        content_type: str | None = None,
        timeout: float | None = None,
        retry: bool = True,
        accept: str = "application/json",
    ) -> bytes:
        """One HTTP call; retried with jittered exponential backoff when the error is transient."""
        if not retry:
            return await self._request_once(
                method, path, params, body, content_type, timeout, accept
            )
        retrying = tenacity.AsyncRetrying(
            retry=tenacity.retry_if_exception(_retryable),
            stop=tenacity.stop_after_attempt(self._attempts),
            wait=tenacity.wait_exponential_jitter(multiplier=0.1, max=2.0),
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                return await self._request_once(
                    method, path, params, body, content_type, timeout, accept
                )
        raise AssertionError("unreachable")  # pragma: no cover

    async def _json(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        payload = await self.request(method, path, **kwargs)
        result: dict[str, Any] = orjson.loads(payload) if payload else {}
        return result

    # -- reads -------------------------------------------------------------------------------

    async def get(self, res: Resource, name: str, namespace: str | None = None) -> dict[str, Any]:
        """The object, or ``errors.NotFound``."""
        return await self._json("GET", res.path(namespace, name))

    async def get_or_none(
        self, res: Resource, name: str, namespace: str | None = None
    ) -> dict[str, Any] | None:
        try:
            return await self.get(res, name, namespace)
        except errors.NotFound:
            return None

    async def list(
        self,
        res: Resource,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        limit: int | None = None,
        continue_token: str | None = None,
        resource_version: str | None = None,
        timeout: float | None = None,
    ) -> dict[str, Any]:
        """One page of a list, as the raw List object."""
        params: dict[str, str] = {}
        if label_selector:
            params["labelSelector"] = label_selector
        if field_selector:
            params["fieldSelector"] = field_selector
        if limit:
            params["limit"] = str(limit)
        if continue_token:
            params["continue"] = continue_token
        if resource_version is not None:
            params["resourceVersion"] = resource_version
        return await self._json("GET", res.path(namespace), params=params, timeout=timeout)

    async def list_pages(
        self, res: Resource, namespace: str | None = None, *, page_size: int = 500, **kwargs: Any
    ) -> AsyncIterator[tuple[builtins.list[dict[str, Any]], str]]:
        """Each page's items with the list's resourceVersion (final on the last page).

        Callers that cache should consume page by page, so that at most one page of full
        objects is alive at a time.
        """
        token: str | None = None
        while True:
            page = await self.list(
                res, namespace, limit=page_size, continue_token=token, **kwargs
            )
            meta = page.get("metadata") or {}
            token = meta.get("continue")
            items: builtins.list[dict[str, Any]] = page.get("items") or []
            del page
            yield items, str(meta.get("resourceVersion", ""))
            del items
            if not token:
                return

    async def list_all(
        self, res: Resource, namespace: str | None = None, *, page_size: int = 500, **kwargs: Any
    ) -> tuple[builtins.list[dict[str, Any]], str]:
        """Every item across pages, and the list's resourceVersion to watch from."""
        items: builtins.list[dict[str, Any]] = []
        resource_version = ""
        async for page, page_version in self.list_pages(
            res, namespace, page_size=page_size, **kwargs
        ):
            items.extend(page)
            resource_version = page_version
        return items, resource_version

    async def table(self, res: Resource, namespace: str | None = None) -> dict[str, Any]:
        """The server-side Table rendering (what ``kubectl get`` prints), columns included."""
        return await self._json("GET", res.path(namespace), accept=_TABLE)

    async def watch(
        self,
        res: Resource,
        namespace: str | None = None,
        *,
        resource_version: str,
        timeout_seconds: int = 300,
        label_selector: str | None = None,
        field_selector: str | None = None,
        allow_bookmarks: bool = True,
    ) -> AsyncIterator[dict[str, Any]]:
        """Watch events (``{"type", "object"}``) from ``resource_version`` until the server closes.

        ``errors.Gone`` is raised for an expired resourceVersion, whether the server answers
        410 or sends an ERROR event with code 410, so callers relist in one place.
        """
        params = {
            "watch": "true",
            "resourceVersion": resource_version,
            "timeoutSeconds": str(timeout_seconds),
            "allowWatchBookmarks": "true" if allow_bookmarks else "false",
        }
        if label_selector:
            params["labelSelector"] = label_selector
        if field_selector:
            params["fieldSelector"] = field_selector
        session: aiohttp.ClientSession = self._api.rest_client.pool_manager
        headers = await self._headers(None, "application/json")
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=timeout_seconds + 30)
        async with session.get(
            self._host + res.path(namespace), params=params, headers=headers, timeout=timeout,
            server_hostname=self._api.rest_client.server_hostname,
        ) as resp:
            if resp.status >= 300:
                raise errors.from_response(resp.status, await resp.read())
            buffer = b""
            async for chunk in resp.content.iter_any():
                buffer += chunk
                while True:
                    newline = buffer.find(b"\n")
                    if newline < 0:
                        break
                    line, buffer = buffer[:newline], buffer[newline + 1 :]
                    if line.strip():
                        yield _watch_event(line)

    async def discover(self, api_version: str, kind: str) -> Resource:
        """The Resource serving ``kind`` in ``api_version``, from the server's discovery (cached).

        For tools that apply arbitrary manifests; controllers name their Resources directly.
        """
        cache_key = (api_version, kind)
        if cache_key not in self._discovered:
            path = f"/apis/{api_version}" if "/" in api_version else f"/api/{api_version}"
            listing = await self._json("GET", path)
            for entry in listing.get("resources") or ():
                if entry.get("kind") == kind and "/" not in entry.get("name", ""):
                    group, _, version = api_version.rpartition("/")
                    self._discovered[cache_key] = Resource(
                        group, version, entry["name"], kind, bool(entry.get("namespaced"))
                    )
                    break
            else:
                raise errors.NotFound(404, "NotFound", f"no kind {kind} in {api_version}")
        return self._discovered[cache_key]

    async def apply_manifest(self, obj: dict[str, Any], *, namespace: str | None = None) -> dict[str, Any]:
        """Server-side apply of any manifest, its Resource found by discovery."""
        res = await self.discover(str(obj.get("apiVersion", "")), str(obj.get("kind", "")))
        if res.namespaced and namespace and not obj.get("metadata", {}).get("namespace"):
            obj = {**obj, "metadata": {**obj.get("metadata", {}), "namespace": namespace}}
        return await self.apply(obj, res=res)

    async def websocket(
        self, path: str, *, params: builtins.list[tuple[str, str]], protocols: tuple[str, ...]
    ) -> aiohttp.ClientWebSocketResponse:
        """A connected websocket to ``path`` (pod exec, attach), authenticated like every call.

        The caller closes it (``async with await client.websocket(...) as ws``).
        """
        session: aiohttp.ClientSession = self._api.rest_client.pool_manager
        headers = await self._headers(None, "*/*")
        return await session.ws_connect(
            self._host + path, params=params, headers=headers, protocols=protocols,
            server_hostname=self._api.rest_client.server_hostname,
        )

    # -- writes ------------------------------------------------------------------------------

    async def create(
        self, obj: dict[str, Any], *, res: Resource | None = None, dry_run: bool = False
    ) -> dict[str, Any]:
        res = res or resource_of(obj)
        namespace = (obj.get("metadata") or {}).get("namespace")
        params = {"dryRun": "All"} if dry_run else None
        return await self._json(
            "POST", res.path(namespace), body=orjson.dumps(obj), params=params,
            content_type="application/json", retry=False,
        )

    async def apply(
        self,
        obj: dict[str, Any],
        *,
        res: Resource | None = None,
        subresource: str | None = None,
        field_manager: str = FIELD_MANAGER,
        force: bool = True,
        dry_run: bool = False,
    ) -> dict[str, Any]:
        """Server-side apply of the fields we own (never a PUT of a rebuilt object)."""
        res = res or resource_of(obj)
        meta = obj.get("metadata") or {}
        params = {"fieldManager": field_manager}
        if force:
            params["force"] = "true"
        if dry_run:
            params["dryRun"] = "All"
        return await self._json(
            "PATCH", res.path(meta.get("namespace"), meta["name"], subresource),
            body=orjson.dumps(obj), params=params, content_type=_APPLY_PATCH,
        )

    async def merge_patch(
        self,
        res: Resource,
        name: str,
        namespace: str | None,
        patch: dict[str, Any],
        *,
        subresource: str | None = None,
    ) -> dict[str, Any]:
        return await self._json(
            "PATCH", res.path(namespace, name, subresource), body=orjson.dumps(patch),
            content_type=_MERGE_PATCH,
        )

    async def json_patch(
        self,
        res: Resource,
        name: str,
        namespace: str | None,
        ops: builtins.list[dict[str, Any]],
        *,
        subresource: str | None = None,
    ) -> dict[str, Any]:
        """RFC 6902 patch; put a ``test`` op first to make the write conditional."""
        return await self._json(
            "PATCH", res.path(namespace, name, subresource), body=orjson.dumps(ops),
            content_type=_JSON_PATCH, retry=False,
        )

    async def patch_status(
        self, res: Resource, name: str, namespace: str | None, status: dict[str, Any]
    ) -> dict[str, Any]:
        """Merge-patch ``status`` through the status subresource."""
        return await self.merge_patch(res, name, namespace, {"status": status}, subresource="status")

    async def replace(self, obj: dict[str, Any], *, res: Resource | None = None) -> dict[str, Any]:
        """PUT with the object's resourceVersion: only for objects read and edited whole (Leases)."""
        res = res or resource_of(obj)
        meta = obj["metadata"]
        return await self._json(
            "PUT", res.path(meta.get("namespace"), meta["name"]), body=orjson.dumps(obj),
            content_type="application/json", retry=False,
        )

    async def delete(
        self,
        res: Resource,
        name: str,
        namespace: str | None = None,
        *,
        propagation: str = "Background",
        uid: str | None = None,
    ) -> bool:
        """Delete; False when it was already gone (a missing child counts as done)."""
        options: dict[str, Any] = {"propagationPolicy": propagation}
        if uid:
            options["preconditions"] = {"uid": uid}
        try:
            await self.request(
                "DELETE", res.path(namespace, name), body=orjson.dumps(options),
                content_type="application/json",
            )
        except errors.NotFound:
            return False
        return True


def _watch_event(line: bytes) -> dict[str, Any]:
    event: dict[str, Any] = orjson.loads(line)
    if event.get("type") == "ERROR":
        status = event.get("object") or {}
        code = int(status.get("code") or 500)
        raise errors.from_response(code, orjson.dumps(status))
    return event
