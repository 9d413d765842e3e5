"""When a run began: its header's `Start time`, a Unix time in seconds as the acquisition writes it, or an ISO 8601
date and time with its offset (another acquisition's), judged plausible against this computer's clock; what a
time in another unit, or rounded by a spreadsheet, is said to be."""

from __future__ import annotations

import datetime as dt
import math
import re

from labtui.core.header_values import COMMA_NUMBER, NUMBER_WITH_UNIT
from labtui.core.rejects import Reject
from labtui.core.wording import quoted

EARLIEST_START = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
FUTURE_SLACK = dt.timedelta(days=2)
_LAST_TIMESTAMP = dt.datetime(9999, 1, 1, tzinfo=dt.UTC).timestamp()
# A Unix time counted finer than seconds (Java's and JavaScript's ms, `time.time_ns()`) is said as the time it is in
# its unit: one in µs or ns was "in the future", as if this computer's clock were behind
_FINER_UNITS = (("milliseconds", 1e3), ("microseconds", 1e6), ("nanoseconds", 1e9))
START_TIME = "Start time"  # the #Metadata key that dates a run: a UTC epoch in seconds, or ISO 8601 with its offset
_UTC_NAMED = re.compile(r"(?:UTC|GMT|Z)\Z", re.IGNORECASE)  # a date and time's zone as a word, or `z`


def start_time(raw: dict[str, str], seen_at: dict[str, int]) -> dt.datetime:
    """The instant a header's `Start time` names (`raw`: its values by key, `seen_at`: their lines), or a `Reject`
    that says why it dates no run."""
    text = raw.get(START_TIME)
    if text is None:
        raise Reject(
            "no_start_time", "no 'Start time' in the header: the run cannot be dated (file mtimes are not reproducible)"
        )
    line = seen_at[START_TIME]
    match = NUMBER_WITH_UNIT.match(text.strip())
    value = float(match.group(1)) if match and match.group(2) in (None, "s") else _iso_time(text.strip(), line)
    if not math.isfinite(value):
        # `1760533665,0351331`: a decimal-comma locale's, found as a header value's is (`COMMA_NUMBER`)
        comma = " (a decimal comma: written with a point, it is read)" if COMMA_NUMBER.match(text) else ""
        date = ", nor an ISO 8601 date and time with its offset (`2025-10-13T13:08:04-03:00`)" if ":" in text else ""
        raise Reject("bad_start_time", f"'Start time' {quoted(text.strip())} is not a Unix time in seconds{comma}"
                                       f"{date}", line)
    latest = dt.datetime.now(dt.UTC) + FUTURE_SLACK
    if not EARLIEST_START.timestamp() <= value <= latest.timestamp():
        hint = next((f"; as {unit} it is {dt.datetime.fromtimestamp(value / per_second, dt.UTC):%Y-%m-%d %H:%M} UTC"
                     for unit, per_second in _FINER_UNITS
                     if EARLIEST_START.timestamp() <= value / per_second <= latest.timestamp()), "")
        future = value > latest.timestamp()
        when = f"in the future: this computer's clock says {latest - FUTURE_SLACK:%Y-%m-%d %H:%M} UTC" if future \
            else "before 2000"
        # read again once the clock makes it plausible (it was behind); not a time in milliseconds, nor past year 9999
        plausible_from = None if hint or not future or value >= _LAST_TIMESTAMP else \
            dt.datetime.fromtimestamp(value, dt.UTC) - FUTURE_SLACK
        raise Reject("bad_start_time", f"'Start time' {quoted(text.strip())} is implausible ({when}{hint}): the "
                                       "acquisition writes seconds", line, plausible_from=plausible_from)
    mantissa = re.split("[eE]", text.strip())[0]
    if mantissa != text.strip() and sum(c.isdigit() for c in mantissa) < 10:  # the acquisition writes every digit
        raise Reject("bad_start_time", f"'Start time' {quoted(text.strip())} is rounded (a spreadsheet re-saved the "
                                       "file?): the run cannot be dated to the second", line)
    return dt.datetime.fromtimestamp(value, dt.UTC)


def _iso_time(text: str, line: int) -> float:
    """A Start time written as an ISO 8601 date and time with its offset (`2025-10-15T13:07:45.035+00:00`, another
    acquisition's): its Unix time. NaN where it is no such date; one without an offset is refused (it names no
    instant: the computer's zone is not the lab's to guess). UTC named by a word is that offset (`… 16:08:04 UTC`, as
    `date -u` and strftime's `%Z` write it, was "not a Unix time")."""
    if (zone := _UTC_NAMED.search(text)) is not None:
        text = text[: zone.start()].rstrip() + "+00:00"
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        return math.nan
    if when.tzinfo is None:
        raise Reject("bad_start_time", f"'Start time' {quoted(text)} is a date and time without its offset from UTC "
                                       "(`+00:00`, `Z`): it names no instant; the acquisition writes a Unix time in "
                                       "seconds", line)
    return when.timestamp()
