"""What a run's data say of its extent: whether it reached the end its header promises (`is_complete`, and the
notes on what a span alone does not see: rows out of order, two runs in one file, rows missing), and how long it
lasted (`duration_s`). Its manifest row is made in `extract`."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import polars as pl

from labtui.core.datablock import NO_READING
from labtui.core.header_values import ANY_UNIT, parse_number
from labtui.core.metrics.definitions import FLICKER_SAMPLES
from labtui.core.registry import LASER_COLUMN, LIGHT_THRESHOLD_V, MAX_SWEEP_STEPS, Completeness, snake_column
from labtui.core.wording import told_apart

if TYPE_CHECKING:
    import numpy as np

    from labtui.core.parser import Header

TIME_SCALE_OFF = 10  # an It run spanning this many times its header's length has its time in another unit
# A span within 10 % of 1000× that length is a whole run timed in ms; another may as well be its period's unit (a
# period of `2`, meant in minutes, spanned 60× and was said to be a time in ms)
IN_MS = (900, 1100)
# A clock leaping this many of a run's mean sample intervals, and this share of its span, in one step: rows missing
# inside it (a hand edit, a lost block). Real runs pause up to 13 intervals (1.1 s at 0.084 s a sample), < 1 %.
ROWS_MISSING_SPACINGS, ROWS_MISSING_SHARE = 20, 0.02
SWEEP_JUMP_STEPS = 2.5  # a sweep leaping more of its steps than this between two rows is said (real ones: 1)
COARSER = 1.5  # a sweep whose data step this many times its header's step is judged at its own (a whole loop
# at 0.1 V under `VG step: 0.05 V` was "aborted: 301 of the 601 rows")


def finite_values(frame: pl.DataFrame, raw_column: str) -> np.ndarray | None:
    """Finite values of a Float64 column in row order (numpy: per-call Polars overhead dominates on small runs);
    the column itself, no copy, where its sum is finite (every real run's)."""
    import numpy as np  # here, not at the top: `labtui.core.extract`, which the app's live view and follow read
    # for its naming, imports this module, and need not load NumPy

    column = frame.get_column(snake_column(raw_column), default=None)  # `frame.schema` would build a whole Schema
    if column is None or column.dtype != pl.Float64:
        return None
    values = column.to_numpy()
    with np.errstate(over="ignore", invalid="ignore"):  # 1e308 + 1e308, inf − inf: no warning on the terminal
        total = values.sum()
    if not math.isfinite(total):  # a NaN or an inf among them (or finite ones overflowing the sum): masked
        values = values[np.isfinite(values)]
    return values if values.size else None


def duration_s(header: Header, frame: pl.DataFrame) -> float | None:
    """Span of the time column; else of the sensor clock (ms) when the sensor was on. None when the span overflows
    (values near ±1e308): subtracted as Python floats, which overflow to inf without NumPy's warning on stderr."""
    if header.spec.time_column and (times := finite_values(frame, header.spec.time_column)) is not None:
        _, least, most = _read_span(times)
        span = most - least
    elif (clock := finite_values(frame, "Clock (ms)")) is not None:
        span = (float(clock.max()) - float(clock.min())) / 1000.0
    else:
        return None
    return span if math.isfinite(span) else None


def before_its_pulse(header: Header, frame: pl.DataFrame) -> bool:
    """Whether a timed run (a `duration` rule's: dark for half its period, then lit) stopped before its laser was due
    to switch on: its VL column never lit for that alone (an It run stopped at 30 s of a 120 s period was said to be
    lit by its header "though … the laser did not switch on?")."""
    rule = header.spec.completeness
    if rule is None or rule.kind != "duration" or (period := _number(header, rule.period_parameter)) is None:
        return False
    return (span := duration_s(header, frame)) is not None and span < period / 2


def _from_its_start(values: np.ndarray, start: float, end: float, step: float, tolerance: float) -> bool:
    """Whether a loop was swept start → end → start, every step of it, not 0 → start → end → start → 0: another
    acquisition's path (its 401 rows of a ±5 V sweep were "aborted: 401 of the 601 rows")."""
    return (values.size == round(2 * abs(end - start) / step) + 1 and abs(values[0] - start) <= tolerance
            and abs(values[values.size // 2] - end) <= tolerance and abs(values[-1] - start) <= tolerance)


def is_complete(rule: Completeness | None, header: Header, frame: pl.DataFrame) -> tuple[bool, list[str]]:
    """Whether the run reached the end its header promises (a run that cannot be judged counts as complete), and
    notes: why not, and what the span alone does not see (`_time_disorder`, too many rows): two runs in one file,
    or rows out of order, whose span looked complete."""
    if rule is None:
        return True, []
    values = finite_values(frame, rule.column)
    if values is None:
        return False, [f"no finite values in {rule.column!r}"]

    if rule.kind == "duration":
        period = _number(header, rule.period_parameter)
        if period is None or not period > 0:
            why = f"no {rule.period_parameter!r}" if period is None else \
                f"{rule.period_parameter!r} is {period:g}, not a period"
            if _lit_at_its_end(frame):
                return False, [f"aborted: the laser was still on at its last sample ({why}: judged by its data)"]
            return True, [f"cannot judge completeness: {why}"]
        expected = rule.periods * period
        values, least, most = _read_span(values)
        spanned = most - least  # not the largest t: a clock starting at 1000 s
        # its regular steps spanning 10× the header's length: the unit is what to say (each step would leap), not
        # a stray row's leap (which spans it alone)
        steps = None
        if spanned > TIME_SCALE_OFF * expected and spanned < 2 * _median_step(values) * values.size:
            why = " (ms)" if IN_MS[0] < spanned / expected < IN_MS[1] else \
                f", or its {rule.period_parameter!r} of {period:g} s in another"
            notes = [f"{rule.column} spans {spanned:g} where its header promises {expected:g}: a time in another "
                     f"unit{why}?"]
        else:
            import numpy as np  # loaded by `finite_values` already

            steps = np.diff(values)  # of the clock's readings (`_read_span`): both checks below read them
            notes = _time_disorder(values, steps, expected, rule.column)
        # short by at most one sample (every real It run spans 1.5 periods or more): 1 % of the run let a cut one
        # lose 19 samples of a 120 s period, and 67 s of a 4500 s one, and still be complete. The sample's median
        # is taken only when short: for every It run it was 5 % of a stage's Python time
        if not (spanned >= expected or spanned >= expected - min(0.01 * expected, _median_step(values))):
            return False, [f"aborted: {rule.column} spans {spanned:g} of {expected:g}", *notes]
        if steps is not None and not notes and \
                (missing := _rows_missing(values, steps, frame, spanned, rule.column)) is not None:
            return False, [missing]  # its end reached, as IVg's sweep with rows missing: not complete either
        return True, notes
    start, end = _number(header, rule.start_parameter), _number(header, rule.end_parameter)
    given_step = abs(_number(header, rule.step_parameter) or 0.0)
    coarser = []  # a sweep whose data step coarser than its header says is judged at its own step
    low, high = (min(start, end), max(start, end)) if start is not None and end is not None else (
        float(values.min()), float(values.max()))  # without its limits: the span its data take
    if given_step and not (high - low) / given_step < MAX_SWEEP_STEPS:  # a slip (1e-300 V): judged as without one
        # (its last point "stopped at -0.0095 instead of returning to 0", a step of the data's own away)
        coarser = [f"its header's step of {given_step:g} is no step of a {low:g}…{high:g} sweep: judged by its data's"]
        given_step = 0.0
    if start is None or end is None:  # the data still say whether the sweep came back to 0 (a sweep cut at +2 V
        # whose `VG start` read `minus 5 V` was complete, and its Dirac point unsaid as of a cut run)
        if (stopped := _stopped_short(rule, values, given_step)) is not None:
            return False, [f"{stopped} (its sweep limits are missing: judged by its data)", *coarser]
        return True, ["cannot judge completeness: sweep limits missing", *coarser]
    least, most = float(values.min()), float(values.max())
    step = given_step or (high - low) / 100 or 1e-9
    tolerance = 0.51 * step
    rows = rule.expected_rows(start, end, given_step) if given_step > 0 else None
    implied = "its sweep parameters imply"
    two_sizes = False  # a sweep of two step sizes: judged by the corners of its path, not by a count of rows
    if rows is not None and frame.height < rows and (taken := _median_step(values)) > COARSER * given_step:
        finest, widest = _step_range(_readings(values, float(values.min()), float(values.max())), taken)
        if widest > 1.1 * finest:  # steps of two sizes (fine near 0, coarse beyond): no count of rows to expect
            coarser = [f"{rule.column} steps by {finest:g} to {widest:g} where its header says {given_step:g}: "
                       f"{frame.height} rows for its {rows}, judged by its path"]
            given_step, rows, two_sizes = widest, None, True  # ("steps by 0.125", their median, is a step it never
            # takes)
        elif (own := rule.expected_rows(start, end, taken)) is not None:
            coarser = [f"{rule.column} steps by {taken:g} where its header says {given_step:g}: {frame.height} rows "
                       f"for its {rows}"]
            given_step, rows, implied = taken, own, f"its sweep takes at its step of {taken:g}"
    if rows is not None and frame.height < rows:
        if rule.path == "loop" and _from_its_start(values, start, end, given_step, tolerance):
            return True, [f"its sweep goes {start:g} → {end:g} → {start:g}, not from 0 and back as its procedure's "
                          "path: complete as swept (another acquisition's?)",
                          *_sweep_jump(values, least, most, given_step, rule.column), *coarser]
        # a narrower loop that left 0 and came back to it is another sweep than its header says, not one cut short
        # (a real one that went 0 → −5 → 5 → 0, its header's whole span, was stopped there: aborted alone; a step away
        # and back was "a sweep of -0.05…0 come back to 0")
        narrower = (least > low + tolerance or most < high - tolerance) and max(-least, most) > 1.5 * step
        if narrower and rule.returns_to_zero and _stopped_short(rule, values, given_step) is None:
            return False, [f"aborted: {frame.height} of the {rows} rows {implied} (its data sweep {least:g}…{most:g} "
                           "and come back to 0: its header written for another sweep?)", *coarser]
        if rule.returns_to_zero and least <= low + tolerance and most >= high - tolerance and \
                abs(float(values[-1])) <= tolerance and _largest_step(values[:-1]) > 1.5 * given_step:
            # both ends reached, back at 0, a leap on the way, not into its last row: rows left out (a path of its
            # own, 0 → −5 → 5 → 0 in even steps where the header's loop goes on to −5, is a sweep stopped early, as is
            # one stopped at +5 with a last row at 0)
            return False, [f"rows missing: {frame.height} of the {rows} rows {implied}, though it swept "
                           f"{least:g}…{most:g} and came back to 0 (rows deleted or lost inside it)", *coarser]
        return False, [f"aborted: {frame.height} of the {rows} rows {implied}", *coarser]
    read = _readings(values, least, most)  # an overflow mark is a gap, not a reach
    if (shift := _shifted(least, most, low, high, step)) is not None:  # all setpoints offset: the sweep whole
        extra = _extra_rows(values, frame.height, rows, given_step, rule.column) if rows is not None else []
        notes = [f"{rule.column} sweeps {least:g}…{most:g}, its header's {low:g}…{high:g} shifted by {shift:+g} (a "
                 "setpoint offset?)", *extra, *_sweep_jump(values, least, most, given_step, rule.column), *coarser]
        if (stopped := _stopped_short(rule, values, given_step or step, shift)) is not None:
            return False, [stopped, *notes]
        return True, notes
    if read.size and (float(read.min()) < low - tolerance or float(read.max()) > high + tolerance):
        # more rows than the header's sweep then say nothing of two sweeps in one file
        extra = [f"{rule.column} reaches {float(read.min()):g}…{float(read.max()):g}, beyond its header's sweep of "
                 f"{low:g}…{high:g}: its header written for another sweep?"]
    else:
        extra = _extra_rows(values, frame.height, rows, given_step, rule.column) if rows is not None else []
    # rows out of order (a leap) say why it may leave 0 the other way
    extra += _sweep_jump(values, least, most, given_step, rule.column) or _other_way(rule, values, start, tolerance)
    extra += coarser
    if least > low + tolerance or most < high - tolerance:
        if rows is None or frame.height < rows or values.size == frame.height or \
                least > low + 1.01 * step or most < high - 1.01 * step:
            return False, [f"aborted: the sweep covered {least:g}…{most:g} of {low:g}…{high:g}", *extra]
        extra.append(f"{rule.column} reads {least:g}…{most:g} of {low:g}…{high:g} with every row there: its turns "
                     "unread (NaN)")  # (NaN at the turns: the rows are all there, the reach a step short)
    if two_sizes and (missed := _corner_missed(rule, values, start, end, 0.51 * given_step)) is not None:
        return False, [f"aborted: the sweep never reached {missed:g} on its way {rule.path} {start:g} → {end:g}",
                       *extra]
    if (stopped := _stopped_short(rule, values, given_step or _median_step(values) or step)) is not None:
        if rows is not None and frame.height >= rows and _in_value_order(values):  # every row, sorted by Vg: it
            return True, [*extra, f"its rows are in the order of {rule.column}'s values, not of the sweep's path "
                                  "(sorted in a spreadsheet?): every row there"]  # was "stopped at 5 V"
        return False, [stopped, *extra]
    return True, extra


def _other_way(rule: Completeness, values: np.ndarray, start: float, tolerance: float) -> list[str]:
    """A note when a sweep whose path leaves 0 toward its start (`loop`, `through_zero`) first goes the other way:
    its header's limits swapped (the manifest's summary reads `VG:-5→5` of a sweep that went to +5 first)."""
    import numpy as np  # loaded by `finite_values` already

    if rule.path == "once" or not abs(start) > tolerance:
        return []
    away = np.flatnonzero(np.abs(values) > tolerance)
    if not away.size or (first := float(values[away[0]])) * start > 0:
        return []
    return [f"{rule.column} leaves 0 {'upward' if first > 0 else 'downward'}, though its header's "
            f"{rule.start_parameter} is {start:g}: the sweep ran the other way round (its header's limits swapped?)"]


def _largest_step(values: np.ndarray) -> float:
    """The widest step between two rows of a sweep."""
    import numpy as np  # loaded by `finite_values` already

    return float(np.abs(np.diff(values)).max()) if values.size > 1 else 0.0


def _in_value_order(values: np.ndarray) -> bool:
    """Whether a sweep's rows run in the order of its values, one way (a loop never does: it turns)."""
    import numpy as np  # loaded by `finite_values` already

    steps = np.diff(values)
    return bool((steps >= 0).all() or (steps <= 0).all())


def _shifted(least: float, most: float, low: float, high: float, step: float) -> float | None:
    """How far a sweep's data lie from its header's limits when they span its width, shifted by up to two of its
    steps (−4.95…5.05 for −5…5: every setpoint offset, not a sweep cut short); None when they are not (further, its
    header was written for another sweep)."""
    shift, tolerance = least - low, 0.51 * step
    if abs(shift) <= tolerance or abs((most - least) - (high - low)) > tolerance or abs(shift) > 2.01 * step:
        return None
    return shift


def _stopped_short(rule: Completeness, values: np.ndarray, step: float, origin: float = 0.0) -> str | None:
    """Why a sweep that returns to 0 (`origin`, a shifted one's) did not: its last point further than a step from it
    (the header's step, else the data's own: a sweep cut at +5 V was complete when its `VG step` line was missing or
    unreadable)."""
    last = float(values[-1])
    if not rule.returns_to_zero or not abs(last - origin) > 1.01 * (step or _median_step(values)):
        return None
    return f"aborted: the sweep stopped at {last:g} instead of returning to {origin:g}"


def _extra_rows(values: np.ndarray, height: int, rows: int, step: float, column: str) -> list[str]:
    """A note when a sweep has half as many rows again as its parameters imply (a few more are the real sweeps'
    points around 0 V): finer steps than its header says, else two sweeps in one file."""
    if 2 * height <= 3 * rows or values.size < 2:  # a single finite value: the rows are gaps, said elsewhere
        return []
    if not (taken := _median_step(values)):  # most rows at a point already read: "steps by 0" said nothing
        return [f"{column} repeats its points (most rows at the value of the row before): {height} rows for the "
                f"{rows} its sweep parameters imply"]
    if taken < 0.75 * step:
        return [f"{column} steps by {taken:g} where its header says {step:g}: {height} rows for its {rows}"]
    return [f"{height} rows where its sweep parameters imply {rows}: two sweeps in one file (a run resumed?)"]


def _sweep_jump(values: np.ndarray, least: float, most: float, step: float, column: str) -> list[str]:
    """A note when the swept column leaps more than `SWEEP_JUMP_STEPS` of its header's steps between two rows (no
    real sweep leaps more than one): rows shuffled or sorted, a sweep resumed elsewhere."""
    import numpy as np  # loaded by `finite_values` already

    if not step > 0 or not (most - least) / step < MAX_SWEEP_STEPS:  # a step of 5e-324 V: no step to leap by
        return []  # (every row "leapt inf of its steps")
    values = _readings(values, least, most)
    if values.size < 2:
        return []
    jumps = np.abs(np.diff(values))
    if not jumps.max() > SWEEP_JUMP_STEPS * step:  # NaN-free: `finite_values`'s values
        return []
    at = int(np.argmax(jumps > SWEEP_JUMP_STEPS * step))
    steps = float(jumps[at]) / step  # a Python float: inf past 1e308, where NumPy's division warned on stderr
    return [f"{column} leaps from {values[at]:g} to {values[at + 1]:g} ({steps:.3g} of its {step:g} steps): rows out "
            "of order, or a sweep resumed elsewhere"]


def _time_disorder(times: np.ndarray, steps: np.ndarray, expected: float, column: str) -> list[str]:
    """A note when the time column goes back, or leaps past the whole run in one step (a stray row): two
    reductions for a run in order, as every real one is. `steps`: between the clock's readings `times`."""
    import numpy as np  # loaded by `finite_values` already

    if not steps.size or (steps.min() >= 0 and steps.max() <= expected):
        return []
    at = int(np.flatnonzero((steps < 0) | (steps > expected))[0])
    before, after = told_apart(times[at], times[at + 1])
    return [f"{column} {'goes back' if steps[at] < 0 else 'leaps'} from {before} to {after}: rows "
            "out of order, or two runs in one file (its duration and completeness are read from the span)"]


def _rows_missing(times: np.ndarray, steps: np.ndarray, frame: pl.DataFrame, spanned: float,
                  column: str) -> str | None:
    """A note when a run that spans its whole length has a stretch without rows inside it (ΔI and τ read across it
    were said only in the metrics' remarks, the run complete): one reduction more for a run in order. `times`: the
    readings of the clock, `steps` between them; rows whose time is NaN or an overflow mark are there, and no gap
    is read across them."""
    import numpy as np  # loaded by `finite_values` already

    usual = spanned / max(steps.size, 1)
    limit = max(ROWS_MISSING_SPACINGS * usual, ROWS_MISSING_SHARE * spanned)
    if not steps.size or steps.max() <= limit:
        return None  # every real run: its widest step alone read
    if times.size != frame.height:  # rows whose time is unread are there: each step less their usual time
        clock = frame.get_column(snake_column(column)).to_numpy()
        steps = steps - (np.diff(np.flatnonzero(np.isfinite(clock) & (np.abs(clock) < NO_READING))) - 1) * usual
    at = int(steps.argmax())
    if steps[at] <= limit:
        return None
    before, after = told_apart(times[at], times[at + 1])
    leap = float(times[at + 1] - times[at])
    usual = (spanned - leap) / max(steps.size - 1, 1)  # the interval of the rows there (the gap stretched it)
    return (f"rows missing: {column} leaps from {before} to {after}, about {round(leap / usual) - 1} rows at its "
            "usual interval, though the run reaches its end (rows deleted or lost inside it)")


def _read_span(values: np.ndarray) -> tuple[np.ndarray, float, float]:
    """A clock's values without overflow marks (`_readings`), and their least and greatest: one mark of 9.9e37
    in an aborted run's t made it complete, its duration 9.9e37 s."""
    least, most = float(values.min()), float(values.max())
    if (read := _readings(values, least, most)) is not values and read.size:
        return read, float(read.min()), float(read.max())
    return values, least, most


def _readings(values: np.ndarray, least: float, most: float) -> np.ndarray:
    """`values` (whose least and greatest are given) without overflow marks: a gap, which the metrics say."""
    if least > -NO_READING and most < NO_READING:  # every real run: no copy
        return values
    import numpy as np  # loaded by `finite_values` already

    read: np.ndarray = values[np.abs(values) < NO_READING]
    return read


def _lit_at_its_end(frame: pl.DataFrame) -> bool:
    """Whether the laser switched on during the run (its VL column dark at the start) and was still on at its last
    samples, more of them than a misread VL: a pulse (dark, lit, dark, as every timed run is) cut short."""
    vl = finite_values(frame, LASER_COLUMN)
    if vl is None:
        return False
    vl = vl[vl < NO_READING]  # an overflow mark is no reading
    return bool(vl.size > 2 * FLICKER_SAMPLES and vl[0] < LIGHT_THRESHOLD_V
                and (vl[-(FLICKER_SAMPLES + 1):] >= LIGHT_THRESHOLD_V).all())


def _number(header: Header, key: str | None) -> float | None:
    """A parameter as typed when the procedure knows it (in its unit, out-of-range values left empty), else parsed
    as any number."""
    if not key or key not in header.raw:
        return None
    spec = header.spec.parameters.get(key)
    if spec is not None:
        return header.fields.get(spec.field)
    value = parse_number(header.raw[key], ANY_UNIT)
    return value if value is not None and math.isfinite(value) else None


def _step_range(values: np.ndarray, median_step: float) -> tuple[float, float]:
    """The finest and the widest step a sweep whose median step is `median_step` takes (5th and 95th percentiles:
    a row dropped leaves a step twice as wide, no second size), leaving out the repeats and float rounding at its
    turns."""
    import numpy as np  # loaded by `finite_values` already

    from labtui.core.metrics.arrays import percentiles

    with np.errstate(all="ignore"):
        steps = np.abs(np.diff(values))
    steps = steps[steps > 0.2 * median_step]
    if not steps.size:
        return median_step, median_step
    finest, widest = percentiles(steps, (5, 95))
    return finest, widest


def _corner_missed(rule: Completeness, values: np.ndarray, start: float, end: float, tolerance: float) -> float | None:
    """The first corner of the sweep's path (`Completeness.path_points`: 0 → start → end → start → 0 for a loop) its
    data never reach in order, within `tolerance`; None when they reach each (the return to 0 is `_stopped_short`'s
    to judge). A loop of two step sizes cut on its way back still spanned its header's limits."""
    import numpy as np  # loaded by `finite_values` already

    points = rule.path_points(start, end)
    at = 0
    for corner in points[1:] if rule.path == "once" else points[1:-1]:
        reached = np.flatnonzero(np.abs(values[at:] - corner) <= tolerance)
        if not reached.size:
            return corner
        at += int(reached[0]) + 1
    return None


def _median_step(values: np.ndarray) -> float:
    """The median |step| between successive values; 0 for fewer than two (`median`, not `np.median`, which imports
    numpy.ma the first time)."""
    import numpy as np  # loaded by `finite_values` already

    from labtui.core.metrics.arrays import median

    with np.errstate(all="ignore"):  # steps near ±1e308 overflow to inf: then 1 % bounds it (and no warning)
        return median(np.abs(np.diff(values))) if values.size > 1 else 0.0
