"""The execution cache must not hide a change to `worked` (book/_ext/worked_book.py).

jupyter-cache keys a chapter on its own code cells and Sphinx re-reads only changed sources,
so without the extension's code key an edit of a `worked` module leaves the old outputs on
the page. Here: a key that follows the imports between modules, and a two-page book built
twice with the cache on, with a module edited in between.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "book" / "_ext"))
import worked_book  # noqa: E402

JUPYTER_BOOK = Path(sys.executable).parent / "jupyter-book"
FRONT = """\
---
jupytext:
  text_representation:
    extension: .md
    format_name: myst
kernelspec:
  display_name: Python 3
  language: python
  name: python3
---
"""
CONFIG = f"""\
title: cache check
only_build_toc_files: true
execute:
  execute_notebooks: cache
sphinx:
  local_extensions:
    worked_book: {ROOT / "book" / "_ext"}
  config:
    worked_problems_file: problems.yml
    worked_mutants_dir: mutants
"""


@pytest.fixture
def code_dir(tmp_path):
    worked = tmp_path / "code" / "worked"
    worked.mkdir(parents=True)
    (worked / "__init__.py").write_text("")
    (worked / "base.py").write_text("VALUE = 1\n")
    (worked / "middle.py").write_text("from .base import VALUE\n\nDOUBLE = 2 * VALUE\n")
    (worked / "other.py").write_text("NAME = 'other'\n")
    return worked


def test_the_key_follows_imports_between_modules(code_dir):
    chapter = "```{code-cell} ipython3\nfrom worked.middle import DOUBLE\n```\n"
    key = worked_book.code_key(chapter, code_dir)
    assert key and worked_book.code_key("no imports here\n", code_dir) == ""
    (code_dir / "other.py").write_text("NAME = 'changed'\n")
    assert worked_book.code_key(chapter, code_dir) == key  # not imported: same key
    (code_dir / "base.py").write_text("VALUE = 3\n")  # imported through middle
    assert worked_book.code_key(chapter, code_dir) != key
    key = worked_book.code_key(chapter, code_dir)
    (code_dir / "__init__.py").write_text("from .base import VALUE\n")  # the package itself
    assert worked_book.code_key(chapter, code_dir) != key


def test_the_key_is_written_into_the_kernelspec_only():
    text = FRONT + "\nfrom worked.base import VALUE\n"
    marked = worked_book.KERNELSPEC.sub(r"\1  worked_code: abc\n", text, count=1)
    assert marked == text.replace("kernelspec:\n", "kernelspec:\n  worked_code: abc\n")


def build(book):
    env = {**os.environ, "PYTHONPATH": str(book / "code")}
    run = subprocess.run([str(JUPYTER_BOOK), "build", str(book), "--warningiserror"],
                         capture_output=True, text=True, env=env, timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr
    return {page: (book / "_build" / "html" / f"{page}.html").read_text() for page in ("uses", "free")}


def test_editing_an_imported_module_re_executes_only_its_chapters(tmp_path, code_dir):
    (tmp_path / "_config.yml").write_text(CONFIG)
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: uses\nchapters:\n- file: free\n")
    (tmp_path / "problems.yml").write_text("sources: {}\nproblems: []\n")
    (tmp_path / "uses.md").write_text(
        FRONT + "\n# Uses\n\n```{code-cell} ipython3\nfrom worked.middle import DOUBLE\n"
        "print(f'double is {DOUBLE}')\n```\n")
    (tmp_path / "free.md").write_text(
        FRONT + "\n# Free\n\n```{code-cell} ipython3\nimport uuid\nprint(f'run {uuid.uuid4()}')\n```\n")
    first = build(tmp_path)
    assert "double is 2" in first["uses"]
    (code_dir / "base.py").write_text("VALUE = 5\n")  # imported by uses.md through middle
    second = build(tmp_path)
    assert "double is 10" in second["uses"] and "double is 2" not in second["uses"]
    assert second["free"] == first["free"]  # same run id: not executed again
    download = (tmp_path / "_build" / "html" / "_sources" / "uses.ipynb").read_text()
    assert "double is 10" in download and "worked_code" not in download  # the key stays internal
