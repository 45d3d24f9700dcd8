"""Execute one chapter (a MyST Markdown notebook under book/) in a fresh kernel, without Sphinx.

    .venv/bin/python tools/execute_chapter.py book/dropout.md [--timeout 900] [--out x.ipynb]

Reads the chapter as myst-nb does (the same converter the build uses), runs its code cells
in order with the working directory the build uses (book/), and stops at the first failing
cell: exit status 1 and the cell's error on stderr. Exit status 0 when every cell ran.
Use it to check one chapter quickly, or a mutant (the mutation suite uses it).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import nbformat
from myst_nb.core.read import read_myst_markdown_notebook
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError


def read_chapter(path: Path) -> nbformat.NotebookNode:
    return read_myst_markdown_notebook(path.read_text(encoding="utf-8"), path=str(path))


def execute(path: Path, timeout: int = 900) -> tuple[bool, str, float]:
    """Run the chapter; return (ok, error text, seconds)."""
    nb = read_chapter(path)
    client = NotebookClient(
        nb, timeout=timeout, kernel_name="python3",
        resources={"metadata": {"path": str(path.parent.resolve())}},
    )
    start = time.perf_counter()
    try:
        client.execute()
    except CellExecutionError as err:
        return False, str(err), time.perf_counter() - start
    return True, "", time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("chapter", type=Path)
    parser.add_argument("--timeout", type=int, default=900)
    args = parser.parse_args(argv)
    ok, error, seconds = execute(args.chapter, args.timeout)
    if not ok:
        print(error, file=sys.stderr)
        print(f"{args.chapter}: FAILED after {seconds:.1f} s", file=sys.stderr)
        return 1
    print(f"{args.chapter}: every cell ran in {seconds:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
