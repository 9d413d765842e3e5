"""Write the figures' font: DejaVu Sans (matplotlib's own) cut to the characters a lab figure uses, kerning kept.

    .venv/bin/python scripts/figure_font.py

Why: a PDF with TrueType fonts (what journals accept) embeds a subset of each font, and matplotlib makes that subset
with fontTools on every save. On the full DejaVu Sans (5,800 glyphs, layout tables for dozens of scripts) that takes
about 0.3 s, a fifth of a `labtui plot`; on this cut it takes a few milliseconds. Glyphs outside the cut (a note in
another script) fall back to the full font: drawing.py lists both families. The Bitstream Vera licence lets a
modified font ship under another name without "Bitstream" or "Vera": it is named DejaVu Sans Labtui here, and the
licence goes beside it. Re-run after a matplotlib upgrade changes DejaVu Sans; the output is deterministic.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from fontTools import subset
from matplotlib import font_manager

TARGET = Path(__file__).resolve().parents[1] / "labtui" / "core" / "fonts"
FAMILY = "DejaVu Sans Labtui"
BLOCKS = (
    (0x0020, 0x007E),  # ASCII
    (0x00A0, 0x017F),  # Latin-1 (µ, °, ±, ×) and Latin Extended-A (names with accents)
    (0x0370, 0x03FF),  # Greek (λ, Δ, Ω, τ)
    (0x2010, 0x2044),  # dashes, quotes, bullet, ellipsis, primes
    (0x2070, 0x209F),  # superscripts and subscripts
    (0x2100, 0x214F),  # letterlike (℃, Ω, Å)
    (0x2190, 0x21FF),  # arrows
    (0x2200, 0x22FF),  # mathematical operators (−, ≈, ≤, ∞, √)
)


def main() -> None:
    source = Path(font_manager.findfont("DejaVu Sans", fallback_to_default=False))
    options = subset.Options()
    options.layout_features = ["kern"]  # matplotlib shapes text with kerning; no ligatures or marks in figures
    options.name_IDs = ["*"]
    options.notdef_outline = True
    options.drop_tables += ["MATH", "FFTM"]
    font = subset.load_font(str(source), options)
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=[code for low, high in BLOCKS for code in range(low, high + 1)])
    subsetter.subset(font)
    names = font["name"]
    for record in list(names.names):
        if record.nameID in (1, 3, 4, 6, 16):
            names.removeNames(nameID=record.nameID)
    for name_id, text in ((1, FAMILY), (3, f"{FAMILY}: subset of DejaVu Sans 2.35"), (4, FAMILY),
                          (6, FAMILY.replace(" ", ""))):
        names.setName(text, name_id, 3, 1, 0x409)
        names.setName(text, name_id, 1, 0, 0)
    TARGET.mkdir(parents=True, exist_ok=True)
    font.save(TARGET / "DejaVuSansLabtui.ttf")
    shutil.copyfile(source.parent / "LICENSE_DEJAVU", TARGET / "LICENSE_DEJAVU")
    print(f"wrote {TARGET / 'DejaVuSansLabtui.ttf'} ({(TARGET / 'DejaVuSansLabtui.ttf').stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
