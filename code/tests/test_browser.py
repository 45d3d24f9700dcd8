"""Browser tests of the built site: Debian's Chromium, headless, driven by Playwright, against
_build/html served on 127.0.0.1. Without Chromium they are skipped with a message, except under
CI=true, where a missing browser is a failure (.ci/run installs it)."""

import os
import re
import shutil
import tomllib
from pathlib import Path
from urllib.parse import urlparse

import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
HTML = ROOT / "_build" / "html"
PROBLEMS = yaml.safe_load((ROOT / "book" / "problems.yml").read_text())["problems"]
SOLVED = [p["id"] for p in PROBLEMS if p.get("solved")]
# Debian's chromium; on GitHub's Ubuntu runners the preinstalled Google Chrome.
CHROMIUM = shutil.which("chromium") or shutil.which("google-chrome")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]

if CHROMIUM is None:
    if os.environ.get("CI") == "true":
        pytest.fail("no chromium: under CI the browser tests must run (.ci/run installs it)", pytrace=False)
    pytest.skip("chromium is not installed (apt-get install chromium): browser tests skipped",
                allow_module_level=True)

from playwright.sync_api import sync_playwright  # noqa: E402  (only when there is a browser)

# index.html and p/<ID>.html (problems' stable addresses) only redirect: tested apart.
PAGES = sorted(p.relative_to(HTML).as_posix() for p in HTML.rglob("*.html")
               if p.relative_to(HTML).parts[0] not in ("_static", "p", "index.html"))
MOVED = yaml.safe_load((ROOT / "book" / "problems.yml").read_text()).get("moved") or {}


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def open_page(browser, url, **context_options):
    """A page whose requests and errors are recorded: (page, foreign_requests, failed_local_responses).
    ``page.errors`` lists the script errors and console errors."""
    context = browser.new_context(accept_downloads=True, **context_options)
    page = context.new_page()
    local = urlparse(url).netloc
    foreign, failed = [], []

    def route(r):
        if urlparse(r.request.url).netloc == local or r.request.url.startswith(("data:", "blob:")):
            r.continue_()
        else:
            foreign.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    page.on("response", lambda resp: failed.append(f"{resp.status} {resp.url}") if resp.status >= 400 else None)
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    page.on("console", lambda message: page.errors.append(message.text) if message.type == "error" else None)
    page.goto(url, wait_until="load")
    return page, foreign, failed


@pytest.mark.parametrize("path", PAGES)
def test_page_is_self_contained_and_its_math_renders(browser, site, path):
    """No third-party or failing request, no script error, and every formula typeset (at build
    time, as an SVG image with its spoken form as alt text: no page loads MathJax)."""
    page, foreign, failed = open_page(browser, site + path)
    assert foreign == [], "requests to third-party hosts"
    assert failed == [], "local requests that failed"
    assert page.errors == [], "script or console errors"
    assert page.locator("script[src*=mathjax], script[src*=fontawesome]").count() == 0
    math = page.locator(".math").count()
    images = page.locator("span.math > img.formula, div.math > mjx-container > img.formula")
    assert images.count() == math
    assert all(alt.strip() for alt in images.evaluate_all("imgs => imgs.map(i => i.alt)")), "formulas without alt text"
    for i in range(min(math, 5)):  # lazy images: these come into view and load
        images.nth(i).scroll_into_view_if_needed()
        page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=images.nth(i).element_handle())
    prose = page.evaluate("""() => { const b = document.body.cloneNode(true);
        b.querySelectorAll('pre, code, script, style, .math').forEach(e => e.remove());
        return b.innerText; }""")
    assert "$$" not in prose and "\\[" not in prose and "\\(" not in prose, "unrendered TeX"
    page.context.close()


# axe-core from npm (package.json pins it; the copy inside the pip package axe-playwright-python
# lags behind and misses newer rules such as label-content-name-mismatch).
AXE = (ROOT / "node_modules" / "axe-core" / "axe.min.js").read_text()


AXE_RUN = "rules => axe.run(rules ? {runOnly: rules} : {}).then(r => r.violations.map(v => [v.id, v.nodes.map(n => n.target.join(' '))]))"


def show_every_section(page):
    """Lay out the sections that content-visibility (book.css) leaves unrendered until they come
    near the screen, as they are once the reader gets there; then let the ResizeObserver of
    lazy-sections.js run."""
    page.add_style_tag(content=".bd-article section { content-visibility: visible !important; }")
    page.evaluate("new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))")


@pytest.mark.parametrize("path", PAGES)
def test_page_has_no_accessibility_violations(browser, site, path):
    """axe-core with every rule enabled: on the page as loaded, as Lighthouse's audit sees it
    (axe cannot tell the background of a section not yet shown, axe-core issue #2768: that must
    not make it report a violation), and with every section shown, as the reader sees them."""
    page, _, _ = open_page(browser, site + path)
    page.add_script_tag(content=AXE)
    assert page.evaluate(AXE_RUN, None) == []
    show_every_section(page)
    assert page.evaluate(AXE_RUN, None) == []
    page.context.close()


def pages_with_folded_proofs():
    return [p for p in PAGES if 'class="proof dropdown admonition' in (HTML / p).read_text(encoding="utf-8")]


@pytest.mark.parametrize("path", pages_with_folded_proofs())
def test_proofs_are_folded_until_the_reader_opens_them(browser, site, path):
    """Try first: a derivation starts folded under its "Proof" title and opens on a click."""
    page, _, _ = open_page(browser, site + path, viewport={"width": 1200, "height": 900})
    show_every_section(page)  # a section not yet laid out has no text to read, nothing visible
    proofs = page.locator("div.proof.dropdown")
    assert proofs.count() > 0
    for i in range(proofs.count()):
        proof = proofs.nth(i)
        assert proof.locator("> .admonition-title").inner_text().strip() == "Proof"
        body = proof.locator("> :not(.admonition-title)").first
        assert not body.is_visible()
    first = proofs.first
    first.locator("> .admonition-title").click()
    first.locator("> :not(.admonition-title)").first.wait_for(state="visible", timeout=5000)
    page.context.close()


def test_site_root_leads_to_the_introduction(browser, site):
    context = browser.new_context()
    page = context.new_page()
    page.goto(site)
    page.wait_for_url("**/book/intro.html")
    assert page.locator("h1").first.inner_text().startswith("Worked deep-learning solutions")
    context.close()


def anchor_page(pid):
    for path in PAGES:
        if f'id="{pid}"' in (HTML / path).read_text(encoding="utf-8"):
            return path
    raise AssertionError(f"no page has the anchor {pid}")


@pytest.mark.parametrize("pid", SOLVED)
def test_permalink_scrolls_to_its_problem(browser, site, pid):
    page, _, _ = open_page(browser, f"{site}{anchor_page(pid)}#{pid}", viewport={"width": 1200, "height": 900})
    assert_heading_is_at_top(page, pid)
    assert page.evaluate("window.scrollY") > 0
    page.context.close()


def notebook_pages():
    return [p for p in PAGES if re.search(r'href="[^"]*\.ipynb" download=', (HTML / p).read_text(encoding="utf-8"))]


@pytest.mark.parametrize("path", notebook_pages())
def test_sections_off_screen_are_not_rendered_on_load(browser, site, path):
    """What keeps a long chapter's load light (test_lighthouse.py): every section below the
    chapter's title is rendered only near the screen, so the work of loading it does not grow with
    its length."""
    page, _, _ = open_page(browser, site + path)
    styles = page.evaluate("""[...document.querySelectorAll('.bd-article > section > section')]
        .map(s => getComputedStyle(s).contentVisibility)""")
    page.context.close()
    assert styles and set(styles) == {"auto"}


def test_every_solved_problem_is_on_a_page_with_a_notebook():
    assert {anchor_page(pid) for pid in SOLVED} <= set(notebook_pages())


@pytest.mark.parametrize("path", notebook_pages())
def test_notebook_downloads_as_a_file_and_colab_link_points_at_it(browser, site, path):
    page, _, _ = open_page(browser, site + path)
    header = page.locator(".bd-header-article")
    header.get_by_role("button", name="Download this page").click()
    with page.expect_download() as download:
        header.locator("a.btn-download-notebook-button").click()
    saved = download.value.path()
    assert download.value.suggested_filename == Path(path).with_suffix(".ipynb").name
    nbformat.validate(nbformat.read(saved, as_version=4))
    colab = header.locator("a.btn-colab-button").get_attribute("href")
    assert re.fullmatch(rf"https://colab\.research\.google\.com/github/[\w.-]+/[\w.-]+/blob/[\w.-]+/{re.escape(Path(path).with_suffix('.ipynb').as_posix())}", colab)
    page.context.close()


@pytest.mark.parametrize("path", ["book/problem-index.html"] + notebook_pages())
def test_page_fits_a_phone_screen(browser, site, path):
    page, _, _ = open_page(browser, site + path, viewport={"width": 375, "height": 812}, device_scale_factor=2)
    assert page.evaluate("document.documentElement.scrollWidth") <= 375, "the page scrolls sideways"
    # What scrolls sideways on a phone (code, outputs, tables, formulas) has a tab stop.
    page.add_script_tag(content=AXE)
    assert page.evaluate(AXE_RUN, ["scrollable-region-focusable"]) == []
    show_every_section(page)
    assert page.evaluate(AXE_RUN, ["scrollable-region-focusable"]) == []
    shots = ROOT / "_build" / "screenshots"
    shots.mkdir(exist_ok=True)
    page.screenshot(path=shots / (Path(path).stem + "-375px.png"))
    page.context.close()


WIDTH = tomllib.loads((ROOT / "ruff.toml").read_text())["line-length"]
DESKTOP = {"width": 1280, "height": 800}  # a common laptop screen


@pytest.mark.parametrize("path", notebook_pages())
def test_code_column_shows_a_full_line_on_a_desktop(browser, site, path):
    """The line length the code is formatted to (ruff.toml) fits a code cell without scrolling:
    a line of that many characters, in the cell's own font, is no wider than the cell's box."""
    page, _, _ = open_page(browser, site + path, viewport=DESKTOP)
    line, box = page.evaluate("""width => {
        const pre = document.querySelector('.cell_input pre');
        const style = getComputedStyle(pre);
        const probe = document.createElement('span');
        probe.textContent = 'x'.repeat(width);
        pre.appendChild(probe);
        const line = probe.getBoundingClientRect().width;
        probe.remove();
        return [line, pre.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight)];
    }""", WIDTH)
    page.context.close()
    assert line <= box, f"{WIDTH} characters take {line:.0f} px; the code box shows {box:.0f} px"


def test_search_works_offline(browser, site):
    page, foreign, _ = open_page(browser, site + "search.html?q=viterbi")
    page.wait_for_selector("#search-results li", timeout=15000)
    results = page.locator("#search-results li a").evaluate_all("links => links.map(a => a.href)")
    assert any("book/decoding.html" in href for href in results)
    assert foreign == []
    page.context.close()


def assert_heading_is_at_top(page, pid):
    """The problem's heading sits just under the page's header (within 80 px)."""
    page.wait_for_timeout(200)  # let the browser settle the scroll
    top = page.evaluate(f"document.getElementById('{pid}').getBoundingClientRect().top")
    header = page.evaluate("document.querySelector('.bd-header-article').getBoundingClientRect().bottom")
    assert header - 1 <= top <= header + 80, f"the heading is at {top}px, the header ends at {header}px"


@pytest.mark.parametrize("pid", SOLVED)
def test_stable_address_lands_on_its_problem(browser, site, pid):
    """p/<ID>.html, the address an instructor pastes into a syllabus, opens the problem's page
    scrolled to its heading."""
    page, foreign, _ = open_page(browser, f"{site}p/{pid}.html", viewport={"width": 1200, "height": 900})
    page.wait_for_url(f"**/{anchor_page(pid)}#{pid}")
    assert_heading_is_at_top(page, pid)
    assert foreign == []
    page.context.close()


@pytest.mark.parametrize("old, pid", [(old, pid) for old, pids in MOVED.items() for pid in pids])
def test_old_link_of_a_moved_problem_forwards(browser, site, old, pid):
    page, _, _ = open_page(browser, f"{site}{old}.html#{pid}", viewport={"width": 1200, "height": 900})
    page.wait_for_url(f"**/{anchor_page(pid)}#{pid}")
    assert anchor_page(pid) != f"{old}.html"
    assert_heading_is_at_top(page, pid)
    page.context.close()


def last_problem_of_each_page():
    last = {anchor_page(pid): pid for pid in SOLVED}
    return sorted(last.values())


@pytest.mark.parametrize("pid", last_problem_of_each_page())
def test_link_within_the_page_lands_on_its_problem(browser, site, pid):
    """A link within the page (the table of contents) to its last problem, the one with the most
    sections above it still unlaid-out (content-visibility), scrolls it to the top and keeps it
    there."""
    page, _, _ = open_page(browser, f"{site}{anchor_page(pid)}", viewport={"width": 1200, "height": 900})
    page.evaluate(f"window.location.hash = '{pid}'")
    assert_heading_is_at_top(page, pid)
    page.context.close()


def test_copy_button_copies_the_absolute_stable_address(browser, site):
    pid = SOLVED[0]
    context = browser.new_context(permissions=["clipboard-read", "clipboard-write"])
    page = context.new_page()
    page.goto(f"{site}{anchor_page(pid)}", wait_until="load")
    section = page.locator(f"section:has(> #{pid}), section#{pid}").first
    button = page.locator(f"p.problem-link:has(a[href$='p/{pid}.html']) button")
    assert button.is_visible() and button.inner_text() == "Copy link"
    button.click()
    assert page.evaluate("navigator.clipboard.readText()") == f"{site}p/{pid}.html"
    assert section.count() == 1
    context.close()


def formula_contrast(browser, site, scheme):
    """(luminance of the formula's background, luminance of its darkest or lightest glyph pixel)
    for the first formula of the notation page, in the given colour scheme."""
    import io

    from PIL import Image

    page, _, _ = open_page(browser, site + "book/notation.html", color_scheme=scheme,
                           viewport={"width": 1200, "height": 900})
    assert page.evaluate("document.documentElement.dataset.theme") == scheme
    image = page.locator("img.formula").first
    image.scroll_into_view_if_needed()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=image.element_handle())
    shot = Image.open(io.BytesIO(image.screenshot())).convert("L")
    page.context.close()
    pixels = sorted(shot.get_flattened_data())
    background = max(set(pixels), key=pixels.count)  # the most common grey level
    glyph = pixels[-1] if scheme == "dark" else pixels[0]
    return background, glyph


def test_formulas_follow_the_colour_mode(browser, site):
    """Formulas are drawn in the page's colours: dark glyphs on the light page, light glyphs on
    the dark page, never a light patch on the dark page."""
    background, glyph = formula_contrast(browser, site, "light")
    assert background > 230 and glyph < 60, (background, glyph)
    background, glyph = formula_contrast(browser, site, "dark")
    assert background < 60 and glyph > 180, (background, glyph)
