"""Which rules of reading a raw file a manifest row was made by, readable without Polars or Pydantic.

Each row records `EXTRACTION_RULES` as it was when the row was made; a stage reads again every raw file whose row
is older (a plain `labtui stage` after an upgrade, no `restage --force`), so a store never keeps values that this
labtui would read differently from the same file.
"""

# Bump when a rule changes what a row or a run's data holds for the same raw file. 0: a row made before rows
# recorded it. 1: header values read back PyMeasure's `unicode_escape` ('medici\xf3n' → 'medición', '100 \xb5A' a
# number in A); a negative zero is zero ('VG: -0.0 V'); a value in a prefixed unit is divided by an exact power of
# ten ('10 uA' → 1e-05 A, was 9.999999999999999e-06); a carriage return that ends a field inside a row rejects it.
# 2: a sweep that stops away from 0 is aborted also when its header's step is missing or unreadable (judged by the
# data's own step); a quote left open in a text column rejects the file (it swallowed the rows up to the next one).
# 3: a row records its procedure's registry entry (`procedure_rules`), which a later edit of the entry is judged by.
# 4: a column name's letters outside ASCII are spelt in it (`I (µA)` stored as `i_ua`, was `i_a`; `Δt (s)` as
# `delta_t_s`, was `t_s`, which rejected a file that also had `t (s)`); a text parameter of `None` (PyMeasure's unset
# value) is no value (`Chip group name: None` filed chip 80 as `None80`; 39 real files' `Information: None`); a text
# column's bytes that are no UTF-8 are read as latin-1, and spaces or tabs after a number are read past (each file
# was rejected). 5: a carriage return alone before a header line's '#' ends the line before it (the two lines were one
# value, the second parameter lost; above `#Data:`, the file was rejected); a column spelt otherwise than the registry
# spells one of the same stored name is that column (`Vg(V)`, `VG (V)`: a required one was missing, a text one was
# read as numbers); a `#procedure:` or `# Procedure :` tag is the `#Procedure:` line, and a parameter the registry
# reads nothing from, given twice with two values, keeps the first (each file was rejected). 6: a sweep that returns
# to 0 and whose limits cannot be read is judged by its data (cut away from 0, it was complete); an unterminated last
# line of every field, the last one `nan`, is a whole row (it was dropped as cut); a value in another prefix of a
# prefixed unit (`0.455 um` for nm) is converted (it was left empty).
# 7: an unterminated last line whose last number has an exponent of as many digits as the row before's is a whole
# row (a calibration saved without its last line end lost its 5 V point); a header key written with its unit
# (`VDS (V): 0.1`) is the key, the unit the value's (the field was lost unsaid); a loop swept start → end → start,
# every step of it, is complete (it was aborted against the path 0 → start → end → start → 0).
# 8: a sweep whose data step 1.5× or more its header's step is judged at its own step (a whole loop at 0.1 V
# under `VG step: 0.05 V` was aborted); an `Information` or `Procedure version` given twice with two values keeps
# the first (the file was rejected); text that is not UTF-8 is read as Windows-1252, not latin-1 (its dashes and
# quotes were stored as C1 controls); a `<Group><Number>_<idx>` file name over a header of that chip number without
# a group gives the group (the run was filed as chip `67`); a registered column written in another prefix of its
# unit (`I (mA)`, `t (ms)`) is that column, its values in SI (the file was rejected as missing `I (A)`); a parameter
# given again after a line that left it unset (`None`, empty) takes the second value.
# 9: a sweep whose data span its header's limits shifted by up to a tenth of the span (every setpoint offset) is
# whole, and said so (it was aborted as "covered −4.95…5.05 of −5…5"); an overflow mark in a run's clock is no
# end of it (one of 9.9e37 made an aborted run complete, its duration 9.9e37 s); a sweep with every row, its turns
# NaN, is whole and said (it was aborted as "covered −4.95…4.95 of −5…5"); a data column named `chip_name`,
# `filename` or `run_keys`, as the README's recipes name a column they add, is stored with a trailing `_`; a sweep
# of two step sizes (fine near 0, coarse beyond) is judged by the corners of its path, its steps said (against the
# rows its median step implies it was "two sweeps in one file", its step said as the median, 0.125 V, which it never
# takes); a loop
# with every row, sorted by Vg, is whole and said (it "stopped at 5 instead of returning to 0").
# 10: a unit's micro prefix spelt another way than the registry's (`µA`, `μA`, `uA`) is that unit (the value was
# left empty); a key written with its unit beside the key itself (`VDS: 0.1 V`, `VDS (V): 0.5`) is one parameter
# given twice, a conflict in either order (the second was kept apart, unsaid); one non-number written twice (`NaN V`,
# `nan V`) is no conflict (the file was rejected); a sweep whose header's step is no step of it (1e-300 V) is judged
# by its data's (it was "aborted: stopped at -0.0095 instead of returning to 0").
# 11: an It run that spans its whole length with a stretch of rows missing inside it (over 20 of its mean sample
# intervals and 2 % of its span) is not complete, and said (it was complete, unsaid, as IVg's is since 10).
# 12: a header key with spaces beside a sign (`Laser ON + OFF period`) is the registry's key (the period was lost,
# and the run counted complete).
# 13: `Laser toggle: False` beside a laser voltage makes the run dark (a voltage left set had made it lit).
# 14: an older acquisition's one `Chip: Alisson80` parameter names the chip (such runs were rejected).
# 15: a `Laser toggle` of `0`, `off` or `disabled` is off too.
# 16: a `Chip` of `Alisson-80`, `Alisson_80` or `80` names chip 80 of that group (a separator was read as part of the
# group), and one too large for a chip number is said so.
# 17: a period in `sec`, `Sec` or `seconds` is read as seconds; an It run without a readable period whose laser was
# still on at its last samples is aborted (it counted complete: "cannot judge completeness"); a header number with a
# minus sign (U+2212, `−0.4 V`) or an en dash for one is read (it was left empty); a Start time in ISO 8601 with its
# offset is read (the run was rejected).
# 18: a Start time with UTC named by a word (`2025-10-13 16:08:04 UTC`, `GMT`, a lower-case `z`) is read (the run was
# rejected as "not a Unix time in seconds").
EXTRACTION_RULES = 18
