"""Which `worked` functions each problem's section uses, and which unit tests check them.

    .venv/bin/python tools/problem_code.py            # print, per problem, the proposed entries
    .venv/bin/python tools/problem_code.py --write    # write them into book/problems.yml

A problem's section is the chapter text from its label `(ID)=` to the next problem label. A
function "used" there is a name imported from a `worked` module (other than plotting) that a
code cell of the section mentions; its tests are the files code/tests/test_<module>.py
with a test function whose source mentions it. The build (book/_ext/worked_book.py)
checks the entries written into problems.yml; this script only proposes them.
"""
from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import yaml
from myst_nb.core.read import read_myst_markdown_notebook

ROOT = Path(__file__).resolve().parents[1]
IMPORT = re.compile(r"^from worked\.(\w+) import \(?([\w,\s]+?)\)?\s*$", re.M)
LABEL = re.compile(r"^\((?P<id>[\w-]+)\)=\s*$", re.M)
SKIP = {"plotting"}


def test_functions(module: str) -> dict[str, str]:
    """{test function name: its source} of code/tests/test_<module>.py."""
    path = ROOT / "code" / "tests" / f"test_{module}.py"
    if not path.exists():
        return {}
    source = path.read_text(encoding="utf-8")
    body = ast.parse(source).body
    found = {node.name: ast.get_source_segment(source, node) for node in body
             if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")}
    tables = [node for node in body if isinstance(node, (ast.Assign, ast.AnnAssign))]
    if found and tables:  # e.g. the table a parametrized test runs over
        found["<module>"] = "\n".join(ast.get_source_segment(source, n) for n in tables)
    return found


def defines(module: str, name: str) -> bool:
    """Whether code/worked/<module>.py defines a function or class ``name`` (not a constant)."""
    tree = ast.parse((ROOT / "code" / "worked" / f"{module}.py").read_text(encoding="utf-8"))
    return any(isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name == name
               for node in tree.body)


def chapter_uses(path: Path, ids: set[str]) -> dict[str, list[tuple[str, str]]]:
    """{problem id: [(module, name), ...]} for one chapter, in order of first use."""
    nb = read_myst_markdown_notebook(path.read_text(encoding="utf-8"), path=str(path))
    imported = {}
    for cell in nb.cells:
        if cell.cell_type == "code":
            for module, names in IMPORT.findall(cell.source):
                for name in names.replace("\n", " ").split(","):
                    if name.strip() and module not in SKIP:
                        imported[name.strip()] = module
    imported = {name: module for name, module in imported.items() if defines(module, name)}
    uses, current = {}, None
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            labels = [m["id"] for m in LABEL.finditer(cell.source) if m["id"] in ids]
            if labels:
                current = labels[-1]
                uses.setdefault(current, [])
        elif current is not None:
            words = set(re.findall(r"\b\w+\b", re.sub(r"#.*", "", cell.source)))
            for name, module in imported.items():
                if name in words and (module, name) not in uses[current]:
                    uses[current].append((module, name))
    return uses


def proposals() -> dict[str, dict[str, list[str]]]:
    data = yaml.safe_load((ROOT / "book" / "problems.yml").read_text(encoding="utf-8"))
    ids = {p["id"] for p in data["problems"]}
    toc = (ROOT / "_toc.yml").read_text(encoding="utf-8")
    out = {}
    for chapter in re.findall(r"file: (book/[\w-]+)", toc):
        for pid, used in chapter_uses(ROOT / f"{chapter}.md", ids).items():
            code = [f"{module}.{name}" for module, name in used]
            tests = []
            for module, name in used:
                for source in test_functions(module).values():
                    entry = f"test_{module}.py"
                    if re.search(rf"\b{re.escape(name)}\b", source) and entry not in tests:
                        tests.append(entry)
            out[pid] = {"code": code, "tests": tests}
    return out


def write(found: dict[str, dict[str, list[str]]]) -> None:
    """Set `code:` and `tests:` in each problem's one-line flow mapping of problems.yml."""
    path = ROOT / "book" / "problems.yml"
    lines = path.read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines):
        m = re.match(r"^(\s*- \{id: (?P<id>[\w-]+),.*?)(?:, code: \[.*?\], tests: \[.*?\])?\}$", line)
        if m and m["id"] in found and found[m["id"]]["code"]:
            entry = found[m["id"]]
            lines[i] = (f"{m[1]}, code: [{', '.join(entry['code'])}], "
                        f"tests: [{', '.join(entry['tests'])}]}}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    found = proposals()
    if "--write" in sys.argv:
        write(found)
    for pid, entry in found.items():
        print(pid, entry)
