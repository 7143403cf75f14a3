"""A real Kubernetes control plane on loopback, built from source by ``hack/kube-binaries.sh``.

Owns the processes it starts (etcd, kube-apiserver, and on request kube-controller-manager,
kube-scheduler and kwok with fake nodes), their certificates and their work directory.
It never signals a process it did not start, and ``stop()`` leaves nothing running.

Used by the test fixtures in ``test/conftest.py``, by ``hack/local-up`` and by benchmarks.
``KwokExec`` (off unless passed; only ``hack/local-up`` passes it) lets kwok answer
``pods/exec`` for its fake pods by running local commands.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import orjson
import structlog
import yaml

from fluid.testing import pki

__all__ = [
    "ControlPlaneError",
    "KwokExec",
    "LocalControlPlane",
    "binaries_dir",
    "fake_node",
]

log = structlog.get_logger(__name__)

_REPO = Path(__file__).resolve().parents[3]
_SERVICE_CIDR = "10.96.0.0/16"
_ZONES = ("zone-a", "zone-b", "zone-c")
_INSTANCE_TYPES = ("cpu.large", "cpu.xlarge", "gpu.a10")


class ControlPlaneError(RuntimeError):
    """A component failed to start or become ready; the message names it and its log."""


def binaries_dir() -> Path | None:
    """The built binaries (``$FLUID_KUBE_BIN`` or the pinned cache dir), or None if not built."""
    explicit = os.environ.get("FLUID_KUBE_BIN")
    if explicit:
        return Path(explicit)
    script = _REPO / "hack" / "kube-binaries.sh"
    if not script.exists():
        return None
    out = subprocess.run(
        ["bash", str(script), "--print-bin-dir"], capture_output=True, text=True, check=True
    )
    path = Path(out.stdout.strip())
    return path if (path / ".complete").exists() else None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def fake_node(name: str, index: int, *, cpu: str = "32", memory: str = "256Gi") -> dict[str, Any]:
    """A Node object kwok manages, with the labels real clusters carry."""
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": {"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
            "labels": {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "kubernetes.io/role": "agent",
                "type": "kwok",
                "topology.kubernetes.io/region": "local",
                "topology.kubernetes.io/zone": _ZONES[index % len(_ZONES)],
                "node.kubernetes.io/instance-type": _INSTANCE_TYPES[index % len(_INSTANCE_TYPES)],
            },
        },
        "spec": {},
        "status": {
            "allocatable": {"cpu": cpu, "memory": memory, "pods": "110"},
            "capacity": {"cpu": cpu, "memory": memory, "pods": "110"},
            "nodeInfo": {
                "architecture": "amd64", "operatingSystem": "linux", "kubeletVersion": "fake",
                "kubeProxyVersion": "fake", "containerRuntimeVersion": "fake",
                "kernelVersion": "", "osImage": "", "bootID": "", "machineID": "",
                "systemUUID": "",
            },
            "phase": "Running",
        },
    }


@attrs.frozen(kw_only=True)
class KwokExec:
    """Opt-in: kwok serves ``pods/exec`` for fake pods by running a local command instead.

    ``config`` is a kwok configuration file with ``ClusterExec``/``Exec`` documents (which
    pods and containers, the command's environment); kwok looks the command up in its own
    ``PATH``, so ``path`` directories are put first on it. The API server is told to reach
    kwok's kubelet-like server at the nodes' InternalIP (their Hostname does not resolve).
    """

    config: Path
    path: tuple[Path, ...] = ()


@attrs.define
class _Process:
    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path


@attrs.define
class LocalControlPlane:
    """etcd + kube-apiserver (always) and kube-controller-manager, kube-scheduler, kwok (on demand).

    ``workdir`` holds certificates, kubeconfigs, logs and the etcd data (on /dev/shm when it
    exists, for speed). Ports are picked free on 127.0.0.1.
    """

    bin_dir: Path
    workdir: Path
    keep_workdir: bool = False
    apiserver_port: int = 0
    etcd_port: int = 0
    _processes: list[_Process] = attrs.field(factory=list)
    _ca: pki.CertificateAuthority | None = None
    _nodes_created: int = 0
    kwok_exec: KwokExec | None = None
    """None (the default, every test fixture): exec into a fake pod fails as kwok has no target."""

    @classmethod
    def create(
        cls, *, bin_dir: Path | None = None, workdir: Path | None = None,
        kwok_exec: KwokExec | None = None,
    ) -> LocalControlPlane:
        found = bin_dir or binaries_dir()
        if found is None:
            raise ControlPlaneError(
                "control-plane binaries are not built; run: bash hack/kube-binaries.sh"
            )
        keep = workdir is not None
        workdir = workdir or Path(tempfile.mkdtemp(prefix="fluid-cp-"))
        workdir.mkdir(parents=True, exist_ok=True)
        return cls(bin_dir=found, workdir=workdir, keep_workdir=keep, kwok_exec=kwok_exec)

    # -- paths -----------------------------------------------------------------------------------

    @property
    def server(self) -> str:
        return f"https://127.0.0.1:{self.apiserver_port}"

    @property
    def kubeconfig(self) -> str:
        return str(self.workdir / "admin.kubeconfig")

    @property
    def ca_cert_path(self) -> Path:
        return self.workdir / "pki" / "ca.crt"

    @property
    def ca_key_path(self) -> Path:
        return self.workdir / "pki" / "ca.key"

    @property
    def ca(self) -> pki.CertificateAuthority:
        assert self._ca is not None, "start() first"
        return self._ca

    def log_path(self, component: str) -> Path:
        return self.workdir / "logs" / f"{component}.log"

    def running(self, component: str) -> bool:
        return any(p.name == component and p.popen.poll() is None for p in self._processes)

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self, *, timeout: float = 60.0) -> None:
        """Start etcd and kube-apiserver and wait until the API answers."""
        atexit.register(self.stop)
        (self.workdir / "logs").mkdir(exist_ok=True)
        self._write_pki()
        started = time.monotonic()
        self._start_etcd(timeout)
        self._start_apiserver(timeout)
        log.info(
            "control_plane_started", server=self.server,
            duration_ms=round((time.monotonic() - started) * 1000),
        )

    def start_workloads(self, *, nodes: int = 3, timeout: float = 60.0) -> list[str]:
        """Start kube-controller-manager, kube-scheduler and kwok, and create ``nodes`` fake nodes."""
        if not self.running("kube-controller-manager"):
            self._start_controller_manager()
        if not self.running("kube-scheduler"):
            self._start_scheduler()
        if not self.running("kwok"):
            self._start_kwok()
        return self.add_nodes(nodes, timeout=timeout)

    def add_nodes(self, count: int, *, timeout: float = 60.0, prefix: str = "kwok-node") -> list[str]:
        """Create ``count`` more fake nodes and wait until kwok reports them Ready."""
        names = []
        for _ in range(count):
            name = f"{prefix}-{self._nodes_created}"
            self._api("POST", "/api/v1/nodes", fake_node(name, self._nodes_created), ok=(201, 409))
            self._nodes_created += 1
            names.append(name)
        self._wait(
            lambda: set(names) <= self._ready_nodes(), timeout, f"{count} kwok nodes Ready", "kwok"
        )
        return names

    def stop(self) -> None:
        """SIGTERM every process we started (reverse order), SIGKILL stragglers, remove workdir."""
        for proc in reversed(self._processes):
            terminate(proc.popen)
        self._processes.clear()
        etcd_data = self._etcd_data_dir()
        shutil.rmtree(etcd_data, ignore_errors=True)
        if not self.keep_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def compact_etcd(self, revision: int) -> None:
        """Compact etcd's history up to ``revision`` (an object's resourceVersion)."""
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.etcd_port}/v3/kv/compaction",
            data=orjson.dumps({"revision": str(revision), "physical": True}), method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as resp:
            resp.read()

    def tail_logs(self, lines: int = 40) -> str:
        """The end of each component's log, for failure reports."""
        out = []
        for path in sorted((self.workdir / "logs").glob("*.log")):
            text = path.read_text(errors="replace").splitlines()[-lines:]
            out.append(f"==> {path.name} <==\n" + "\n".join(text))
        return "\n".join(out)

    # -- components ------------------------------------------------------------------------------

    def _write_pki(self) -> None:
        pki_dir = self.workdir / "pki"
        pki_dir.mkdir(exist_ok=True)
        self._ca = pki.CertificateAuthority.create(pki_dir)
        self._ca.issue(
            pki_dir, "apiserver", common_name="kube-apiserver",
            hosts=("127.0.0.1", "localhost", "10.96.0.1", "kubernetes.default.svc"),
        )
        self._ca.issue(
            pki_dir, "admin", common_name="admin", organizations=("system:masters",), client=True
        )
        pki.write_service_account_keys(pki_dir)
        self._ca.issue(pki_dir, "kwok", common_name="kwok", hosts=("127.0.0.1", "localhost"))

    def _write_kubeconfig(self) -> None:
        pki_dir = self.workdir / "pki"
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {"name": "local", "cluster": {
                    "server": self.server, "certificate-authority": str(pki_dir / "ca.crt")}}
            ],
            "users": [
                {"name": "admin", "user": {
                    "client-certificate": str(pki_dir / "admin.crt"),
                    "client-key": str(pki_dir / "admin.key")}}
            ],
            "contexts": [{"name": "local", "context": {"cluster": "local", "user": "admin"}}],
            "current-context": "local",
        }
        Path(self.kubeconfig).write_text(yaml.safe_dump(config))

    def _etcd_data_dir(self) -> Path:
        shm = Path("/dev/shm")
        base = shm if shm.is_dir() and os.access(shm, os.W_OK) else self.workdir
        return base / f"fluid-etcd-{self.workdir.name}"

    def _start_etcd(self, timeout: float) -> None:
        self.etcd_port, peer = free_port(), free_port()
        client_url, peer_url = f"http://127.0.0.1:{self.etcd_port}", f"http://127.0.0.1:{peer}"
        self._spawn("etcd", [
            "--name=fluid-test", f"--data-dir={self._etcd_data_dir()}",
            f"--listen-client-urls={client_url}", f"--advertise-client-urls={client_url}",
            f"--listen-peer-urls={peer_url}", f"--initial-advertise-peer-urls={peer_url}",
            f"--initial-cluster=fluid-test={peer_url}", "--unsafe-no-fsync",
            "--log-level=warn", "--quota-backend-bytes=8589934592",
        ])
        self._wait(lambda: http_ok(f"{client_url}/health"), timeout, "etcd /health", "etcd")

    def _start_apiserver(self, timeout: float) -> None:
        self.apiserver_port = free_port()
        pki_dir = self.workdir / "pki"
        exec_args = ["--kubelet-preferred-address-types=InternalIP"] if self.kwok_exec else []
        self._spawn("kube-apiserver", [*exec_args,
            f"--etcd-servers=http://127.0.0.1:{self.etcd_port}",
            "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1",
            f"--secure-port={self.apiserver_port}",
            f"--tls-cert-file={pki_dir / 'apiserver.crt'}",
            f"--tls-private-key-file={pki_dir / 'apiserver.key'}",
            f"--client-ca-file={pki_dir / 'ca.crt'}",
            f"--service-account-issuer=https://127.0.0.1:{self.apiserver_port}",
            f"--service-account-key-file={pki_dir / 'sa.pub'}",
            f"--service-account-signing-key-file={pki_dir / 'sa.key'}",
            f"--service-cluster-ip-range={_SERVICE_CIDR}",
            "--authorization-mode=RBAC", "--allow-privileged=true",
            "--endpoint-reconciler-type=none", "--profiling=false",
            f"--kubelet-certificate-authority={pki_dir / 'ca.crt'}",
            f"--kubelet-client-certificate={pki_dir / 'admin.crt'}",
            f"--kubelet-client-key={pki_dir / 'admin.key'}",
            "--max-requests-inflight=0", "--max-mutating-requests-inflight=0",
            "--enable-priority-and-fairness=false",
            # PodTemplates skip the watch cache so tests can see etcd compaction as 410 Gone.
            "--watch-cache-sizes=podtemplates#0",
        ])
        self._write_kubeconfig()
        self._wait(lambda: self._api_ok("/readyz"), timeout, "kube-apiserver /readyz",
                   "kube-apiserver")
        self._wait(lambda: self._api_ok("/api/v1/namespaces/default"), timeout,
                   "default namespace", "kube-apiserver")

    def _start_controller_manager(self) -> None:
        pki_dir = self.workdir / "pki"
        self._spawn("kube-controller-manager", [
            f"--kubeconfig={self.kubeconfig}", "--leader-elect=false",
            f"--service-account-private-key-file={pki_dir / 'sa.key'}",
            f"--root-ca-file={pki_dir / 'ca.crt'}", "--use-service-account-credentials=false",
            "--bind-address=127.0.0.1", f"--secure-port={free_port()}",
            "--kube-api-qps=500", "--kube-api-burst=1000",
            "--controllers=*,-nodeipam,-cloud-node-lifecycle,-service-lb-controller",
            f"--authentication-kubeconfig={self.kubeconfig}",
            f"--authorization-kubeconfig={self.kubeconfig}",
        ])

    def _start_scheduler(self) -> None:
        self._spawn("kube-scheduler", [
            f"--kubeconfig={self.kubeconfig}", "--leader-elect=false",
            f"--authentication-kubeconfig={self.kubeconfig}",
            f"--authorization-kubeconfig={self.kubeconfig}",
            "--bind-address=127.0.0.1", f"--secure-port={free_port()}",
            "--kube-api-qps=500", "--kube-api-burst=1000",
        ])

    def _start_kwok(self) -> None:
        pki_dir = self.workdir / "pki"
        port = free_port()
        stages = Path(__file__).parent / "data" / "kwok-stages.yaml"
        self._spawn("kwok", [
            f"--kubeconfig={self.kubeconfig}", "--manage-all-nodes=false",
            "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
            "--node-ip=127.0.0.1", f"--node-port={port}", f"--server-address=127.0.0.1:{port}",
            f"--tls-cert-file={pki_dir / 'kwok.crt'}",
            f"--tls-private-key-file={pki_dir / 'kwok.key'}",
            "--cidr=10.244.0.0/16", "--node-lease-duration-seconds=40",
            *(f"--config={path}" for path in self._kwok_configs(stages)),
        ], env=self._kwok_env())

    def _kwok_configs(self, stages: Path) -> list[Path]:
        """The stages; with exec, first the same options with the debugging handlers on.

        kwok takes the first ``KwokConfiguration`` it reads and leaves its
        ``enableDebuggingHandlers`` (which serve exec) off unless a file says so.
        """
        if self.kwok_exec is None:
            return [stages]
        docs = list(yaml.safe_load_all(stages.read_text()))
        options = next(d for d in docs if d.get("kind") == "KwokConfiguration")
        options["options"]["enableDebuggingHandlers"] = True
        path = self.workdir / "kwok-options.yaml"
        path.write_text(yaml.safe_dump(options))
        return [path, stages, self.kwok_exec.config]

    def _kwok_env(self) -> dict[str, str] | None:
        """kwok's environment: ours, with the exec simulation's directories first on PATH."""
        if self.kwok_exec is None or not self.kwok_exec.path:
            return None
        dirs = [str(p) for p in self.kwok_exec.path]
        return dict(os.environ, PATH=os.pathsep.join([*dirs, os.environ.get("PATH", "")]))

    # -- helpers ---------------------------------------------------------------------------------

    def _spawn(self, name: str, args: list[str], *, env: dict[str, str] | None = None) -> None:
        log_path = self.log_path(name)
        with log_path.open("ab") as log_file:
            popen = subprocess.Popen(
                [str(self.bin_dir / name), *args], stdout=log_file, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True, env=env,
            )
        self._processes.append(_Process(name, popen, log_path))

    def _wait(self, check: Callable[[], bool], timeout: float, what: str, component: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for proc in self._processes:
                if proc.popen.poll() is not None:
                    raise ControlPlaneError(
                        f"{proc.name} exited with {proc.popen.returncode} while waiting for "
                        f"{what}; log {proc.log_path}:\n{_tail(proc.log_path)}"
                    )
            with contextlib.suppress(OSError, ValueError):
                if check():
                    return
            time.sleep(0.1)
        raise ControlPlaneError(
            f"timed out after {timeout:.0f}s waiting for {what}; log "
            f"{self.log_path(component)}:\n{_tail(self.log_path(component))}"
        )

    def _ssl(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(self.ca_cert_path))
        pki_dir = self.workdir / "pki"
        context.load_cert_chain(str(pki_dir / "admin.crt"), str(pki_dir / "admin.key"))
        return context

    def _api(
        self, method: str, path: str, body: dict[str, Any] | None = None,
        ok: tuple[int, ...] = (200,),
    ) -> dict[str, Any]:
        raw = self._raw(method, path, body, ok)
        result: dict[str, Any] = orjson.loads(raw or b"{}")
        return result

    def _raw(
        self, method: str, path: str, body: dict[str, Any] | None = None,
        ok: tuple[int, ...] = (200,),
    ) -> bytes:
        data = orjson.dumps(body) if body is not None else None
        request = urllib.request.Request(
            self.server + path, data=data, method=method,
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, context=self._ssl(), timeout=10) as resp:
                payload: bytes = resp.read()
                return payload
        except urllib.error.HTTPError as err:
            if err.code in ok:
                return b""
            raise ControlPlaneError(f"{method} {path}: {err.code} {err.read()[:300]!r}") from err

    def _api_ok(self, path: str) -> bool:
        try:
            self._raw("GET", path)
        except (ControlPlaneError, urllib.error.URLError):
            return False
        return True

    def _ready_nodes(self) -> set[str]:
        nodes = self._api("GET", "/api/v1/nodes").get("items") or []
        return {
            node["metadata"]["name"]
            for node in nodes
            if any(
                c.get("type") == "Ready" and c.get("status") == "True"
                for c in (node.get("status") or {}).get("conditions") or []
            )
        }


def http_ok(url: str) -> bool:
    """``url`` answers 200 within 2 s (plain HTTP; connection errors are False)."""
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return bool(resp.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def terminate(popen: subprocess.Popen[bytes], grace: float = 10.0) -> None:
    if popen.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(popen.pid, signal.SIGTERM)
    try:
        popen.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(popen.pid, signal.SIGKILL)
        popen.wait(timeout=5)


@contextlib.contextmanager
def running(**kwargs: Any) -> Iterator[LocalControlPlane]:
    """A started control plane for the duration of a ``with`` block."""
    plane = LocalControlPlane.create(**kwargs)
    try:
        plane.start()
        yield plane
    finally:
        plane.stop()
