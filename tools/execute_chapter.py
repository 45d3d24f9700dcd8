"""Execute one chapter (a MyST Markdown notebook under book/) in a fresh kernel, without Sphinx.

    .venv/bin/python tools/execute_chapter.py book/dropout.md [--timeout 900] [--outputs]

Reads the chapter as myst-nb does (the same converter the build uses), runs its code cells
in order with the working directory the build uses (book/), and stops at the first failing
cell: exit status 1 and the cell's error on stderr. Exit status 0 when every cell ran.
Use it to check one chapter quickly, or a mutant (the mutation suite uses it). The first
line of the error names the failing code cell (counted from 1) and its exception.
With --outputs, the text each code cell printed or returned goes to stdout, headed by the
cell's number: what to compare the chapter's prose with, without a build.
"""
from __future__ import annotations

import argparse
import signal
import sys
import time
from pathlib import Path

import nbformat
from myst_nb.core.read import read_myst_markdown_notebook
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError


def read_chapter(path: Path) -> nbformat.NotebookNode:
    return read_myst_markdown_notebook(path.read_text(encoding="utf-8"), path=str(path))


def first_error(nb: nbformat.NotebookNode) -> str:
    """"code cell N (`first line`): Name: message" for the first code cell with an error."""
    code_cells = [c for c in nb.cells if c.cell_type == "code"]
    for number, cell in enumerate(code_cells, 1):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                line = next((x for x in cell.source.splitlines() if x.strip()), "")
                message = str(output.get("evalue", "")).strip().splitlines()
                detail = f'{output.get("ename", "Error")}: {message[0] if message else ""}'
                return f"code cell {number} (`{line.strip()[:60]}`): {detail}"
    return ""


def failing_cell(nb: nbformat.NotebookNode, err: CellExecutionError) -> str:
    """``first_error``, or, when the error output never reached the notebook (its IOPub message
    can arrive after the reply on a loaded machine), the last code cell that started, with the
    error of the reply."""
    found = first_error(nb)
    if found:
        return found
    code_cells = [c for c in nb.cells if c.cell_type == "code"]
    started = [n for n, c in enumerate(code_cells, 1) if c.get("execution_count") is not None]
    number = started[-1] if started else 1
    line = next((x for x in code_cells[number - 1].source.splitlines() if x.strip()), "")
    message = str(getattr(err, "evalue", "")).strip().splitlines()
    return (f"code cell {number} (`{line.strip()[:60]}`): {getattr(err, 'ename', 'Error')}: "
            f"{message[0] if message else ''}")


def text_outputs(nb: nbformat.NotebookNode) -> str:
    """Each code cell's stream and plain-text outputs, headed "--- code cell N"."""
    parts = []
    code_cells = [c for c in nb.cells if c.cell_type == "code"]
    for number, cell in enumerate(code_cells, 1):
        texts = []
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream":
                texts.append(output.get("text", ""))
            elif "text/plain" in output.get("data", {}):
                texts.append(output["data"]["text/plain"] + "\n")
        if texts:
            parts.append(f"--- code cell {number}\n" + "".join(texts))
    return "".join(parts)


def execute(path: Path, timeout: int = 900, nb: nbformat.NotebookNode | None = None
            ) -> tuple[bool, str, float]:
    """Run the chapter (into ``nb`` if given, read from ``path``); return (ok, error text,
    seconds). The error text's first line is ``first_error``'s summary, then the full
    traceback."""
    nb = read_chapter(path) if nb is None else nb
    client = NotebookClient(
        nb, timeout=timeout, kernel_name="python3", iopub_timeout=60,
        resources={"metadata": {"path": str(path.parent.resolve())}},
    )
    start = time.perf_counter()
    try:
        client.execute()
    except CellExecutionError as err:
        return False, f"{failing_cell(nb, err)}\n{err}", time.perf_counter() - start
    return True, "", time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("chapter", type=Path)
    parser.add_argument("--timeout", type=int, default=900)
    parser.add_argument("--outputs", action="store_true",
                        help="print each code cell's text outputs")
    args = parser.parse_args(argv)
    # On SIGTERM (e.g. the mutation suite's time limit) unwind, so that the client shuts the
    # kernel down: it runs in a session of its own and would outlive a killed process group.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    nb = read_chapter(args.chapter)
    ok, error, seconds = execute(args.chapter, args.timeout, nb)
    if args.outputs:
        print(text_outputs(nb), end="")
    if not ok:
        print(error, file=sys.stderr)
        print(f"{args.chapter}: FAILED after {seconds:.1f} s", file=sys.stderr)
        return 1
    print(f"{args.chapter}: every cell ran in {seconds:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
