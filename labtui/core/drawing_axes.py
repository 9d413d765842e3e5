"""How a figure's axes read: a time axis as local dates, a log axis in plain numbers, the dates of a trend by run's
measuring days above it. matplotlib is imported inside each function, as `drawing` imports it only to render."""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.ticker import LogFormatter


def date_axis(ax: Axes, day: str, zone: str, unit: str) -> None:
    """x, in hours or days from `day`'s midnight, ticked at whole days (hours) and written as local dates (times)."""
    import datetime as dt

    from matplotlib.ticker import FuncFormatter, MaxNLocator

    origin, per = dt.datetime.fromisoformat(day), dt.timedelta(days=1) if unit == "d" else dt.timedelta(hours=1)
    written = "%Y-%m-%d" if unit == "d" else "%m-%d %H:%M"
    steps = [1, 2, 5, 7, 10] if unit == "d" else [1, 2, 3, 6]  # whole days, a week; hours to a quarter of a day
    ax.xaxis.set_major_locator(MaxNLocator(nbins=6, integer=True, steps=steps))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: (origin + value * per).strftime(written)))
    ax.tick_params(axis="x", labelrotation=30)
    for label in ax.get_xticklabels():
        label.set_horizontalalignment("right")
    ax.set_xlabel(f"{'date' if unit == 'd' else 'local time'} ({zone})")


def log_axes(ax: Axes, *, x: bool, y: bool) -> None:
    """The axes asked for on a log scale, ticked in plain numbers in the axis unit (40, 60, 100 µA), not 4×10¹; one
    spanning less than a decade at round values, as a linear axis is (0.9 and 1 alone were labelled of a
    photoresponse's 0.9–1.7 µA), as the terminal's `log_ticks` does."""
    from matplotlib.ticker import FuncFormatter, MaxNLocator, NullFormatter

    if x:
        ax.set_xscale("log")
    if y:
        ax.set_yscale("log")
    for axis, limits in ((ax.xaxis, ax.get_xlim), (ax.yaxis, ax.get_ylim)):
        if axis.get_scale() != "log":
            continue
        low, high = sorted(limits())
        if high < 10 * low:
            axis.set_major_locator(MaxNLocator(nbins=4, steps=[1, 2, 2.5, 5, 10], min_n_ticks=3))  # 6 crowded its top
            axis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
            axis.set_minor_formatter(NullFormatter())
        else:
            axis.set_major_formatter(_plain_log_formatter())
            axis.set_minor_formatter(_plain_log_formatter(minor_thresholds=(1, 0.5)))


def _plain_log_formatter(minor_thresholds: tuple[float, float] | None = None) -> LogFormatter:
    """matplotlib's `LogFormatter` (which ticks it labels), each label a plain number: its own writes those below 1
    or above 10⁴ as `1e-01`, beside the `1000` of the next decade (a log axis in nA spans 0.01 … 1000)."""
    from matplotlib.ticker import LogFormatter

    class PlainLogFormatter(LogFormatter):
        def _num_to_string(self, x: float, vmin: float, vmax: float) -> str:
            return f"{x:g}"

    return PlainLogFormatter(labelOnlyBase=False, minor_thresholds=minor_thresholds)


def session_dates(ax: Axes, sessions: tuple[tuple[float, str], ...]) -> None:
    """Each measuring day's date on an axis above its line, spaced on the axes as laid out with the legend."""
    dates = ax.secondary_xaxis("top")
    dated = _spaced(ax, sessions)
    dates.set_xticks([at for at, _ in dated], labels=[day for _, day in dated],
                     fontsize="x-small", rotation=30, ha="left", rotation_mode="anchor")
    dates.tick_params(length=2, pad=1)
    # laid out again: the saved figure's layout is worked out from the artists as last drawn, and the y label's
    # place was the one before the first pass, which left it half off the figure
    figure_of(ax).draw_without_rendering()


SESSION_LABEL_GAP_IN = 0.22  # dates at 30° this far apart on the axis clear each other (x-small text)


def _spaced(ax: Axes, sessions: tuple[tuple[float, str], ...]) -> list[tuple[float, str]]:
    """The sessions whose dates are written: each at least SESSION_LABEL_GAP_IN from every other written (days one
    run apart, seq 1 and 2, wrote `2025-09-08` over `2025-10-15`), the days of the most runs first (the day of one
    run before a session of 35 took its place, and those 35 ran under the day before); on the axes as laid out
    (measured before the legend went beside them, the dates were spaced for axes a third wider); every session keeps
    its line."""
    figure_of(ax).draw_without_rendering()  # laid out: a legend beside the axes narrows them
    low, high = ax.get_xlim()
    gap = SESSION_LABEL_GAP_IN / (ax.get_position().width * figure_of(ax).get_figwidth()) * (high - low)
    ends = [at for at, _ in sessions[1:]] + [high]
    labelled: list[tuple[float, str]] = []
    for (at, day), _ in sorted(zip(sessions, ends, strict=True), key=lambda pair: pair[0][0] - pair[1]):
        if all(abs(at - written) >= gap for written, _ in labelled):
            labelled.append((at, day))
    return sorted(labelled)


def figure_of(ax: Axes) -> Figure:
    figure = ax.get_figure(root=True)
    assert figure is not None  # axes made by a figure's add_subplot
    return figure
