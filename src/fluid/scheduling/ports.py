"""Host ports for HostNetwork runtimes: a bitmap over a configured range, rebuilt from the cluster.

Owns which port of the range (default 20000-26000, as the upstream chart sets it) belongs
to which runtime. Ports are handed out per owner (``<kind>/<ns>/<name>``) and by name
(``master-rpc``, ``worker-web``, ...); asking again for an owner returns what it already
holds, so a reconcile that runs twice never leaks. ``release`` at Shutdown frees them.

The bitmap is process state, so it must be rebuildable: every engine records its ports in
its values ConfigMap (label ``PORTS_LABEL``, key ``PORTS_KEY``) and the allocator reloads
those records on first use (``load_from_cluster``). Never talks to the API server except
through that loader; never decides *whether* a runtime needs ports (engines do).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence

import attrs
import structlog

from fluid.kube import KubeClient, resources

__all__ = [
    "DEFAULT_RANGE",
    "PORTS_KEY",
    "PORTS_LABEL",
    "PORTS_OWNER_ANNOTATION",
    "PortAllocator",
    "PortRange",
    "PortsExhausted",
    "format_ports",
    "load_from_cluster",
    "owner_key",
    "parse_ports",
    "records_from_configmaps",
]

log = structlog.get_logger(__name__)

PORTS_LABEL = "fluid.io/host-ports"
"""On a runtime's values ConfigMap (value ``true``): it records host ports."""
PORTS_OWNER_ANNOTATION = "fluid.io/host-ports-owner"
"""On the same ConfigMap: the owner key ``<kind>/<ns>/<name>`` holding the ports."""
PORTS_KEY = "ports"
"""Data key holding ``name=port,name=port`` in that ConfigMap."""


class PortsExhausted(RuntimeError):
    """The range has fewer free ports than a runtime asked for."""


@attrs.frozen
class PortRange:
    """Inclusive ``low``-``high``; parsed from ``"20000-26000"``."""

    low: int
    high: int

    def __attrs_post_init__(self) -> None:
        if not 0 < self.low <= self.high < 65536:
            raise ValueError(f"bad port range {self.low}-{self.high}")

    @classmethod
    def parse(cls, text: str) -> PortRange:
        low, _, high = text.partition("-")
        return cls(int(low), int(high or low))

    @property
    def size(self) -> int:
        return self.high - self.low + 1


DEFAULT_RANGE = PortRange(20000, 26000)

Loader = Callable[[], Awaitable[Mapping[str, Mapping[str, int]]]]
"""Returns owner -> {name: port} for every runtime that holds ports in the cluster."""


def format_ports(ports: Mapping[str, int]) -> str:
    return ",".join(f"{name}={port}" for name, port in sorted(ports.items()))


def parse_ports(text: str) -> dict[str, int]:
    """The inverse of ``format_ports``; malformed entries are skipped."""
    result: dict[str, int] = {}
    for item in text.split(","):
        name, sep, port = item.strip().partition("=")
        if sep and port.isdigit():
            result[name] = int(port)
    return result


class PortAllocator:
    """A bitmap (a bytearray, one byte per port) plus who holds what; one per process."""

    def __init__(self, port_range: PortRange = DEFAULT_RANGE, *, loader: Loader | None = None) -> None:
        self.range = port_range
        self._used = bytearray(port_range.size)
        self._owners: dict[str, dict[str, int]] = {}
        self._loader = loader
        self._loaded = loader is None
        self._lock = asyncio.Lock()
        self._next = 0
        """Where the next search starts, so a just-released port is not reused at once."""

    # -- queries ---------------------------------------------------------------------------

    @property
    def free(self) -> int:
        return self.range.size - sum(self._used)

    def held_by(self, owner: str) -> dict[str, int]:
        return dict(self._owners.get(owner, {}))

    def owners(self) -> list[str]:
        return sorted(self._owners)

    # -- changes -----------------------------------------------------------------------------

    async def allocate(self, owner: str, names: Sequence[str]) -> dict[str, int]:
        """Ports for ``names``; what ``owner`` already holds is kept, the rest is new."""
        async with self._lock:
            await self._ensure_loaded()
            held = self._owners.setdefault(owner, {})
            missing = [n for n in names if n not in held]
            if len(missing) > self.free:
                if not held:
                    del self._owners[owner]
                raise PortsExhausted(
                    f"{owner} needs {len(missing)} host ports but only {self.free} of "
                    f"{self.range.low}-{self.range.high} are free"
                )
            for name in missing:
                held[name] = self._take()
            if missing:
                log.info("ports_allocated", owner=owner, ports=format_ports(held))
            return {name: held[name] for name in names}

    async def release(self, owner: str) -> dict[str, int]:
        """Free everything ``owner`` holds; returns what was freed (empty when nothing)."""
        async with self._lock:
            await self._ensure_loaded()
            held = self._owners.pop(owner, {})
            for port in held.values():
                self._used[port - self.range.low] = 0
            if held:
                log.info("ports_released", owner=owner, count=len(held))
            return held

    def reserve(self, owner: str, ports: Mapping[str, int]) -> None:
        """Mark ports as held (rebuild); ports outside the range are ignored."""
        held = self._owners.setdefault(owner, {})
        for name, port in ports.items():
            if self.range.low <= port <= self.range.high:
                self._used[port - self.range.low] = 1
                held[name] = port
        if not held:
            del self._owners[owner]

    def rebuild(self, records: Mapping[str, Mapping[str, int]]) -> None:
        """Forget everything and take ``records`` (owner -> ports) as the truth."""
        self._used = bytearray(self.range.size)
        self._owners.clear()
        for owner, ports in records.items():
            self.reserve(owner, ports)
        self._loaded = True

    async def _ensure_loaded(self) -> None:
        if self._loaded or self._loader is None:
            return
        records = await self._loader()
        self.rebuild(records)
        log.info("ports_rebuilt", owners=len(records), used=self.range.size - self.free)

    def _take(self) -> int:
        size = self.range.size
        for step in range(size):
            index = (self._next + step) % size
            if not self._used[index]:
                self._used[index] = 1
                self._next = (index + 1) % size
                return self.range.low + index
        raise PortsExhausted("no free port")  # pragma: no cover - checked by the caller


def owner_key(kind: str, namespace: str, name: str) -> str:
    return f"{kind}/{namespace}/{name}"


def records_from_configmaps(configmaps: Iterable[Mapping[str, object]]) -> dict[str, dict[str, int]]:
    """owner -> ports from values ConfigMaps carrying ``PORTS_LABEL``."""
    records: dict[str, dict[str, int]] = {}
    for cm in configmaps:
        meta = cm.get("metadata")
        data = cm.get("data")
        if not isinstance(meta, Mapping) or not isinstance(data, Mapping):
            continue
        owner = (meta.get("annotations") or {}).get(PORTS_OWNER_ANNOTATION)
        text = data.get(PORTS_KEY)
        if owner and isinstance(text, str):
            records.setdefault(str(owner), {}).update(parse_ports(text))
    return records


def load_from_cluster(client: KubeClient) -> Loader:
    """A loader listing the ports records of every namespace."""

    async def load() -> Mapping[str, Mapping[str, int]]:
        items, _ = await client.list_all(resources.CONFIGMAPS, label_selector=PORTS_LABEL)
        return records_from_configmaps(items)

    return load

