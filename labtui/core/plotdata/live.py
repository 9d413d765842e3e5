"""The run being measured as a plot group: the rows of a growing raw file, drawn as a staged run would be."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import polars as pl

from labtui.core.extract import chip_name_of, has_light, local_date
from labtui.core.follow import FollowedRun
from labtui.core.plotdata.load import LoadedGroup, drawable_rows, kind_of, left_out


def live_group(run: FollowedRun, zone: ZoneInfo) -> LoadedGroup | None:
    """The rows read so far as a plot group, as `load_group` makes one from a staged run; None before the header."""
    header = run.header
    if header is None:
        return None
    fields = header.fields
    row = {
        "run_id": run.path.name,
        "proc": header.proc,
        "date_local": local_date(header.start_time_utc, zone),
        "file_idx": fields.get("file_idx"),
        "chip_name": chip_name_of(fields.get("chip_group"), fields.get("chip_number")),
        "has_light": has_light(header),
        **{name: fields.get(name) for name in ("laser_voltage_v", "laser_wavelength_nm", "laser_period_s",
                                               "vg_fixed_v")},
    }
    runs = pl.DataFrame([row])
    family = run.registry.family(header.proc)
    kind = kind_of(family, run.registry)
    if kind is None:
        return LoadedGroup(header.proc, runs.clear(), (), (f"no live plot for {header.proc} runs",))
    names = kind.columns
    if missing := [name for name in names if name not in run.frame.columns]:
        return LoadedGroup(header.proc, runs.clear(), (), (f"no {', '.join(missing)} column in {run.path.name}",))
    frame, absurd = drawable_rows(run.frame.select(names), kind.x, kind.y)
    messages = (left_out(absurd),) if absurd else ()
    if frame.is_empty():
        return LoadedGroup(header.proc, runs.clear(), (), (*messages, "no data rows yet"))
    return LoadedGroup(header.proc, runs, ({name: frame[name].to_numpy() for name in names},), messages, family, kind)

