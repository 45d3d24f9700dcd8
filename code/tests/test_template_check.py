"""Build tests of the chapter-template check (book/_ext/worked_book.py) on a one-page book.

A problem marked solved must have every part of the template and a mutant (book/mutants/*.yml,
for `make mutate`), a problem with a wrong source answer must also have "Common mistakes" with
an executed check, an unsolved one must be a placeholder, and every problem must be a section
label exactly once; otherwise the strict build fails and says why. Execution is off here: the check looks at the cells' source.
"""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
JUPYTER_BOOK = Path(sys.executable).parent / "jupyter-book"

CONFIG = f"""\
title: template check
only_build_toc_files: true
execute:
  execute_notebooks: "off"
parse:
  myst_enable_extensions: [dollarmath, amsmath, colon_fence]
sphinx:
  extra_extensions: [sphinx_proof]
  local_extensions:
    worked_book: {ROOT / "book" / "_ext"}
  config:
    worked_problems_file: problems.yml
    worked_mutants_dir: mutants
"""
PROBLEMS = """\
sources:
  demo: {course: "Demo course", assignment: "Assignment 1"}
problems:
  - {id: demo-q1, source: demo, question: "Q1", summary: "A solved problem", solved: true, mistakes: true}
  - {id: demo-q2, source: demo, question: "Q2", summary: "A problem not solved yet"}
"""
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

# Chapter
"""
PARTS = {
    "problem": ":::{admonition} Problem (Demo course, Assignment 1, Q1)\n:class: problem\nState it.\n:::\n",
    "result": ":::{prf:proposition} Result\nIt holds.\n:::\n",
    "derivation": ":::{prf:proof}\nBecause.\n:::\n",
    "assertion": "```{code-cell} ipython3\nassert 1 + 1 == 2\n```\n",
    "mistakes": "### Common mistakes\n\nA wrong answer.\n\n```{code-cell} ipython3\nassert 1 + 1 != 3\n```\n",
}
MUTANTS = """\
- problem: demo-q1
  file: chapter.md
  find: "assert 1 + 1 == 2"
  replace: "assert 1 + 1 == 3"
  why: "a wrong sum"
"""
PLACEHOLDER = ":::{admonition} Not solved yet\n:class: unsolved\nLater.\n:::\n"


def build(tmp_path, page, config=CONFIG, mutants=MUTANTS):
    (tmp_path / "_config.yml").write_text(config)
    (tmp_path / "mutants").mkdir(exist_ok=True)
    (tmp_path / "mutants" / "chapter.yml").write_text(mutants)
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: chapter\n")
    (tmp_path / "problems.yml").write_text(PROBLEMS)
    (tmp_path / "chapter.md").write_text(page)
    run = subprocess.run([str(JUPYTER_BOOK), "build", str(tmp_path), "--warningiserror", "--keep-going"],
                         capture_output=True, text=True)
    return run.returncode, run.stdout + run.stderr


def chapter(q1_parts, q2=PLACEHOLDER, q1_label="(demo-q1)=\n"):
    q1 = "\n".join(PARTS[p] for p in q1_parts)
    return f"{FRONT}\n{q1_label}## First\n\n{q1}\n(demo-q2)=\n## Second\n\n{q2}"


@pytest.mark.parametrize("missing,message", [
    ("problem", "lacks a problem box"),
    ("result", "lacks a result"),
    ("derivation", "lacks a derivation"),
    ("assertion", "lacks an executed code cell with an assertion"),
    ("mistakes", 'lacks "Common mistakes"'),
])
def test_a_solved_section_missing_a_part_fails_the_build(tmp_path, missing, message):
    code, log = build(tmp_path, chapter([p for p in PARTS if p != missing]))
    assert code != 0 and f"problem demo-q1 (chapter) is marked solved but {message}" in log


@pytest.mark.parametrize("mutants", ["[]\n", MUTANTS.replace("demo-q1", "demo-q2")])
def test_a_solved_problem_without_a_mutant_fails_the_build(tmp_path, mutants):
    code, log = build(tmp_path, chapter(PARTS), mutants=mutants)
    assert code != 0
    assert "problem demo-q1 (chapter) is marked solved but has no mutant in mutants/*.yml" in log


def test_a_problem_box_must_name_the_source_question(tmp_path):
    page = chapter(PARTS).replace("Assignment 1, Q1)", "Assignment 1)")
    code, log = build(tmp_path, page)
    assert code != 0 and 'lacks the source "Q1" in the problem box title' in log


def test_an_unsolved_problem_must_be_a_placeholder(tmp_path):
    code, log = build(tmp_path, chapter(PARTS, q2="Some text that claims nothing.\n"))
    assert code != 0 and "problem demo-q2 (chapter): not marked solved, so its section must be a placeholder" in log


def test_a_missing_label_fails_the_build(tmp_path):
    code, log = build(tmp_path, chapter(PARTS, q1_label=""))
    assert code != 0 and "problem demo-q1: found as a section label 0 times, expected once" in log


def test_fold_code_switch_folds_the_code_of_problem_sections(tmp_path):
    code, log = build(tmp_path, chapter(PARTS), CONFIG + "    worked_fold_code: true\n")
    assert code == 0, log
    html = (tmp_path / "_build" / "html" / "chapter.html").read_text()
    assert html.count("hide above-input") == 2  # the checking cell and the mistakes cell


def test_code_is_not_folded_by_default(tmp_path):
    code, log = build(tmp_path, chapter(PARTS))
    assert code == 0, log
    assert "hide above-input" not in (tmp_path / "_build" / "html" / "chapter.html").read_text()
