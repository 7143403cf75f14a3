"""Helpers for the CSI integration tests: a private mount namespace, FUSE servers, the plugin.

``MountNamespace`` holds a private mount namespace open with ``unshare -m --propagation
private sleep``; processes join it with ``nsenter -m`` and the test reads paths inside it
through ``/proc/<pid>/root``. Nothing mounted there is visible to the host, and it all
goes away when the namespace's last process exits. ``PluginProcess`` runs the real
``fluid-csi`` (``python -m fluid.cli.csi``, or ``csi_plugin_launcher.py`` to choose how
read-only binds are made) in that namespace (or outside one), on a socket the test reaches
with real gRPC. ``MountinfoWatcher`` polls a namespace's mount table from its own process.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import grpc
import pytest

from fluid.csi.proto import csi_pb2, csi_pb2_grpc

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
CAP_SYS_ADMIN = 21


def _has_cap_sys_admin() -> bool:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("CapEff:"):
            return bool(int(line.split()[1], 16) >> CAP_SYS_ADMIN & 1)
    return False


def require_mount_privileges(*, fuse: bool = False) -> None:
    """Skip (fail in CI) unless this process may create mount namespaces (and FUSE mounts)."""
    missing = []
    if os.geteuid() != 0 or not _has_cap_sys_admin():
        missing.append("root with CAP_SYS_ADMIN")
    for tool in ("unshare", "nsenter", "mount", "umount"):
        if shutil.which(tool) is None:
            missing.append(tool)
    if fuse:
        if not os.path.exists("/dev/fuse"):
            missing.append("/dev/fuse")
        if shutil.which("bindfs") is None or shutil.which("fusermount3") is None:
            missing.append("bindfs and fuse3 (apt-get install -y bindfs fuse3)")
    if not missing:
        return
    reason = "mount tests need " + ", ".join(missing)
    if os.environ.get("CI"):
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


class MountNamespace:
    """A private mount namespace kept alive by a sleeping process.

    With ``copy_of``, a copy of that namespace instead, propagation unchanged: a mount
    made under one of its shared mounts shows up here too, as a mount made in a CSI
    plugin's container under the kubelet's Bidirectional ``pods`` directory shows up in
    the kubelet's namespace.
    """

    def __init__(self, *, copy_of: MountNamespace | None = None) -> None:
        propagation = "unchanged" if copy_of else "private"
        command = ["unshare", "--mount", "--propagation", propagation, "sleep", "infinity"]
        self._holder = subprocess.Popen(
            copy_of.argv(*command) if copy_of else command, stdin=subprocess.DEVNULL,
        )
        self.pid = self._holder.pid
        self._wait_for_own_namespace(
            os.readlink(f"/proc/{copy_of.pid}/ns/mnt") if copy_of else None
        )

    def _wait_for_own_namespace(self, origin: str | None) -> None:
        mine = os.readlink("/proc/self/ns/mnt")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if os.readlink(f"/proc/{self.pid}/ns/mnt") not in (mine, origin):
                    return
            except FileNotFoundError:
                pass
            if self._holder.poll() is not None:
                raise RuntimeError(f"unshare exited with {self._holder.returncode}")
            time.sleep(0.01)
        raise RuntimeError("unshare did not enter a new mount namespace")

    def argv(self, *command: str) -> list[str]:
        return ["nsenter", "-t", str(self.pid), "-m", "--", *command]

    def run(self, *command: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.argv(*command), capture_output=True, text=True, timeout=timeout, check=False
        )

    def path(self, inside: str) -> str:
        """``inside`` as seen from the namespace, reachable from the test process."""
        return f"/proc/{self.pid}/root{inside}"

    def mountinfo(self) -> str:
        return Path(f"/proc/{self.pid}/mountinfo").read_text()

    def writes_fail_read_only(self, directory: str) -> bool:
        """Creating a file in ``directory`` (inside the namespace) fails with EROFS."""
        result = self.run("sh", "-c", f"echo x > {directory}/new.txt")
        return result.returncode != 0 and "Read-only file system" in result.stderr

    def entries_at(self, path: str) -> list[list[str]]:
        """The mountinfo lines (split in fields) of the mounts at ``path``."""
        return [ln.split(" ") for ln in self.mountinfo().splitlines() if ln.split(" ")[4] == path]

    def mount_points(self) -> list[str]:
        return [line.split(" ")[4] for line in self.mountinfo().splitlines()]

    def close(self) -> None:
        self._holder.kill()
        self._holder.wait(timeout=10)


POD = "0c9d7c57-6a0e-4b8f-9d7e-0e6c3f2b1a90"
OTHER_POD = "7f3e2d1c-0b9a-4876-8543-210fedcba987"


class Layout:
    """The host paths of one test: the dataset, the FUSE mount point, kubelet paths."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.data = workdir / "data"
        self.fluid_path = str(workdir / "runtime-mnt" / "thin" / "default" / "demo" / "thin-fuse")
        self.staging = str(workdir / "kubelet" / "plugins" / "csi" / "pv" / "globalmount")
        (self.data / "train").mkdir(parents=True)
        (self.data / "hello.txt").write_text("hello from the dataset\n")
        (self.data / "train" / "part-0").write_text("rows\n")

    def target(self, pod: str = POD) -> str:
        return str(
            self.workdir / "kubelet" / "pods" / pod / "volumes" / "kubernetes.io~csi"
            / "default-demo" / "mount"
        )

    def context(self, **extra: str) -> dict[str, str]:
        return {
            "fluid_path": self.fluid_path, "mount_type": "fuse", "runtime_namespace": "default",
            "runtime_name": "demo", **extra,
        }


class Bindfs:
    """A real FUSE filesystem (bindfs mirroring a directory), run in the namespace.

    Foreground (``-f``) so that killing the Popen kills the FUSE server itself.
    """

    def __init__(self, namespace: MountNamespace, *, source: str, mount_point: str) -> None:
        self._ns = namespace
        self.source = source
        self.mount_point = mount_point
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        os.makedirs(self.mount_point, exist_ok=True)
        self.process = subprocess.Popen(
            self._ns.argv("bindfs", "-f", self.source, self.mount_point),
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        wait_for(lambda: self.mount_point in self._ns.mount_points(), what="bindfs to mount")

    def kill(self) -> None:
        """SIGKILL the FUSE server: its mount stays behind, dead (ENOTCONN)."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)
        self.process = None

    def restart(self) -> None:
        """What a FUSE pod does when it comes back: clear the dead mount, mount again."""
        self._ns.run("umount", self.mount_point)
        self.start()

    def stop(self) -> None:
        if self.process is not None:
            self.kill()
        self._ns.run("umount", "-l", self.mount_point)


class PluginProcess:
    """``fluid-csi`` as a process (in a mount namespace when given one)."""

    def __init__(
        self, *, workdir: Path, node_id: str, namespace: MountNamespace | None = None,
        kubeconfig: str | None = None, extra: tuple[str, ...] = (),
        readonly_bind: str | None = None,
    ) -> None:
        self.socket = str(workdir / "csi.sock")
        self.log_path = workdir / "plugin.log"
        # readonly_bind: serve through csi_plugin_launcher.py with that LinuxMounter mode.
        program = (
            [str(HERE / "csi_plugin_launcher.py"), "--readonly-bind", readonly_bind]
            if readonly_bind else ["-m", "fluid.cli.csi"]
        )
        command = [
            sys.executable, *program, "--endpoint", f"unix://{self.socket}",
            "--node-id", node_id, "--state-dir", str(workdir / "state"), "--log-json",
            "--log-level", "debug", "--recovery-period", "0.2", "--stage-timeout", "5",
            "--publish-timeout", "3", "--grace", "5",
            *(["--kubeconfig", kubeconfig] if kubeconfig else ["--no-kube-api"]), *extra,
        ]
        env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            namespace.argv(*command) if namespace else command, env=env,
            stdin=subprocess.DEVNULL, stdout=self._log, stderr=self._log,
        )
        self.channel = grpc.aio.insecure_channel(f"unix://{self.socket}")
        self.node = csi_pb2_grpc.NodeStub(self.channel)
        self.identity = csi_pb2_grpc.IdentityStub(self.channel)

    async def ready(self, timeout: float = 30) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not exists(self.socket):
            if self.process.poll() is not None:
                raise RuntimeError(f"fluid-csi exited early:\n{self.logs()}")
            if loop.time() > deadline:
                raise RuntimeError(f"fluid-csi did not create its socket:\n{self.logs()}")
            await asyncio.sleep(0.05)
        await asyncio.wait_for(self.channel.channel_ready(), deadline - loop.time())

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")

    async def stop(self) -> int:
        """SIGTERM, as the kubelet does; returns the exit code."""
        await self.channel.close()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            code = await asyncio.to_thread(self.process.wait, 20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait()
        self._log.close()
        return code


@contextlib.asynccontextmanager
async def running_plugin(
    namespace: MountNamespace, workdir: Path, *, node_id: str = "node-a",
    kubeconfig: str | None = None, readonly_bind: str | None = None,
) -> AsyncIterator[PluginProcess]:
    """The real fluid-csi in ``namespace`` for the block; it must exit cleanly on SIGTERM.
    The keyword arguments are ``PluginProcess``'s."""
    process = PluginProcess(
        workdir=workdir, node_id=node_id, namespace=namespace, kubeconfig=kubeconfig,
        readonly_bind=readonly_bind,
    )
    try:
        await process.ready()
        yield process
    finally:
        code = await process.stop()
        print(process.logs())  # shown by pytest when the test failed
    assert code == 0, "fluid-csi did not exit cleanly on SIGTERM"


class MountinfoWatcher:
    """``mountinfo_watch.py`` polling a namespace's mount table for the modes at ``paths``.

    ``stop()`` returns ``{path: {"ro": reads, "rw": reads}}``: how many of its reads showed
    a mount at each path, by mode; ``reads`` is how many reads it made in all.
    """

    def __init__(self, namespace: MountNamespace, *paths: str) -> None:
        self.reads = 0
        self._process = subprocess.Popen(
            [sys.executable, str(HERE / "mountinfo_watch.py"), f"/proc/{namespace.pid}/mountinfo",
             *paths],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True,
        )
        assert self._process.stdout is not None
        if self._process.stdout.readline().strip() != "ready":
            raise RuntimeError("mountinfo_watch.py did not start")

    def stop(self) -> dict[str, dict[str, int]]:
        self._process.send_signal(signal.SIGTERM)
        out, _ = self._process.communicate(timeout=20)
        report = json.loads(out)
        self.reads = report["reads"]
        seen: dict[str, dict[str, int]] = report["seen"]
        return seen


def wait_for(predicate: Callable[[], bool], *, what: str, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


async def eventually(predicate: Callable[[], Any], *, what: str, timeout: float = 15) -> Any:
    """Poll ``predicate`` (sync or async) until it returns something truthy."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = predicate()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def exists(path: str) -> bool:
    return os.path.exists(path)


def is_mount(path: str) -> bool:
    return os.path.ismount(path)


def read_errno(path: str) -> tuple[str | None, int | None]:
    """(content, None) when ``path`` reads, else (None, errno)."""
    try:
        return Path(path).read_text(), None
    except OSError as exc:
        return None, exc.errno


ENOTCONN = errno.ENOTCONN


async def stage(plugin: PluginProcess, layout: Layout, **extra: str) -> None:
    await plugin.node.NodeStageVolume(csi_pb2.NodeStageVolumeRequest(
        volume_id="default-demo", staging_target_path=layout.staging,
        volume_capability=mount_capability(), volume_context=layout.context(**extra),
    ))


async def publish(
    plugin: PluginProcess, layout: Layout, target: str, *, readonly: bool = False,
    **extra: str,
) -> None:
    await plugin.node.NodePublishVolume(csi_pb2.NodePublishVolumeRequest(
        volume_id="default-demo", staging_target_path=layout.staging, target_path=target,
        volume_capability=mount_capability(), readonly=readonly,
        volume_context=layout.context(**extra),
    ))


async def unpublish(plugin: PluginProcess, target: str) -> None:
    await plugin.node.NodeUnpublishVolume(
        csi_pb2.NodeUnpublishVolumeRequest(volume_id="default-demo", target_path=target)
    )


def mount_capability(
    mode: int = csi_pb2.VolumeCapability.AccessMode.MULTI_NODE_MULTI_WRITER,
) -> csi_pb2.VolumeCapability:
    return csi_pb2.VolumeCapability(
        mount=csi_pb2.VolumeCapability.MountVolume(),
        access_mode=csi_pb2.VolumeCapability.AccessMode(mode=mode),
    )


def log_events(text: str) -> list[dict[str, Any]]:
    """The JSON log events in a process's output (other lines are skipped)."""
    events = []
    for line in text.splitlines():
        with contextlib.suppress(ValueError):
            parsed = json.loads(line)
            if isinstance(parsed, dict):
                events.append(parsed)
    return events
