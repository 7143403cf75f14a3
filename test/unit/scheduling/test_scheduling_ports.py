"""The host-port allocator: idempotent per owner, no leaks, exhaustion, rebuild from records."""

from __future__ import annotations

import random

import pytest

from fluid.scheduling.ports import (
    PORTS_KEY,
    PORTS_LABEL,
    PORTS_OWNER_ANNOTATION,
    PortAllocator,
    PortRange,
    PortsExhausted,
    format_ports,
    parse_ports,
    records_from_configmaps,
)

NAMES = ["master-rpc", "master-web", "worker-rpc", "worker-web", "job-master-rpc",
         "job-master-web", "job-worker-rpc", "job-worker-data", "job-worker-web"]


async def test_thousand_create_delete_cycles_leak_nothing() -> None:
    allocator = PortAllocator(PortRange(20000, 20099))
    rng = random.Random(4)
    live: dict[str, dict[str, int]] = {}
    for cycle in range(1000):
        owner = f"AlluxioRuntime/ns/r{cycle}"
        live[owner] = await allocator.allocate(owner, NAMES)
        if len(live) > 5 or rng.random() < 0.5:
            victim = rng.choice(sorted(live))
            assert await allocator.release(victim) == live.pop(victim)
        in_use = [p for ports in live.values() for p in ports.values()]
        assert len(in_use) == len(set(in_use)), "a port was handed out twice"
        assert allocator.free == 100 - len(in_use)
    for owner in list(live):
        await allocator.release(owner)
    assert allocator.free == 100
    assert allocator.owners() == []


async def test_allocate_is_idempotent_and_keeps_what_an_owner_holds() -> None:
    allocator = PortAllocator(PortRange(20000, 20010))
    first = await allocator.allocate("o", ["a", "b"])
    again = await allocator.allocate("o", ["a", "b"])
    more = await allocator.allocate("o", ["a", "b", "c"])
    assert first == again
    assert {k: more[k] for k in ("a", "b")} == first
    assert allocator.free == 11 - 3


async def test_exhaustion_is_refused_without_partial_allocation() -> None:
    allocator = PortAllocator(PortRange(20000, 20004))
    await allocator.allocate("big", ["1", "2", "3"])
    with pytest.raises(PortsExhausted, match="needs 3 host ports but only 2"):
        await allocator.allocate("other", ["a", "b", "c"])
    assert allocator.held_by("other") == {}
    assert allocator.free == 2


async def test_released_ports_are_not_reused_at_once() -> None:
    allocator = PortAllocator(PortRange(20000, 20009))
    held = await allocator.allocate("a", ["x"])
    await allocator.release("a")
    again = await allocator.allocate("b", ["x"])
    assert again["x"] != held["x"]


async def test_rebuild_from_configmap_records_on_first_use() -> None:
    configmaps = [
        {"metadata": {"name": "demo-alluxio-values", "namespace": "ns",
                      "labels": {PORTS_LABEL: "true"},
                      "annotations": {PORTS_OWNER_ANNOTATION: "AlluxioRuntime/ns/demo"}},
         "data": {PORTS_KEY: "master-rpc=20000,master-web=20001,worker-rpc=30000"}},
        {"metadata": {"name": "unrelated", "namespace": "ns"}, "data": {"x": "y"}},
    ]
    records = records_from_configmaps(configmaps)
    assert records == {"AlluxioRuntime/ns/demo": {"master-rpc": 20000, "master-web": 20001,
                                                   "worker-rpc": 30000}}

    loads = 0

    async def loader() -> dict[str, dict[str, int]]:
        nonlocal loads
        loads += 1
        return records

    allocator = PortAllocator(PortRange(20000, 20005), loader=loader)
    new = await allocator.allocate("AlluxioRuntime/ns/other", ["a", "b"])
    assert set(new.values()) == {20002, 20003}
    assert allocator.held_by("AlluxioRuntime/ns/demo") == {"master-rpc": 20000, "master-web": 20001}
    await allocator.allocate("AlluxioRuntime/ns/third", ["c"])
    assert loads == 1


def test_port_strings_round_trip() -> None:
    ports = {"worker-rpc": 20004, "master-rpc": 20000}
    assert format_ports(ports) == "master-rpc=20000,worker-rpc=20004"
    assert parse_ports(format_ports(ports)) == ports
    assert parse_ports("junk,a=1,b=x") == {"a": 1}


def test_port_range_parse_and_validation() -> None:
    assert PortRange.parse("20000-26000").size == 6001
    with pytest.raises(ValueError, match="bad port range"):
        PortRange(30000, 20000)
