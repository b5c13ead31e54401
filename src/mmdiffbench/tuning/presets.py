"""Write a chosen setting into a model YAML's `presets.<dataset>`, keeping every comment.

PyYAML drops comments on a round trip, and the model YAMLs are mostly comments (each value's
source), so this edits the text: it finds the top-level `presets:` block, replaces or appends the
dataset's entry in block style, keeps the entry's other keys and comments, and replaces the
values of the tuned keys and the comment lines an earlier run of the same grid wrote.
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from mmdiffbench.config import ConfigError, coerce, dataset_preset, default_settings, model_file
from mmdiffbench.experiments import registry


def model_yaml(model: str) -> Path:
    """The package's YAML of `model`, the file `--write` edits."""
    return Path(str(resources.files("mmdiffbench") / "configs" / f"{model}.yaml"))


def scalar(value: Any) -> str:
    """`value` as a one-line YAML scalar or flow list that reads back as the same value."""
    return yaml.safe_dump(value, default_flow_style=True, width=10_000).removesuffix("\n...\n").strip()


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _split_comment(text: str) -> tuple[str, str]:
    """(value, ' # comment' or '') of the text after a key's colon; a '#' inside quotes is not one."""
    match = re.search(r"\s+#", text)
    if match is None or text.count("'", 0, match.start()) % 2 or text.count('"', 0, match.start()) % 2:
        return text.strip(), ""
    return text[: match.start()].strip(), text[match.start() :].rstrip()


def _block(lines: list[str], origin: str) -> tuple[int, int]:
    """(index of the `presets:` line, end of its block); a flow `presets: {}` becomes a block."""
    start = next((i for i, line in enumerate(lines) if re.match(r"presets:(\s|$)", line)), None)
    if start is None:
        raise ConfigError(f"{origin}: no top-level `presets:` section")
    value, comment = _split_comment(lines[start][len("presets:") :])
    if value not in ("", "{}"):
        raise ConfigError(f"{origin}: write `presets:` in block style (one dataset per line) to have it edited")
    lines[start] = f"presets:{comment}"
    end = start + 1
    while end < len(lines) and (not lines[end].strip() or lines[end][0] in " \t"):
        end += 1
    while end > start + 1 and not lines[end - 1].strip():
        end -= 1
    return start, end


def _kept_children(head_value: str, children: list[str], indent: str, tuned: set[str], marker: str) -> list[str]:
    """The entry's lines that stay: its other keys and comments, minus the tuned keys and `marker` lines."""
    if head_value:  # flow style `baby: {a: 1}`: its other keys, one per line
        parsed = yaml.safe_load(head_value)
        if not isinstance(parsed, dict):
            raise ConfigError(f"preset entry {head_value!r} is not a map")
        return [f"{indent}{k}: {scalar(v)}" for k, v in parsed.items() if k not in tuned]
    kept, dropping = [], False
    for line in children:
        stripped = line.strip()
        deeper = _indent(line) > len(indent)
        if dropping and (deeper or not stripped):
            continue  # continuation of a tuned key's value
        key = re.match(r"([A-Za-z0-9_]+):", stripped)
        dropping = bool(key and key.group(1) in tuned and not deeper)
        if dropping or re.match(rf"# {re.escape(marker)}[: ]", stripped):
            continue
        kept.append(line)
    return kept


def preset_entry(
    text: str, dataset: str, values: dict[str, Any], comments: list[str], marker: str, origin: str = "model YAML"
) -> list[str]:
    """The lines of `presets.<dataset>` after setting `values` (the tuned keys) with `comments` above them."""
    lines = text.splitlines()
    start, end = _block(lines, origin)
    found = _find_entry(lines, start, end, dataset)
    indent = _entry_indent(lines, start, end)
    child = indent * 2
    head_comment, kept = "", []
    if found is not None:
        i, j = found
        head_value, head_comment = _split_comment(lines[i].split(":", 1)[1])
        children = lines[i + 1 : j]
        child = next((line[: _indent(line)] for line in children if line.strip()), child)
        kept = _kept_children(head_value, children, child, set(values), marker)
    return [
        f"{indent}{dataset}:{head_comment}",
        *[f"{child}# {c}" for c in comments],
        *kept,
        *[f"{child}{key}: {scalar(value)}" for key, value in values.items()],
    ]


def _entry_indent(lines: list[str], start: int, end: int) -> str:
    """The indentation of the block's entries (two spaces in an empty block)."""
    first = next((line for line in lines[start + 1 : end] if line.strip() and not line.strip().startswith("#")), None)
    return first[: _indent(first)] if first else "  "


def _find_entry(lines: list[str], start: int, end: int, dataset: str) -> tuple[int, int] | None:
    """(first line, end) of the dataset's entry inside the block, None when it has none."""
    indent = _entry_indent(lines, start, end)
    pattern = re.compile(rf"{re.escape(indent)}{re.escape(dataset)}:(\s|$)")
    for i in range(start + 1, end):
        if pattern.match(lines[i]):
            j = i + 1
            while j < end and (not lines[j].strip() or _indent(lines[j]) > len(indent)):
                j += 1
            while j > i + 1 and not lines[j - 1].strip():
                j -= 1
            return i, j
    return None


def set_preset(
    text: str, dataset: str, values: dict[str, Any], comments: list[str], marker: str, origin: str = "model YAML"
) -> str:
    """`text` with `presets.<dataset>` holding `values` (other keys and every other comment kept)."""
    entry = preset_entry(text, dataset, values, comments, marker, origin)
    lines = text.splitlines()
    start, end = _block(lines, origin)
    found = _find_entry(lines, start, end, dataset)
    i, j = found if found is not None else (end, end)
    lines[i:j] = entry
    return "\n".join(lines) + ("\n" if text.endswith("\n") else "")


def check_keys(model: str, values: dict[str, Any]) -> dict[str, Any]:
    """`values` converted to the defaults' types; ConfigError unless every key is a setting of
    `model` and its value has the default's type."""
    defaults = default_settings(model)
    checked = {}
    for key, value in values.items():
        if key not in defaults:
            raise ConfigError(f"{model}: {key!r} is not a setting of the model; known: {', '.join(sorted(defaults))}")
        checked[key] = coerce(key, value, defaults[key])
    return checked


def grid_chosen(model: str, dataset: str) -> tuple[str, ...]:
    """The settings of `model`'s preset for `dataset` that its validation grid (`tune.<model>`)
    sweeps: empty when it runs there at its reference defaults. A preset may also hold switches
    no grid chose (GRCN's `recompute` on Sports), which do not count."""
    entry = registry().get(f"tune.{model}")
    preset = dataset_preset(model_file(model), dataset)
    return tuple(axis for axis in (entry.sweep_axes if entry else ()) if axis in preset)
