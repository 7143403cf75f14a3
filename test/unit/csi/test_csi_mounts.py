"""The mountinfo parser, the mount table's lookups, and the bind plan."""

from __future__ import annotations

from pathlib import Path

import pytest

from fluid.csi import errors, fake, mounts

# Lines in the kernel's format (proc(5)); 0:50 is a FUSE mount, 64 a bind of it,
# 65 a bind of a sub directory, 70/71 two mounts stacked on one path.
FUSE = "/rt/alluxio/ns/ds/alluxio-fuse"
U1 = "/var/lib/kubelet/pods/u1/volumes/kubernetes.io~csi/ns-ds/mount"
U2 = "/var/lib/kubelet/pods/u2/volumes/kubernetes.io~csi/ns-ds/mount"
_FUSE_TAIL = "fuse.alluxio-fuse alluxio-fuse"
MOUNTINFO = "\n".join([
    "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw,errors=remount-ro",
    f"40 22 0:50 / {FUSE} rw,nosuid,nodev shared:30 - {_FUSE_TAIL} rw,user_id=0",
    f"64 22 0:50 / {U1} ro,relatime shared:30 - {_FUSE_TAIL} rw",
    f"65 22 0:50 /sub/dir {U2} rw master:30 - {_FUSE_TAIL} rw",
    "66 22 8:1 /data/with\\040space /mnt/with\\040space rw - ext4 /dev/sda1 rw",
    "70 22 0:51 / /stacked rw - fuse src rw",
    "71 70 0:52 / /stacked rw - fuse src rw",
]) + "\n"

@pytest.fixture
def table() -> mounts.MountTable:
    return mounts.parse_mountinfo(MOUNTINFO)


def test_parser_reads_every_field(table: mounts.MountTable) -> None:
    entry = table.entries[1]
    assert entry.mount_id == 40
    assert entry.parent_id == 22
    assert entry.dev == "0:50"
    assert entry.root == "/"
    assert entry.mount_point == FUSE
    assert entry.options == ("rw", "nosuid", "nodev")
    assert entry.optional == ("shared:30",)
    assert entry.fs_type == "fuse.alluxio-fuse"
    assert entry.source == "alluxio-fuse"
    assert entry.super_options == ("rw", "user_id=0")
    assert not entry.read_only
    assert table.entries[2].read_only


def test_parser_undoes_octal_escapes(table: mounts.MountTable) -> None:
    assert table.entries[4].mount_point == "/mnt/with space"
    assert table.entries[4].root == "/data/with space"


def test_parser_names_a_malformed_line() -> None:
    with pytest.raises(ValueError, match="line 2"):
        mounts.parse_mountinfo("22 1 8:1 / / rw - ext4 /dev/sda1 rw\ngarbage\n")


def test_stacked_mounts_come_bottom_first(table: mounts.MountTable) -> None:
    assert [e.mount_id for e in table.stack("/stacked")] == [70, 71]
    top = table.top("/stacked")
    assert top is not None
    assert top.dev == "0:52"


def test_covering_picks_the_longest_mount_point(table: mounts.MountTable) -> None:
    entry = table.covering(FUSE + "/a/b")
    assert entry is not None
    assert entry.mount_id == 40
    root = table.covering(FUSE + "-other")
    assert root is not None
    assert root.mount_id == 22


def test_origin_of_a_path_inside_a_mount(table: mounts.MountTable) -> None:
    fuse = FUSE
    assert table.origin(fuse) == mounts.Origin("0:50", "/")
    assert table.origin(fuse + "/sub/dir") == mounts.Origin("0:50", "/sub/dir")
    # The bind mounts carry exactly those origins.
    bind = table.top(U1)
    sub = table.top(U2)
    assert bind is not None
    assert sub is not None
    assert bind.origin == table.origin(fuse)
    assert sub.origin == table.origin(fuse + "/sub/dir")


def test_under_lists_mounts_below_a_prefix(table: mounts.MountTable) -> None:
    assert [e.mount_id for e in table.under("/var/lib/kubelet")] == [64, 65]


# -- the bind plan ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "target", "readonly", "state", "expected"),
    [
        (FUSE, "/var/lib/kubelet/pods/u9/mount", False, mounts.PathState.MISSING,
         mounts.BindAction.BIND),
        (FUSE, U1, True, mounts.PathState.OK, mounts.BindAction.NOOP),
        (FUSE + "/sub/dir", U2, False, mounts.PathState.OK, mounts.BindAction.NOOP),
        (FUSE, U1, True, mounts.PathState.BROKEN, mounts.BindAction.REBIND),
        (FUSE, U1, False, mounts.PathState.HUNG, mounts.BindAction.REBIND),
    ],
)
def test_plan_bind(
    table: mounts.MountTable, source: str, target: str, readonly: bool,
    state: mounts.PathState, expected: mounts.BindAction,
) -> None:
    action = mounts.plan_bind(
        table, source=source, target=target, readonly=readonly, target_state=state
    )
    assert action is expected


def test_plan_bind_refuses_the_other_mode(table: mounts.MountTable) -> None:
    with pytest.raises(errors.AlreadyExists, match="read-only"):
        mounts.plan_bind(table, source=FUSE, target=U1, readonly=False,
                         target_state=mounts.PathState.OK)


def test_plan_bind_refuses_a_different_source(table: mounts.MountTable) -> None:
    with pytest.raises(errors.AlreadyExists, match="not of"):
        mounts.plan_bind(table, source=FUSE, target=U2, readonly=False,
                         target_state=mounts.PathState.OK)


# -- ensure primitives against the fake mounter -------------------------------------------


async def test_ensure_bound_is_idempotent(tmp_path: Path) -> None:
    mounter = fake.FakeMounter()
    source, target = str(tmp_path / "fuse"), str(tmp_path / "pod" / "mount")
    mounter.start_fuse(source)
    first = await mounts.ensure_bound(mounter, source=source, target=target, readonly=False)
    second = await mounts.ensure_bound(mounter, source=source, target=target, readonly=False)
    assert (first, second) == (mounts.BindAction.BIND, mounts.BindAction.NOOP)
    assert [c for c in mounter.calls if c[0] == "bind"] == [("bind", source, target, "rw")]


async def test_ensure_unmounted_peels_every_stacked_mount(tmp_path: Path) -> None:
    mounter = fake.FakeMounter()
    source, target = str(tmp_path / "fuse"), str(tmp_path / "t")
    mounter.start_fuse(source)
    (tmp_path / "t").mkdir()
    for _ in range(3):
        await mounter.bind(source=source, target=target, readonly=False)
    assert await mounts.ensure_unmounted(mounter, target) == 3
    assert await mounts.ensure_unmounted(mounter, target) == 0
    assert not mounter.table_now().is_mount_point(target)
