"""Format the code cells of the chapters with ruff, and keep every shown line within the column.

    .venv/bin/python tools/format_cells.py            # rewrite book/*.md in place
    .venv/bin/python tools/format_cells.py --check    # exit 1 if a cell would change or is too wide
    .venv/bin/python tools/format_cells.py book/x.md  # only these chapters

A chapter's code cells are the bodies of its ```{code-cell} fences, after the cell's options
(a `---`-delimited YAML block or `:key: value` lines), which are left as they are. Each body is
formatted by `ruff format` with the project's settings (`ruff.toml`: the line length the book's
column shows on a desktop), all cells of a run in one ruff call. Ruff does not split comments
or strings, so a line can stay too long after formatting: those are reported (chapter, line
number, length) and make the run fail, to be shortened by hand. The width that counts is
``MAX_WIDTH``, read from ruff.toml, so the formatter and this check cannot disagree.
"""
from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAX_WIDTH = tomllib.loads((ROOT / "ruff.toml").read_text(encoding="utf-8"))["line-length"]
OPENING = re.compile(r"^(`{3,})\{code-cell\}")


@dataclass
class Cell:
    chapter: Path
    first: int  # index in the chapter's lines of the body's first line
    body: list[str]


def cells(chapter: Path, lines: list[str]) -> list[Cell]:
    """The code cells of a chapter: for each, where its body starts and the body's lines."""
    found = []
    i = 0
    while i < len(lines):
        m = OPENING.match(lines[i])
        if not m:
            i += 1
            continue
        closing = re.compile(r"^%s`*\s*$" % m.group(1))
        end = next(j for j in range(i + 1, len(lines)) if closing.match(lines[j]))
        start = i + 1
        if start < end and lines[start].strip() == "---":  # YAML options block
            start = next(j for j in range(start + 1, end) if lines[j].strip() == "---") + 1
        while start < end and lines[start].startswith(":"):  # short-form options
            start += 1
        found.append(Cell(chapter, start, lines[start:end]))
        i = end + 1
    return found


def ruff_format(bodies: list[str]) -> list[str]:
    """Each body formatted by ruff (one call for all), without the final newline ruff adds."""
    with tempfile.TemporaryDirectory() as tmp:
        paths = [Path(tmp) / f"cell_{n:04d}.py" for n in range(len(bodies))]
        for path, body in zip(paths, bodies):
            path.write_text(body + "\n", encoding="utf-8")
        ruff = Path(sys.executable).parent / "ruff"
        subprocess.run([str(ruff), "format", "--quiet", "--config", str(ROOT / "ruff.toml"),
                        *map(str, paths)], check=True)
        return [path.read_text(encoding="utf-8").rstrip("\n") for path in paths]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("chapters", nargs="*", type=Path)
    parser.add_argument("--check", action="store_true", help="change nothing; fail on any change")
    args = parser.parse_args(argv)
    chapters = args.chapters or sorted((ROOT / "book").glob("*.md"))
    texts = {c: c.read_text(encoding="utf-8").split("\n") for c in chapters}
    found = [cell for c in chapters for cell in cells(c, texts[c])]
    formatted = ruff_format(["\n".join(cell.body) for cell in found])
    problems = []
    for cell, new in reversed(list(zip(found, formatted))):  # from the end: indices stay valid
        old = "\n".join(cell.body)
        new_lines = new.split("\n") if new else []
        if new != old:
            if args.check:
                problems.append(f"{cell.chapter}:{cell.first + 1}: cell not formatted (ruff format)")
            else:
                texts[cell.chapter][cell.first:cell.first + len(cell.body)] = new_lines
        for n, line in enumerate(new_lines):
            if len(line) > MAX_WIDTH:
                problems.append(f"{cell.chapter}:{cell.first + n + 1}: {len(line)} characters "
                                f"(the column shows {MAX_WIDTH}): {line.strip()[:50]}")
    if not args.check:
        for chapter, lines in texts.items():
            text = "\n".join(lines)
            if text != chapter.read_text(encoding="utf-8"):
                chapter.write_text(text, encoding="utf-8")
    for problem in sorted(problems):
        print(problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
