"""Shared test settings: hypothesis runs are derandomised (the same examples on every run),
have no per-example deadline and write no example database, so the suite is deterministic.
Random arrays inside a test come from numpy generators seeded by a hypothesis-drawn integer.

The ``site`` fixture serves the built book (_build/html) on 127.0.0.1 for the browser and
Lighthouse tests, gzip-compressed as GitHub Pages serves it."""

import functools
import gzip
import http.server
import io
import sys
import threading
from pathlib import Path

import pytest
import torch
from hypothesis import settings

settings.register_profile("worked", derandomize=True, deadline=None, database=None, max_examples=100)
settings.load_profile("worked")


@pytest.fixture(autouse=True)
def _single_torch_thread():
    """The tests use tiny tensors: one intra-op thread is faster, and does not slow down
    (by thread contention) when the other core is busy."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


HTML = Path(__file__).resolve().parents[2] / "_build" / "html"
COMPRESSED = {".html", ".css", ".js", ".svg", ".json", ".ipynb", ".txt", ".woff"}


@functools.lru_cache(maxsize=None)
def _gzipped(path, mtime_ns):
    """Compressed once per file version, as a host serves it from cache: compressing on every
    request would compete with the browser for the CPU while Lighthouse times the page."""
    return gzip.compress(path.read_bytes())


class SiteHandler(http.server.SimpleHTTPRequestHandler):
    """A static server that gzips text files when the browser accepts it, like GitHub Pages."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, directory=str(HTML), **kwargs)

    def send_head(self):
        path = Path(self.translate_path(self.path))
        if path.is_dir():
            path = path / "index.html"
        if path.suffix not in COMPRESSED or not path.is_file() or "gzip" not in self.headers.get("Accept-Encoding", ""):
            return super().send_head()
        body = _gzipped(path, path.stat().st_mtime_ns)
        self.send_response(200)
        self.send_header("Content-Type", self.guess_type(str(path)))
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        return io.BytesIO(body)

    def log_message(self, *args):
        pass


class SiteServer(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        """A page closed while its lazy images still load: the browser hangs up mid-response.
        That is no error of the site; anything else is printed as usual."""
        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)


@pytest.fixture(scope="session")
def site():
    """Base URL of the built site served on 127.0.0.1."""
    server = SiteServer(("127.0.0.1", 0), SiteHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/"
    server.shutdown()
