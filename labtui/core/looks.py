"""How a plot tells its runs and groups apart, in the app's terminal plot and in a figure alike: the palette and
its dash families, the looks of groups past the palette, and the sequential map runs past it are coloured along by
seq. matplotlib is imported only where a colour is taken from its map."""

from __future__ import annotations

from functools import cache

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from typing import Protocol

    from matplotlib.colors import Colormap

    class Grouped(Protocol):
        """A figure's `Trace` or a plot's `Series`: what `groups` reads."""

        @property
        def label(self) -> str: ...
        @property
        def run_index(self) -> int: ...
        @property
        def group(self) -> str: ...
        @property
        def group_index(self) -> int: ...


# Okabe & Ito (2008), the palette most journals point to: distinguishable with every common colour-vision
# deficiency. Yellow is last: it is faint on white.
OKABE_ITO = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442")
# Runs past the palette's length get the next dash family; backward sweep legs are dashed within their family.
DASHES = (("-", "--"), (":", "-."))
# Groups (a trend's wavelengths; past `PALETTE_RUNS` runs, a calibration's) past the palette's length: each its own
# colour along the sequential map, in their order (by wavelength), and the next of these (marker, dash), so that
# neighbours on the map, close in colour, differ in shape too. The palette's colours again with another marker read
# as the first wavelengths (680 nm as 365 nm), and ran out past 16.
GROUP_LOOKS = (("o", "-"), ("s", "--"), ("^", "-."), ("D", ":"))
# Runs with a look of their own (a colour and a dash family). Past them, looks would repeat (a chip's 40 sweeps read
# as 16): each run takes its colour along a sequential map by its seq, and a colour bar replaces the entry per run,
# as a paper shows a chip's drift over weeks. viridis stops at 0.9: its yellow end is faint on white.
PALETTE_RUNS = len(OKABE_ITO) * len(DASHES)
SEQ_MAP_END = 0.9


def groups(series: Iterable[Grouped], *, points: bool, looks: int) -> dict[int, str]:
    """A plot's groups, each one's index and legend label, in their order: a trend's series (`points`), or past the
    `looks` runs at several wavelengths (calibrations and It runs, `plotdata.shape.BY_WAVELENGTH`) the wavelengths,
    as a colour by seq would not tell which λ a curve is. Empty: a look per run. The figure and the app's plot alike."""
    series = tuple(series)
    if points:
        return {one.run_index: one.label for one in series}
    if places(series) > looks and len({one.group for one in series}) > 1:
        return dict(sorted((one.group_index, one.group) for one in series))
    return {}


def places(series: Iterable[Grouped]) -> int:
    """The runs a plot's looks are shared out over: a run's `run_index` is its place in the selection, the excluded
    runs counted whether drawn or not (`plotdata.load.with_places`), so whether the runs are past the palette is
    decided over the selection too, not over the runs drawn (which wrapped places past the palette onto the first)."""
    return max((one.run_index for one in series), default=-1) + 1


def series_style(run_index: int, direction: int) -> tuple[str, str]:
    """(colour, line style) of a trace: one colour per run, dashed for a backward sweep leg."""
    color = OKABE_ITO[run_index % len(OKABE_ITO)]
    family = DASHES[(run_index // len(OKABE_ITO)) % len(DASHES)]
    return color, family[direction < 0]


def group_style(index: int, count: int, direction: int) -> tuple[str, str, str]:
    """(colour, line style, marker) of group `index` of `count`: up to the palette's length a run's look (a circle
    for a point, dashed for a backward leg); past it its place along the sequential map and `GROUP_LOOKS`."""
    if count <= len(OKABE_ITO):
        return OKABE_ITO[index], DASHES[0][direction < 0], GROUP_LOOKS[0][0]
    from matplotlib.colors import to_hex

    marker, dash = GROUP_LOOKS[index % len(GROUP_LOOKS)]
    return to_hex(sequential_map()(index / (count - 1))), dash, marker


def seq_orders(seqs: Mapping[int, int | None]) -> tuple[dict[int, int], bool]:
    """Each run's place (by its run index) on the colour scale of runs past the palette: its seq; where a run is
    outside a chip's history (no seq), every run's place in the plot from 1, as a seq and a place are not on one
    scale. And whether the places are seqs. The figure's colour bar and the app's plot use it alike."""
    named = None not in seqs.values()
    return {index: seq if named and seq is not None else index + 1 for index, seq in seqs.items()}, named


@cache
def sequential_map() -> Colormap:
    """viridis to `SEQ_MAP_END`: the colours of runs by seq and of groups past the palette."""
    import numpy as np  # loaded with matplotlib already
    from matplotlib import colormaps
    from matplotlib.colors import ListedColormap

    return ListedColormap(colormaps["viridis"](np.linspace(0.0, SEQ_MAP_END, 256)))
