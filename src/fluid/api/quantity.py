"""Kubernetes resource quantities (``2Gi``, ``500m``, ``1e3``) as exact Decimals.

Owns parsing and formatting of quantity strings, for tiered-store quotas, capacity
labels and validation. Pure functions; never does I/O.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

__all__ = ["format_binary", "parse_quantity"]

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {
    "n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"), "": Decimal(1),
    "k": Decimal("1e3"), "M": Decimal("1e6"), "G": Decimal("1e9"), "T": Decimal("1e12"),
    "P": Decimal("1e15"), "E": Decimal("1e18"),
}
_QUANTITY = re.compile(
    r"^(?P<number>[+-]?(?:\d+(?:\.\d*)?|\.\d+))"
    r"(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?(?:\d+(?:\.\d*)?|\.\d+))?$"
)


def parse_quantity(value: str | int) -> Decimal:
    """The numeric value of a quantity; ValueError says what is wrong with a bad one."""
    if isinstance(value, bool):
        raise ValueError("a quantity is a number or a string such as 2Gi, not a boolean")
    if isinstance(value, int):
        return Decimal(value)
    match = _QUANTITY.match(value.strip())
    if not match:
        raise ValueError(f"{value!r} is not a quantity; use a number with an optional unit "
                         "such as 100Gi, 512Mi or 1.5T")
    number = Decimal(match["number"])
    suffix = match["suffix"] or ""
    if suffix in _BINARY:
        return number * _BINARY[suffix]
    if suffix in _DECIMAL:
        return number * _DECIMAL[suffix]
    try:
        return number * (Decimal(10) ** Decimal(suffix[1:]))
    except InvalidOperation:  # pragma: no cover - the pattern admits only valid exponents
        raise ValueError(f"{value!r} is not a quantity") from None


def format_binary(value: Decimal | int) -> str:
    """Bytes in the largest binary unit with two decimals, as Fluid labels show them
    (``2.00GiB``)."""
    amount = Decimal(value)
    for unit, factor in reversed(list(_BINARY.items())):
        if abs(amount) >= factor:
            return f"{amount / factor:.2f}{unit}B"
    return f"{amount:.2f}B"
