"""Execute the chapters Sphinx is about to read in parallel, into myst-nb's execution cache.

myst-nb (execution mode "cache") executes each notebook while Sphinx reads it, one after the
other. On `env-before-read-docs` Sphinx knows every document it will read; this extension
executes those whose code is not in the jupyter-cache yet, `worked_execute_workers` at a time
(default: one per core), each kernel limited to one thread, and stores the executed notebooks
in the same cache with the same key myst-nb computes (the notebook read by myst-nb's own
reader). myst-nb then finds every chapter cached and executes nothing.

A chapter whose cell fails is not cached: the build stops with the error, naming the chapter.
The extension does nothing unless execution mode is "cache", and asserts that myst-nb later
used the cache for every notebook it executed here (a myst-nb update that changes the cache
key would otherwise execute every chapter twice, silently).
"""
from __future__ import annotations

import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from pathlib import Path

from sphinx.application import Sphinx
from sphinx.errors import ExtensionError
from sphinx.util import logging

logger = logging.getLogger(__name__)

# One thread per kernel: the workers share the cores.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def _source(app: Sphinx, docname: str, path: str) -> str:
    """The chapter's text as Sphinx hands it to myst-nb: after the `source-read` handlers (the
    book's extension writes the chapter's `worked` code key into its kernelspec there)."""
    source = [Path(path).read_text(encoding="utf-8")]
    app.events.emit("source-read", docname, source)
    return source[0]


def _read(path: str, md_config, nb_config, text: str):
    """The notebook exactly as myst-nb reads it (the cache key is computed from it)."""
    from myst_nb.core.read import create_nb_reader

    reader = create_nb_reader(path, md_config, nb_config, text)
    if reader is None:
        return None, None
    return reader.read(text), reader.read_fmt


def _execute(path: str, md_config, nb_config, text: str) -> tuple[str, object, float, str | None]:
    """Worker: execute one chapter in a fresh kernel; (path, notebook, seconds, error)."""
    from jupyter_cache.executors.utils import single_nb_execution

    for name in THREAD_VARIABLES:
        os.environ[name] = "1"
    notebook, _ = _read(path, md_config, nb_config, text)
    result = single_nb_execution(
        notebook,
        cwd=str(Path(path).parent),
        timeout=nb_config.execution_timeout,
        allow_errors=nb_config.execution_allow_errors,
        meta_override=True,
        # Outputs can trail the cell's reply on a loaded machine; nbclient's default wait (4 s)
        # would drop them silently.
        iopub_timeout=60,
    )
    return path, notebook, result.time, (result.exc_string if result.err else None)


def _has_code(notebook) -> bool:
    return any(cell.cell_type == "code" and cell.source.strip() for cell in notebook.cells)


def pre_execute(app: Sphinx, env, docnames: list[str]) -> None:
    nb_config = env.mystnb_config
    if nb_config.execution_mode != "cache" or not docnames:
        return
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn

    cache = get_cache(nb_config.execution_cache_path)
    md_config = env.myst_config
    jobs = []
    texts = {}
    for docname in sorted(docnames):
        path = str(env.doc2path(docname))
        texts[path] = _source(app, docname, path)
        notebook, _ = _read(path, md_config, nb_config, texts[path])
        if notebook is None or not _has_code(notebook):
            continue
        try:
            cache.match_cache_notebook(notebook)
        except KeyError:
            jobs.append((docname, path))
    if not jobs:
        return
    workers = app.config.worked_execute_workers or os.cpu_count() or 1
    workers = min(workers, len(jobs))
    # Slowest first (the usual greedy schedule): the chapters named in worked_execute_first
    # (in that order), then the rest by file size, a rough proxy for execution time.
    first = list(app.config.worked_execute_first)
    jobs.sort(key=lambda job: (first.index(job[0]) if job[0] in first else len(first),
                               -Path(job[1]).stat().st_size))
    logger.info(f"parallel_execute: executing {len(jobs)} chapter(s), {workers} at a time")
    failures = []
    start = time.perf_counter()
    read_fmts = {path: _read(path, md_config, nb_config, texts[path])[1] for _, path in jobs}
    with ProcessPoolExecutor(workers, mp_context=get_context("fork")) as pool:
        futures = {
            pool.submit(_execute, path, md_config, nb_config, texts[path]): docname
            for docname, path in jobs
        }
        for future in as_completed(futures):
            docname = futures[future]
            path, notebook, seconds, error = future.result()
            if error is not None:
                failures.append((docname, error))
                logger.info(f"{docname}: Executing notebook failed ({seconds:.1f} s)")
                continue
            stage = cache.add_nb_to_project(path, read_data=read_fmts[path])
            cache.cache_notebook_bundle(
                CacheBundleIn(notebook, stage.uri, data={"execution_seconds": seconds}),
                check_validity=False,
                overwrite=True,
            )
            # The same wording as myst-nb's, which `make bench` counts.
            logger.info(f"{docname}: Executing notebook using local CWD "
                        f"(parallel): {seconds:.1f} s")
            if not hasattr(env, "worked_pre_executed"):
                env.worked_pre_executed = {}
            env.worked_pre_executed[docname] = time.time()
    logger.info(f"parallel_execute: done in {time.perf_counter() - start:.1f} s")
    if failures:
        docname, error = failures[0]
        raise ExtensionError(
            f"{len(failures)} chapter(s) failed to execute: "
            f"{', '.join(d for d, _ in failures)}. First, {docname}:\n{error}"
        )


def check_cache_used(app: Sphinx, env) -> list[str]:
    """Fail loudly if myst-nb executed again a notebook this extension had executed.

    myst-nb records, per document, when its outputs were made: the cache record's creation time
    when it used the cache, the end of execution when it executed. A time later than our
    cache write means it missed the cache (e.g. a myst-nb update changed the key).
    """
    from myst_nb.sphinx_ import NbMetadataCollector

    cached_at = getattr(env, "worked_pre_executed", {})
    again = sorted(
        docname for docname, when in cached_at.items()
        if (NbMetadataCollector.get_exec_data(env, docname) or {}).get("mtime", 0) > when + 1
    )
    env.worked_pre_executed = {}
    if again:
        raise ExtensionError(
            "parallel_execute: myst-nb executed again what was pre-executed (did its cache "
            f"key change?): {', '.join(again)}"
        )
    return []


def setup(app: Sphinx) -> dict:
    app.add_config_value("worked_execute_workers", 0, "env", [int])
    app.add_config_value("worked_execute_first", [], "env", [list])
    app.connect("env-before-read-docs", pre_execute, priority=900)  # after the book's init_env
    app.connect("env-updated", check_cache_used)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
