"""Tests of the built site in _build/html (run after the strict build: `make test` does both).

They check what a reader relies on: every problem ID is an anchor exactly once, the problem index
links every solved problem to its anchor and marks the rest as not solved, and every page with
executed code offers its executed notebook as a valid nbformat-4 file with outputs, which runs
top to bottom outside the site.
"""

import functools
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from urllib.parse import urljoin, urlparse

import nbformat
import pytest
import yaml
from bs4 import BeautifulSoup
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[2]
HTML = ROOT / "_build" / "html"
PROBLEMS = yaml.safe_load((ROOT / "book" / "problems.yml").read_text())["problems"]
SOLVED = {p["id"] for p in PROBLEMS if p.get("solved")}

if not (HTML / "book" / "problem-index.html").exists():
    pytest.fail("the site is not built: run `make book` (or `make test`, which builds first)", pytrace=False)


def pages():
    return sorted((HTML / "book").glob("*.html"))


@functools.lru_cache(maxsize=None)
def soup(path):
    return BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")


def resolve(page, href):
    """The file that a relative link on ``page`` points to, and its fragment."""
    url = urlparse(urljoin(page.relative_to(HTML).as_posix(), href))
    return HTML / url.path, url.fragment


@pytest.fixture(scope="module")
def anchors():
    """Problem ID -> list of pages on which an element has that id."""
    found = {p["id"]: [] for p in PROBLEMS}
    for page in pages():
        for element in soup(page).find_all(id=True):
            if element["id"] in found:
                found[element["id"]].append(page.name)
    return found


def test_every_problem_id_is_an_anchor_exactly_once(anchors):
    assert {pid: where for pid, where in anchors.items() if len(where) != 1} == {}


DATA = yaml.safe_load((ROOT / "book" / "problems.yml").read_text())
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
BASEURL = CONFIG["html"]["baseurl"]
REFRESH = re.compile(r"^0; url=(?P<url>.+)$")


def redirect_target(page):
    """Where a redirect page (meta refresh) sends the reader: (file, fragment)."""
    meta = soup(page).find("meta", attrs={"http-equiv": re.compile("refresh", re.I)})
    assert meta is not None, f"{page} is not a redirect"
    return resolve(page, REFRESH.match(meta["content"])["url"])


def test_problem_index_links_every_problem_grouped_by_assignment():
    """One table per course and assignment, in the data file's order of sources; every problem
    in exactly one row; a solved one links to its anchor and to its stable address."""
    index = HTML / "book" / "problem-index.html"
    tree = soup(index)
    groups = [h["id"] for h in tree.select("h2.problem-index-group")]
    assert groups == [f"index-{key}" for key in DATA["sources"]]
    rows = tree.select("table.problem-index tbody tr")
    assert sorted(row["id"] for row in rows) == sorted(f"index-{p['id']}" for p in PROBLEMS)
    by_source = {p["id"]: p["source"] for p in PROBLEMS}
    for heading in tree.select("h2.problem-index-group"):
        table = heading.find_next("table")
        ids = [row["id"].removeprefix("index-") for row in table.select("tbody tr")]
        assert {by_source[pid] for pid in ids} == {heading["id"].removeprefix("index-")}
    for row in rows:
        pid = row["id"].removeprefix("index-")
        links = row.find_all("a")
        if pid in SOLVED:
            solution = next(a for a in links if a.get_text(strip=True) == "solution")
            address = row.select_one("a.problem-address")
            target, fragment = resolve(index, solution["href"])
            assert fragment == pid and soup(target).find(id=pid) is not None, solution["href"]
            assert address.get_text(strip=True) == pid
            assert redirect_target(resolve(index, address["href"])[0]) == (target, pid)
        else:
            assert links == [] and "not solved yet" in row.get_text()


def test_question_order_within_an_assignment():
    """Numbered questions in numeric order (Q1.2 before Q1.10), whatever the book's order."""
    tree = soup(HTML / "book" / "problem-index.html")
    question = {p["id"]: p["question"] for p in PROBLEMS}
    for table in tree.select("table.problem-index"):
        numbered = [question[row["id"].removeprefix("index-")] for row in table.select("tbody tr")]
        numbered = [q for q in numbered if re.match(r"Q\d", q)]
        keys = [[int(x) if i % 2 else x for i, x in enumerate(re.split(r"(\d+)", q))]
                for q in numbered]
        assert keys == sorted(keys), numbered


def test_every_solved_problem_has_a_stable_address_that_leads_to_it(anchors):
    """p/<ID>.html is a valid little page that sends the reader to the problem's anchor on the
    page that holds it now; each problem's heading shows that address."""
    for pid in sorted(SOLVED):
        page = HTML / "p" / f"{pid}.html"
        assert page.exists(), pid
        text = page.read_text(encoding="utf-8")
        assert text.startswith("<!DOCTYPE html>") and soup(page).title.get_text(strip=True)
        target, fragment = redirect_target(page)
        assert (target.name, fragment) == (anchors[pid][0], pid)
        section = soup(target).find(id=pid)
        section = section if section.name == "section" else section.find_parent("section")
        link = section.select_one("p.problem-link a.problem-link-address")
        assert link is not None and resolve(target, link["href"])[0] == page, pid


def test_moved_problems_forward_from_their_old_page(anchors):
    """Links pasted before a problem moved (old-page.html#ID) still reach it: the old page
    carries a script that forwards each moved ID to the page that holds it now."""
    assert DATA["moved"], "the data file lists moved problems"
    for old, pids in DATA["moved"].items():
        page = HTML / f"{old}.html"
        script = next(s.string for s in soup(page).find_all("script")
                      if s.string and "location.replace" in s.string)
        targets = json.loads(re.search(r"var t=(\{.*?\})\[", script)[1])
        assert sorted(targets) == sorted(pids)
        for pid, href in targets.items():
            target, fragment = resolve(page, href)
            assert fragment == pid and target.name == anchors[pid][0] and target != page


def test_link_previews_and_sitemap_use_the_configured_address():
    """Every chapter has an Open Graph title, description and URL under html.baseurl, and
    sitemap.xml lists every chapter under the same address."""
    assert BASEURL.endswith("/")
    for page in pages():
        tree = soup(page)
        og = {m["property"]: m["content"] for m in tree.find_all("meta", property=True)}
        url = BASEURL + page.relative_to(HTML).as_posix()
        assert og.get("og:url") == url, page.name
        assert og.get("og:title") and len(og.get("og:description", "")) > 40, page.name
        assert tree.find("meta", attrs={"name": "description"})["content"]
    sitemap = (HTML / "sitemap.xml").read_text(encoding="utf-8")
    listed = set(re.findall(r"<loc>([^<]+)</loc>", sitemap))
    assert {BASEURL + p.relative_to(HTML).as_posix() for p in pages()} <= listed
    assert all(url.startswith(BASEURL) for url in listed)


def test_solved_sections_are_not_placeholders_and_unsolved_ones_say_so():
    for page in pages():
        for section in soup(page).select("section[id]"):
            if section["id"] in {p["id"] for p in PROBLEMS}:
                placeholder = section.select_one(".admonition.unsolved")
                assert (placeholder is None) == (section["id"] in SOLVED), section["id"]


def notebook_pages():
    """Pages with executed code cells, with the href of their .ipynb download link (or None)."""
    result = []
    for page in pages():
        html = soup(page)
        if html.select(".cell .cell_input"):
            links = [a["href"] for a in html.find_all("a", href=True) if a["href"].endswith(".ipynb")]
            result.append((page, links[0] if links else None))
    return result


def test_solved_chapters_are_executed_pages():
    solved_pages = {p for pid in SOLVED for p in [next(pg for pg in pages() if soup(pg).find(id=pid))]}
    assert solved_pages <= {page for page, _ in notebook_pages()}


WIDTH = tomllib.loads((ROOT / "ruff.toml").read_text())["line-length"]


@pytest.mark.parametrize("page", [page for page, _ in notebook_pages()], ids=lambda p: p.name)
def test_printed_output_lines_fit_the_column(page):
    """Text a cell prints (streams and plain-text results, as the page shows them) is at most
    ruff.toml's line length wide, like the code: the column shows that many characters."""
    outputs = soup(page).select(".cell_output pre")
    assert outputs, "no printed output found: has the theme's output markup changed?"
    wide = [f"{len(line)} characters: {line[:50]}" for pre in outputs
            for line in pre.get_text().split("\n") if len(line) > WIDTH]
    assert wide == []


@pytest.mark.parametrize("page,href", notebook_pages(), ids=lambda x: getattr(x, "name", str(x)))
def test_chapter_offers_its_executed_notebook(page, href):
    assert href is not None, f"{page.name} has code cells but no .ipynb download"
    path, _ = resolve(page, href)
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.nbformat == 4
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert any(c.outputs for c in code), "the download has no outputs: it was not executed"
    assert all(c.execution_count is not None for c in code[1:]), "some cells did not run"
    if any(re.search(r"^\s*(from|import)\s+worked\b", c.source, re.M) for c in code):
        assert 'find_spec("worked") is None' in code[0].source and "pip" in code[0].source


def fresh_copy(page):
    """The downloaded notebook of ``page`` with its outputs and execution counts cleared."""
    href = dict(notebook_pages())[page]
    nb = nbformat.read(resolve(page, href)[0], as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return nb


def executed_record(page):
    """The notebook the build executed for ``page`` (in a fresh kernel, one per chapter: myst-nb
    or book/_ext/parallel_execute.py), as stored in the execution cache: its newest record."""
    from jupyter_cache import get_cache

    source = str((ROOT / page.relative_to(HTML)).with_suffix(".md"))
    cache = get_cache(str(ROOT / "_build" / ".jupyter_cache"))
    records = [r for r in cache.list_cache_records() if r.uri == source]
    assert records, f"no executed notebook of {source} in the cache"
    return cache.get_cache_bundle(max(records, key=lambda r: r.created).pk).nb


def chapter_code(page):
    """The code cells of the chapter's source, as the build reads them."""
    from myst_nb.core.read import read_myst_markdown_notebook

    path = (ROOT / page.relative_to(HTML)).with_suffix(".md")
    nb = read_myst_markdown_notebook(path.read_text(encoding="utf-8"), path=str(path))
    return [c.source for c in nb.cells if c.cell_type == "code"]


@pytest.mark.parametrize("page", [page for page, _ in notebook_pages()], ids=lambda p: p.name)
def test_downloaded_notebook_is_the_one_the_build_executed(page):
    """Instead of running every download again (19 chapters in series, the slowest part of the
    tests), prove that each download is what already ran top to bottom in a fresh kernel during
    the build: its code cells are the chapter's code cells, in order, and its outputs are the
    executed ones; only the install cell is added (the fresh-environment test below runs it).
    No chapter reads a file, so running outside book/ changes nothing (checked too)."""
    href = dict(notebook_pages())[page]
    download = nbformat.read(resolve(page, href)[0], as_version=4)
    code = [c for c in download.cells if c.cell_type == "code"]
    if re.search(r'find_spec\("worked"\) is None', code[0].source):
        code = code[1:]
    executed = [c for c in executed_record(page).cells if c.cell_type == "code"]
    source = chapter_code(page)
    assert [c.source for c in code] == source == [c.source for c in executed]
    assert [c.outputs for c in code] == [c.outputs for c in executed]
    assert all(c.execution_count is not None for c in executed)
    reads_files = re.compile(r"\bopen\(|np\.load|torch\.load|read_csv|read_text|Path\(")
    assert not [line for cell in source for line in cell.splitlines() if reads_files.search(line)]


def test_a_downloaded_notebook_runs_top_to_bottom_in_a_fresh_kernel(tmp_path):
    """One download run again outside the site, in a fresh kernel and a scratch folder (the
    cheapest chapter with `worked` and figures; every chapter ran so in the build)."""
    nb = fresh_copy(HTML / "book" / "dropout.html")
    NotebookClient(nb, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    assert all(c.execution_count for c in nb.cells if c.cell_type == "code")


def test_install_cell_installs_worked_in_a_fresh_environment(tmp_path):
    """A virtual environment with the notebook's libraries but without `worked`: the first cell
    of the downloaded decoding chapter installs it (from this checkout's code/, through
    WORKED_INSTALL_SPEC; a copy, as pip builds in the source folder) and the notebook then runs
    to the end."""
    venv, notebook = tmp_path / "fresh", tmp_path / "decoding.ipynb"
    nbformat.write(fresh_copy(HTML / "book" / "decoding.html"), notebook)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    libraries = ["numpy", "matplotlib", "torch", "ipykernel", "nbclient", "nbformat"]
    subprocess.run([python, "-m", "pip", "install", "-q", "-c", str(ROOT / "requirements.txt"), *libraries], check=True)
    assert subprocess.run([python, "-c", "import worked"], capture_output=True).returncode != 0
    run = (f"import nbformat, nbclient; nb = nbformat.read({str(notebook)!r}, 4); "
           f"nbclient.NotebookClient(nb, timeout=600, kernel_name='python3').execute(); "
           f"assert all(c.execution_count for c in nb.cells if c.cell_type == 'code')")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    source = shutil.copytree(ROOT / "code", tmp_path / "code", ignore=shutil.ignore_patterns("tests", "*.egg-info", "build"))
    env |= {"WORKED_INSTALL_SPEC": str(source), "PATH": f"{venv / 'bin'}:{env['PATH']}"}
    subprocess.run([python, "-c", run], check=True, env=env, cwd=tmp_path)
    where = subprocess.run([python, "-c", "import worked; print(worked.__file__)"], capture_output=True, text=True, check=True)
    assert where.stdout.strip()


def test_internal_links_and_anchors_resolve():
    """Every link from a page of the site to the site itself reaches an existing file and, when
    it names a fragment, an element with that id (external links are not checked here)."""
    broken = []
    for page in HTML.rglob("*.html"):
        if "_static" in page.parts:
            continue
        for a in soup(page).find_all("a", href=True):
            href = a["href"]
            if urlparse(href).scheme or href.startswith(("mailto:", "javascript:")):
                continue
            target, fragment = resolve(page, href) if href.split("#")[0] else (page, href[1:])
            if target.is_dir():
                target = target / "index.html"
            if not target.exists():
                broken.append(f"{page.relative_to(HTML)}: {href}")
            elif fragment and target.suffix == ".html" and soup(target).find(id=fragment) is None:
                broken.append(f"{page.relative_to(HTML)}: {href} (no such anchor)")
    assert broken == []


def test_every_formula_is_an_image_with_its_spoken_form():
    """Math is typeset at build time: each formula is an SVG image on the site, whose alt text
    is what a screen reader says; no TeX is left for a browser to typeset."""
    formulas = 0
    for page in pages():
        tree = soup(page)
        for math in tree.select(".math"):
            # inline: the image alone in Sphinx's span; display: in a scrolling container
            path = ":scope > img.formula" if math.name == "span" else ":scope > mjx-container > img.formula"
            img = math.select_one(path)
            assert img is not None, (page.name, str(math)[:200])
            if math.name == "span":  # one element per inline formula (the page budget's largest item)
                assert len(math.find_all(True)) == 1, (page.name, str(math)[:200])
            assert img["alt"].strip() and "\\" not in img["alt"], (page.name, img["alt"])
            assert (page.parent / img["src"]).resolve().is_file(), (page.name, img["src"])
            formulas += 1
    assert formulas > 500


def test_every_figure_has_a_descriptive_alt_text():
    for page in pages():
        for img in soup(page).select("article img"):
            if "formula" in img.get("class", []):
                continue  # a formula: see the previous test
            alt = img.get("alt", "")
            assert len(alt.split()) >= 8 and not re.search(r"\.(png|svg|jpe?g)$", alt), (page.name, img["src"], alt)


# The page budget that keeps every chapter fast on a phone (Lighthouse, mobile preset: total
# blocking time grows with the elements a page lays out): a chapter that outgrows it is split,
# as decoding was into decoding and beam search. The largest chapters have about 2700 elements
# and 200 KB since inline formulas are one element each (book/_ext/fast_pages.py).
MAX_ELEMENTS, MAX_KB = 3000, 225


def test_every_chapter_stays_within_the_page_budget():
    over = {}
    for page in pages():
        text = page.read_text(encoding="utf-8")
        elements = len(soup(page).find_all(True))
        if elements > MAX_ELEMENTS or len(text.encode()) > MAX_KB * 1024:
            over[page.name] = (elements, len(text.encode()) // 1024)
    assert over == {}, f"(elements, KB) over ({MAX_ELEMENTS}, {MAX_KB}): split these chapters"
