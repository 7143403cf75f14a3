"""proto/csi.proto is wire-compatible with the CSI spec it tracks (v1.12.0).

Both files are compiled to descriptors with grpcio-tools and compared entry by entry:
every message, field (number, type, label, oneof, options), enum value, extension and
RPC we define must be identical in the spec. The spec's proto comes from the Go module
proxy (a few hundred kB, cached under ~/.cache/fluid/go/mod).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import grpc_tools
import pytest
from google.protobuf import descriptor_pb2
from grpc_tools import protoc

ROOT = Path(__file__).resolve().parents[3]
SPEC_MODULE = "github.com/container-storage-interface/spec@v1.12.0"
# Services that a node plugin never serves and that proto/csi.proto leaves out on purpose.
OMITTED_SERVICES = {"GroupController", "SnapshotMetadata"}


def _spec_proto() -> Path:
    go = shutil.which("go")
    if go is None:
        if os.environ.get("CI"):
            pytest.fail("go is needed in CI to fetch the CSI spec proto")
        pytest.skip("go is not installed: cannot fetch the CSI spec proto from the module proxy")
    cache = Path.home() / ".cache" / "fluid" / "go"
    env = {
        **os.environ,
        "GOMODCACHE": str(cache / "mod"),
        "GOCACHE": str(cache / "build"),
        "GOTOOLCHAIN": "local",
        "GOFLAGS": "-mod=mod",
    }
    with tempfile.TemporaryDirectory() as workdir:
        result = subprocess.run(
            [go, "mod", "download", "-json", SPEC_MODULE],
            cwd=workdir, env=env, capture_output=True, text=True, timeout=300, check=False,
        )
    info = json.loads(result.stdout or "{}")
    if result.returncode != 0 or "Dir" not in info:
        pytest.fail(f"go mod download {SPEC_MODULE} failed: {info.get('Error') or result.stderr}")
    return Path(info["Dir"]) / "csi.proto"


def _descriptor(proto: Path, out: Path) -> descriptor_pb2.FileDescriptorProto:
    include = Path(grpc_tools.__file__).parent / "_proto"
    code = protoc.main(
        ["protoc", f"-I{proto.parent}", f"-I{include}", f"--descriptor_set_out={out}", proto.name]
    )
    assert code == 0, f"protoc failed on {proto}"
    files = descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes())
    return files.file[0]


def _messages(
    messages: Any, prefix: str, out: dict[str, Any]
) -> None:
    for message in messages:
        name = prefix + message.name
        out[f"message {name}"] = message.options.SerializeToString()
        for field in message.field:
            oneof = field.oneof_index if field.HasField("oneof_index") else None
            out[f"field {name}.{field.name}"] = (
                field.number, field.type, field.label, field.type_name, oneof,
                field.options.SerializeToString(),
            )
        for enum in message.enum_type:
            for value in enum.value:
                out[f"enum {name}.{enum.name}.{value.name}"] = (
                    value.number, value.options.SerializeToString(),
                )
        _messages(message.nested_type, name + ".", out)


def _index(file: descriptor_pb2.FileDescriptorProto) -> dict[str, Any]:
    out: dict[str, Any] = {"package": file.package}
    _messages(file.message_type, "", out)
    for ext in file.extension:
        out[f"extension {ext.name}"] = (ext.number, ext.extendee, ext.type)
    for service in file.service:
        out[f"service {service.name}"] = service.options.SerializeToString()
        for method in service.method:
            out[f"rpc {service.name}.{method.name}"] = (
                method.input_type, method.output_type, method.client_streaming,
                method.server_streaming, method.options.SerializeToString(),
            )
    return out


@pytest.fixture(scope="module")
def indexes(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("descriptors")
    ours = _index(_descriptor(ROOT / "proto" / "csi.proto", tmp / "ours.pb"))
    spec = _index(_descriptor(_spec_proto(), tmp / "spec.pb"))
    return ours, spec


def test_every_entry_we_define_matches_the_spec(
    indexes: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    ours, spec = indexes
    unknown = sorted(set(ours) - set(spec))
    different = sorted(k for k in ours if k in spec and ours[k] != spec[k])
    assert unknown == []
    assert different == []


def test_identity_node_and_controller_are_complete(
    indexes: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    ours, spec = indexes
    missing = sorted(
        key for key in set(spec) - set(ours)
        if key.startswith(("rpc ", "service "))
        and key.split()[1].split(".")[0] not in OMITTED_SERVICES
    )
    assert missing == []
    # Every message an included RPC uses is defined (protoc would fail otherwise), and
    # nothing outside the omitted services' own messages is missing.
    missing_messages = sorted(
        key for key in set(spec) - set(ours)
        if key.startswith(("field ", "enum "))
        and not _belongs_to_omitted(key)
    )
    assert missing_messages == []


def _belongs_to_omitted(key: str) -> bool:
    name = key.split()[1]
    omitted_roots = (
        "GroupController", "CreateVolumeGroupSnapshot", "DeleteVolumeGroupSnapshot",
        "GetVolumeGroupSnapshot", "VolumeGroupSnapshot", "BlockMetadata", "GetMetadata",
    )
    return name.startswith(omitted_roots)
