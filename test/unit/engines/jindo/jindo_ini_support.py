"""Reading Jindo's INI-style configuration files (``jindocache.cfg``, ``jindosdk.cfg``) back
into sections for the Jindo rendering tests."""

from __future__ import annotations


def parse_ini(text: str) -> dict[str, dict[str, str]]:
    """``[section]`` headers and ``key = value`` lines, as JindoCache reads them."""
    sections: dict[str, dict[str, str]] = {}
    current: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), {})
        elif " = " in line:
            key, value = line.split(" = ", 1)
            current[key] = value
    return sections
