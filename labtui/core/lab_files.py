"""The files the lab edits (its config, chip parameters, procedure registry): read, or hashed, with a one-line
`ConfigError` naming the file and what is wrong when one cannot be."""

from __future__ import annotations

import os
import stat
from functools import cache
from pathlib import Path
from typing import Any

from labtui.core.errors import UsageError


class ConfigError(UsageError):
    """A config file that cannot be read or does not validate; the message says which file and why."""


def file_sha256(path: Path, what: str) -> str:
    """SHA-256 of a regular file's bytes, or a one-line `ConfigError` naming `what` (a FIFO is never opened: it
    would wait for a writer)."""
    import hashlib

    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            raise ConfigError(f"{what} {path} is not a regular file")
        with open(path, "rb") as handle:
            return hashlib.file_digest(handle, "sha256").hexdigest()
    except OSError as exc:
        raise ConfigError(f"cannot read {what} {path}: {exc.strerror or exc}") from None


def parse_yaml(text: str) -> Any:
    """YAML's safe subset, parsed by libyaml when PyYAML has it (20× faster than the pure-Python parser: the
    registry takes 10 ms instead of 60); `yaml.YAMLError` for text that is not YAML, or has a key twice."""
    import yaml  # here: a run without a YAML file to read never loads the parser

    return yaml.load(text, Loader=_unique_keys_loader())


@cache
def _unique_keys_loader() -> type:
    """The safe loader, refusing a mapping with a key twice: YAML keeps the last silently, and in a file the lab
    edits that is a slip (a chip's entry copied for a new chip, its name left: the first chip's geometry replaced)."""
    import yaml

    class UniqueKeysLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
        def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
            first: dict[tuple[str, str], yaml.Node] = {}
            for key, _ in node.value:
                if not isinstance(key, yaml.ScalarNode) or key.tag == "tag:yaml.org,2002:merge":  # `<<:` may repeat
                    continue
                if (seen := first.setdefault((key.tag, key.value), key)) is not key:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"the key {key.value!r} appears twice (first on line {seen.start_mark.line + 1}): "
                        "YAML would keep the last silently", key.start_mark)
            return super().construct_mapping(node, deep)  # type: ignore[no-any-return]

    return UniqueKeysLoader


def read_yaml(path: Path, what: str) -> Any:
    """The data of a YAML file the lab edits, or a one-line `ConfigError` naming `what` and the file: unreadable,
    not UTF-8 (a file saved as Latin-1 or UTF-16 by a Windows editor), or not YAML (where, and what is wrong)."""
    import yaml  # here: a run without a YAML file to read never loads the parser

    try:
        if not stat.S_ISREG(os.stat(path).st_mode):  # `--config /dev/zero` read forever, a FIFO waited for a writer
            raise ConfigError(f"{what} {path} is not a regular file")
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{what} {path} is not UTF-8 text (byte {exc.start}): save it as UTF-8") from None
    except OSError as exc:
        raise ConfigError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    try:
        return parse_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{what} {path} is not valid YAML{where}: {problem}") from None
