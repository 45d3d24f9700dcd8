"""Lighthouse (npm, installed by `make` from package-lock.json) on the built site, with the
local Chromium and Lighthouse's default mobile preset: the median of 3 runs scores at least 0.95
in performance, accessibility, best practices and SEO on the landing page, the problem index and
the heaviest chapter. The site is served gzip-compressed, as GitHub Pages serves it.

The scores are written to _build/lighthouse.json for the record. As with the browser tests,
a missing Chromium skips them with a message, except under CI=true, where it fails.

The performance score depends on the page's main-thread work (total blocking time, each run's
written to lighthouse.json), which a busy machine inflates: run it with the machine otherwise
idle, as CI does. It is not asserted on its own: on a shared 2-core machine it swings by up to 230 ms
from run to run (the same page measured 0-70 ms idle and 50-178 ms within a CI run). What keeps
a long chapter's load light is checked without timing: its sections are rendered only near the
screen (content-visibility, book.css; test_browser.py checks every chapter), the theme's script
no longer measures every code block on load (fast_pages.py, test_extension_rules.py), and a
chapter page keeps to a budget (test_site.py: ~225 KB of HTML, ~3000 elements), since parsing
still grows with its length; split one that outgrows it (as decoding was split from beam search)."""

import json
import os
import shutil
import statistics
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HTML = ROOT / "_build" / "html"
LIGHTHOUSE = ROOT / "node_modules" / ".bin" / "lighthouse"
CHROMIUM = shutil.which("chromium") or shutil.which("google-chrome")
CATEGORIES = ("performance", "accessibility", "best-practices", "seo")
RUNS = 3

if CHROMIUM is None:
    if os.environ.get("CI") == "true":
        pytest.fail("no chromium: under CI the Lighthouse tests must run (.ci/run installs it)", pytrace=False)
    pytest.skip("chromium is not installed (apt-get install chromium): Lighthouse tests skipped",
                allow_module_level=True)


def heaviest_chapter():
    """The chapter page with the most bytes of HTML (math, code and outputs are all inline)."""
    chapters = [p for p in (HTML / "book").glob("*.html") if p.stem not in ("intro", "problem-index", "bibliography")]
    return max(chapters, key=lambda p: p.stat().st_size).relative_to(HTML).as_posix()


PAGES = ["book/intro.html", "book/problem-index.html", heaviest_chapter()]


def lighthouse(url, out):
    flags = "--headless=new --no-sandbox --disable-gpu --no-first-run --disable-background-networking " \
            "--disable-component-update --disable-sync"
    subprocess.run([str(LIGHTHOUSE), url, f"--chrome-path={CHROMIUM}", f"--chrome-flags={flags}",
                    f"--only-categories={','.join(CATEGORIES)}", "--output=json", f"--output-path={out}", "--quiet"],
                   check=True, timeout=300)
    report = json.loads(Path(out).read_text())
    assert report.get("runtimeError") is None, report["runtimeError"]
    return report


@pytest.fixture(scope="module")
def record():
    scores = {}
    yield scores
    (ROOT / "_build" / "lighthouse.json").write_text(json.dumps(scores, indent=1))


def test_lighthouse_is_installed():
    assert LIGHTHOUSE.exists(), "run `make book` (it runs `npm ci`)"


@pytest.mark.parametrize("path", PAGES)
def test_lighthouse_scores(site, path, tmp_path, record):
    reports = [lighthouse(site + path, tmp_path / f"run{i}.json") for i in range(RUNS)]
    median = {c: statistics.median(r["categories"][c]["score"] for r in reports) for c in CATEGORIES}
    audits = reports[0]["audits"]
    record[path] = {
        "median": median,
        "runs": [{c: r["categories"][c]["score"] for c in CATEGORIES} for r in reports],
        "bytes": audits["total-byte-weight"]["numericValue"],
        "dom_elements": audits["dom-size"]["numericValue"],
        "total_blocking_time_ms": [round(r["audits"]["total-blocking-time"]["numericValue"]) for r in reports],
        "metrics": {m: statistics.median(r["audits"][m]["numericValue"] for r in reports)
                    for m in ("first-contentful-paint", "largest-contentful-paint", "total-blocking-time",
                              "cumulative-layout-shift", "speed-index")},
    }
    failing = {c: s for c, s in median.items() if s < 0.95}
    assert not failing, f"{path}: median scores below 0.95: {failing}; metrics {record[path]['metrics']}"

