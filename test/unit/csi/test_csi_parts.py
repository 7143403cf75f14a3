"""The small parts: state records, keyed locks, pod UIDs from paths, the command line."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from fluid.cli import csi as cli
from fluid.csi import events, locks, server, state


def _write(path: str, text: str) -> None:
    Path(path).write_text(text)


def _staged(volume_id: str, label: str = "fluid.io/f-a-b") -> state.StagedVolume:
    return state.StagedVolume(
        volume_id=volume_id, staging_target_path="/s", label_key=label,
        dataset_namespace="a", dataset_name="b", fluid_path="/r/a/b/f",
    )


def test_state_records_round_trip_and_survive_a_new_store(tmp_path: Path) -> None:
    store = state.StateStore(tmp_path)
    store.put_staged(_staged("v/with:odd chars"))
    published = state.PublishedVolume(
        volume_id="v", target_path="/t", source="/r/a/b/f/sub", fluid_path="/r/a/b/f",
        readonly=True, require_mount_point=False,
    )
    store.put_published(published)
    again = state.StateStore(tmp_path)
    assert again.get_staged("v/with:odd chars") == _staged("v/with:odd chars")
    assert again.published() == [published]
    again.drop_staged("v/with:odd chars")
    again.drop_staged("v/with:odd chars")
    assert again.staged() == []


def test_an_unreadable_record_is_skipped(tmp_path: Path) -> None:
    store = state.StateStore(tmp_path)
    store.put_staged(_staged("good"))
    (tmp_path / "staged" / "junk.json").write_text("{not json")
    assert [s.volume_id for s in store.staged()] == ["good"]


async def test_keyed_lock_serialises_one_key_only() -> None:
    keyed = locks.KeyedLock()
    order: list[str] = []

    async def hold(key: str, name: str, pause: float) -> None:
        async with keyed.hold(key):
            order.append(f"{name}+")
            await asyncio.sleep(pause)
            order.append(f"{name}-")

    await asyncio.gather(hold("v1", "a", 0.05), hold("v1", "b", 0), hold("v2", "c", 0))
    assert order.index("a-") < order.index("b+")  # same key: b waits for a
    assert order.index("c+") < order.index("a-")  # other key: c does not
    assert len(keyed) == 0


@pytest.mark.parametrize(
    ("path", "uid"),
    [
        ("/var/lib/kubelet/pods/0c9d7c57-6a0e-4b8f-9d7e-0e6c3f2b1a90/volumes/"
         "kubernetes.io~csi/default-demo/mount", "0c9d7c57-6a0e-4b8f-9d7e-0e6c3f2b1a90"),
        ("/data/kubelet/pods/0c9d7c57-6a0e-4b8f-9d7e-0e6c3f2b1a90/volume-subpaths/"
         "default-demo/app/0", "0c9d7c57-6a0e-4b8f-9d7e-0e6c3f2b1a90"),
        ("/mnt/somewhere/else", None),
    ],
)
def test_pod_uid_of(path: str, uid: str | None) -> None:
    assert events.pod_uid_of(path) == uid


def test_cli_needs_a_node_id(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NODE_ID", raising=False)
    with pytest.raises(SystemExit):
        cli.parse_args([])
    monkeypatch.setenv("NODE_ID", "node-7")
    settings = cli.settings_from_args(cli.parse_args(["--no-kube-api", "--state-dir", "/x"]))
    assert settings.node_id == "node-7"
    assert settings.kube_api is False
    assert settings.state_dir == Path("/x")
    assert settings.endpoint == "unix:///var/lib/kubelet/csi-plugins/fuse.csi.fluid.io/csi.sock"
    monkeypatch.delenv("FLUID_CSI_STATE_DIR", raising=False)
    derived = cli.settings_from_args(cli.parse_args(["--endpoint", "unix:///csi/csi.sock"]))
    assert derived.state_dir == Path("/csi/state")


@pytest.mark.parametrize(
    ("endpoint", "path"),
    [("unix:///csi/csi.sock", "/csi/csi.sock"), ("unix:/csi/csi.sock", "/csi/csi.sock"),
     ("/csi/csi.sock", "/csi/csi.sock")],
)
def test_socket_path(endpoint: str, path: str) -> None:
    assert server.socket_path(endpoint) == path


def test_socket_path_must_be_absolute() -> None:
    with pytest.raises(ValueError, match="absolute"):
        server.socket_path("unix://relative.sock")


async def test_serve_replaces_a_stale_socket_answers_and_stops(tmp_path: Path) -> None:
    import shutil
    import tempfile

    import grpc

    from fluid.csi import fake
    from fluid.csi.proto import csi_pb2, csi_pb2_grpc

    socket_dir = tempfile.mkdtemp(prefix="csi-", dir="/tmp")
    path = f"{socket_dir}/csi.sock"
    _write(path, "left over by a crashed plugin")
    settings = server.CsiSettings(
        endpoint=f"unix://{path}", node_id="node-a", state_dir=tmp_path / "state",
        kube_api=False, recovery_period=0.05, grace=1.0,
    )
    stop = asyncio.Event()
    serving = asyncio.ensure_future(server.serve(settings, mounter=fake.FakeMounter(), stop=stop))
    channel = grpc.aio.insecure_channel(f"unix://{path}")
    try:
        await asyncio.wait_for(channel.channel_ready(), 10)
        info = await csi_pb2_grpc.NodeStub(channel).NodeGetInfo(csi_pb2.NodeGetInfoRequest())
        assert info.node_id == "node-a"
        probe = await csi_pb2_grpc.IdentityStub(channel).Probe(csi_pb2.ProbeRequest())
        assert probe.ready.value is True
    finally:
        stop.set()
        await asyncio.wait_for(serving, 10)
        await channel.close()
        shutil.rmtree(socket_dir)
