"""Wire values to Python ones: ISO strings and epoch milliseconds to timezone-aware datetimes,
milliseconds to timedeltas, micro-units and decimal strings to Decimal."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, Dict, List, Mapping, Optional, Union

MICRO = Decimal(1_000_000)

Json = Dict[str, Any]


def dt(v: Any) -> Optional[datetime]:
    """An ISO 8601 string or epoch milliseconds as an aware UTC datetime; None stays None."""
    if v is None:
        return None
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return datetime.fromtimestamp(v / 1000, tz=timezone.utc)
    if isinstance(v, str):
        s = v.strip()
        if s.endswith("Z") or s.endswith("z"):
            s = s[:-1] + "+00:00"
        # Python 3.9/3.10 read only 3 or 6 fraction digits.
        if "." in s:
            head, _, rest = s.partition(".")
            n = len(rest) - len(rest.lstrip("0123456789"))
            digits, tail = rest[:n], rest[n:]
            s = f"{head}.{(digits + '000000')[:6]}{tail}"
        d = datetime.fromisoformat(s)
        return d if d.tzinfo is not None else d.replace(tzinfo=timezone.utc)
    raise ValueError(f"not a time: {v!r}")


def req_dt(v: Any) -> datetime:
    d = dt(v)
    if d is None:
        raise ValueError("a time is missing")
    return d


def ms(v: Any) -> Optional[timedelta]:
    """Milliseconds as a timedelta; None stays None."""
    return None if v is None else timedelta(milliseconds=float(v))


def micros(v: Any) -> Decimal:
    """An amount in integer micro-units (a string or an int) as Decimal money."""
    return Decimal(str(v)) / MICRO


def dec(v: Any) -> Optional[Decimal]:
    """A decimal string or number as Decimal (through str, so 2.5 stays 2.5); None stays None."""
    return None if v is None else Decimal(str(v))


def iso(v: Union[datetime, str, None]) -> Optional[str]:
    """A datetime (naive ones are taken as UTC) or a string, for a query."""
    if v is None or isinstance(v, str):
        return v
    d = v if v.tzinfo is not None else v.replace(tzinfo=timezone.utc)
    # The server reads milliseconds at most.
    return d.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def duration(v: Union[timedelta, str, int, float]) -> str:
    """A time limit for the server: a timedelta or a number of seconds in ms, a string as is ("2h")."""
    if isinstance(v, timedelta):
        return f"{round(v.total_seconds() * 1000)}ms"
    if isinstance(v, bool):
        raise TypeError("a duration must be a timedelta, seconds or a string such as '2h'")
    if isinstance(v, (int, float)):
        return f"{round(v * 1000)}ms"
    return v


def strs(v: Any) -> List[str]:
    return [str(x) for x in v] if isinstance(v, list) else []


def str_map(v: Any) -> Dict[str, str]:
    return {str(k): str(x) for k, x in v.items()} if isinstance(v, Mapping) else {}


def opt_str(v: Any) -> Optional[str]:
    return None if v is None else str(v)


def opt_int(v: Any) -> Optional[int]:
    return None if v is None else int(v)
