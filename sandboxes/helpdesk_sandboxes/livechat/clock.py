"""Time as LiveChat writes it: UTC, RFC 3339, six fractional digits (`2020-05-28T11:45:32.269000Z`).

Internally every timestamp is an int of microseconds since the epoch, so sorting is exact.
"""
import time
from datetime import UTC, datetime

from .errors import validation


def now_us() -> int:
    return time.time_ns() // 1000


def fmt(us: int) -> str:
    return datetime.fromtimestamp(us / 1_000_000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{us % 1_000_000:06d}Z"


def parse(value, field: str) -> int:
    """Parse an RFC 3339 timestamp (any precision, `Z` or offset) into microseconds."""
    if not isinstance(value, str):
        raise validation(f"{field}: expected an RFC 3339 date-time string")
    text = value.strip().replace("z", "Z")
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise validation(f"{field}: '{value}' is not an RFC 3339 date-time") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp()) * 1_000_000 + dt.microsecond
