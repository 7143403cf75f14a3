"""Node label keys fall back to the dataset UID exactly where upstream's do."""

from __future__ import annotations

from fluid.api import constants


def test_short_keys_use_namespace_and_name() -> None:
    assert constants.common_label("default", "hbase", uid="u-1") == "fluid.io/s-default-hbase"
    assert constants.fuse_label("default", "hbase") == "fluid.io/f-default-hbase"
    assert constants.dataset_id("default", "hbase", uid="u-1") == "default-hbase"


def test_the_prefix_counts_towards_the_63_character_threshold() -> None:
    namespace, uid = "ns", "2b3c4d5e-0000-1111-2222-333344445555"
    # "fluid.io/s-" (11) + "ns-" (3) + 49 = 63: upstream switches to the UID here,
    # although the name part alone (52) would still be a valid label name.
    name = "n" * 49
    assert constants.common_label(namespace, name, uid=uid) == f"fluid.io/s-{uid}"
    assert constants.common_label(namespace, name[:-1], uid=uid) == f"fluid.io/s-ns-{name[:-1]}"
    # Without a UID the long key is kept (and the API server will say why it is invalid).
    assert constants.common_label(namespace, name) == f"fluid.io/s-ns-{name}"


def test_dataset_id_falls_back_to_uid_at_63() -> None:
    assert constants.dataset_id("ns", "x" * 60, uid="u") == "u"
    assert constants.dataset_id("ns", "x" * 59, uid="u") == "ns-" + "x" * 59
