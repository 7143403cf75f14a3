"""Poll a mountinfo file as fast as possible and count the modes seen at some mount points.

Run as a separate process (``python mountinfo_watch.py MOUNTINFO PATH...``) so that the
test's own threads cannot pause it: prints ``ready`` after its first read, then on SIGTERM
prints one JSON line ``{"reads": n, "seen": {path: {"ro": n, "rw": n}}}``, where each count
is how many reads showed a mount at that path with that mode. Used by
``test_csi_readonly_bind.py`` and ``test_csi_recovery_fuse.py``; helpers in ``csiproc``.
"""

from __future__ import annotations

import json
import signal
import sys
from types import FrameType
from typing import BinaryIO


def _read_all(table: BinaryIO) -> bytes:
    """The whole file: a /proc seq file may hand it out in several reads."""
    table.seek(0)
    chunks = []
    while chunk := table.read(1 << 16):
        chunks.append(chunk)
    return b"".join(chunks)


def main(mountinfo: str, paths: list[str]) -> None:
    stop = False

    def on_term(signum: int, frame: FrameType | None) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_term)
    wanted = {path.encode(): path for path in paths}
    seen = {path: {"ro": 0, "rw": 0} for path in paths}
    reads = 0
    with open(mountinfo, "rb", buffering=0) as table:
        while not stop:
            reads += 1
            for line in _read_all(table).splitlines():
                fields = line.split(b" ", 6)
                path = wanted.get(fields[4])
                if path is not None:
                    mode = "ro" if b"ro" in fields[5].split(b",") else "rw"
                    seen[path][mode] += 1
            if reads == 1:
                print("ready", flush=True)
    print(json.dumps({"reads": reads, "seen": seen}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
