"""The mutation suite: every check of the book must be able to fail.

    .venv/bin/python tools/mutate.py [--only WORD] [--jobs 2] [--timeout 900] [--baseline]
    make mutate [ONLY=WORD]

Reads every ``book/mutants/*.yml``: a list of mutants, each with ``problem:`` (an id of
``book/problems.yml``) or ``module:`` (a module of ``code/worked``), ``file`` (``book/X.md``
or ``code/worked/M.py``), ``find`` (a text that occurs exactly once in that file), ``replace``
(the wrong version) and ``why`` (the wrong answer it models). For each mutant it makes a
scratch copy of the tracked tree (``git ls-files``), applies the replacement there and
re-executes only what depends on the file, stopping at the first failure:

- ``book/X.md``: that chapter (``tools/execute_chapter.py``: a fresh kernel, stops at the
  first failing cell);
- ``code/worked/M.py``: the unit tests of M (``code/tests/test_M.py``, ``pytest -x``), then
  every chapter that imports M, directly or through other ``worked`` modules.

Imports point at the scratch copy (``PYTHONPATH=<scratch>/code`` wins over the editable
install). A mutant is KILLED when a check fails; it SURVIVED when everything passes, which
means the check it targets cannot fail. A ``find`` text that is missing or occurs more than
once, and a mutant that hits the time limit, are errors. One line per mutant, then the kill
rate; the exit status is 0 only when every mutant is killed, every solved problem of
``book/problems.yml`` has a mutant and every ``worked`` module is the ``file`` of one.
Mutants run in parallel (``--jobs``), each kernel and test run on one thread.
``--baseline`` runs the same checks on scratch copies without the replacements (once per
mutated file), which must all pass: a check that fails there would kill its mutants falsely.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "book" / "_ext"))
import worked_book  # noqa: E402  (the build's extension: the import graph of worked)

KEYS = {"file", "find", "replace", "why"}
RUNNING: set[subprocess.Popen] = set()  # process groups to end if the run is interrupted
RUNNING_LOCK = threading.Lock()
STOPPING = threading.Event()  # set on interruption: start no further check
ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}


@dataclass
class Mutant:
    ident: str          # "<problem>#<n>" or "module:<name>#<n>"
    problem: str | None
    module: str | None
    file: str
    find: str
    replace: str
    why: str
    source: str         # the mutant file it comes from


@dataclass
class Outcome:
    mutant: Mutant
    status: str         # KILLED, SURVIVED, ERROR
    detail: str
    seconds: float

    def line(self) -> str:
        return f"{self.mutant.ident:<32} {self.status:<8} {self.seconds:6.1f} s  {self.detail}"


def load_mutants(root: Path) -> tuple[list[Mutant], list[str]]:
    """Every mutant of book/mutants/*.yml, and the format errors found."""
    mutants, errors, counts = [], [], {}
    for path in sorted((root / "book" / "mutants").glob("*.yml")):
        rel = path.relative_to(root).as_posix()
        entries = yaml.safe_load(path.read_text(encoding="utf-8")) or []
        if not isinstance(entries, list):
            errors.append(f"{rel}: expected a YAML list of mutants")
            continue
        for number, entry in enumerate(entries, 1):
            where = f"{rel} entry {number}"
            if not isinstance(entry, dict):
                errors.append(f"{where}: not a mapping")
                continue
            owner = [k for k in ("problem", "module") if k in entry]
            missing = KEYS - set(entry)
            unknown = set(entry) - KEYS - {"problem", "module"}
            if len(owner) != 1 or missing or unknown:
                errors.append(f"{where}: needs exactly one of problem/module and {sorted(KEYS)}"
                              f" (missing {sorted(missing)}, unknown {sorted(unknown)})")
                continue
            name = str(entry[owner[0]])
            key = name if owner[0] == "problem" else f"module:{name}"
            counts[key] = counts.get(key, 0) + 1
            mutants.append(Mutant(
                ident=f"{key}#{counts[key]}", problem=entry.get("problem"),
                module=entry.get("module"), file=str(entry["file"]), find=str(entry["find"]),
                replace=str(entry["replace"]), why=str(entry["why"]).strip(), source=rel))
    return mutants, errors


def worked_modules(root: Path) -> list[str]:
    return worked_book.worked_modules(root / "code" / "worked")


def dependent_chapters(root: Path, module: str) -> list[str]:
    """Chapters (book/X.md, in table-of-contents order) that import ``module`` directly or
    through other worked modules (the import graph the build's execution cache uses)."""
    graph = worked_book.module_imports(root / "code" / "worked")
    return [c.relative_to(root).as_posix() for c in chapters_in_order(root)
            if module in worked_book.closure(
                worked_book.chapter_imports(c.read_text(encoding="utf-8")), graph)]


def chapters_in_order(root: Path) -> list[Path]:
    toc = (root / "_toc.yml").read_text(encoding="utf-8") if (root / "_toc.yml").exists() else ""
    listed = re.findall(r"(?:file|root):\s*(\S+)", toc)
    paths = [root / (name if name.endswith(".md") else f"{name}.md") for name in listed]
    rest = sorted(set((root / "book").glob("*.md")) - set(paths))
    return [p for p in paths + rest if p.exists()]


def coverage_errors(root: Path, mutants: list[Mutant]) -> list[str]:
    """Solved problems without a mutant, modules that no mutant's file touches, unknown names."""
    data = yaml.safe_load((root / "book" / "problems.yml").read_text(encoding="utf-8"))
    problems = {p["id"]: p.get("solved", False) for p in data["problems"]}
    modules = set(worked_modules(root))
    errors = []
    for m in mutants:
        if m.problem is not None and m.problem not in problems:
            errors.append(f"{m.ident} ({m.source}): no problem {m.problem!r} in book/problems.yml")
        if m.module is not None and m.module not in modules:
            errors.append(f"{m.ident} ({m.source}): no module {m.module!r} in code/worked")
        if not (re.fullmatch(r"book/[\w-]+\.md", m.file) or re.fullmatch(r"code/worked/\w+\.py", m.file)):
            errors.append(f"{m.ident} ({m.source}): file must be book/<chapter>.md or "
                          f"code/worked/<module>.py, not {m.file}")
        elif not (root / m.file).exists():
            errors.append(f"{m.ident} ({m.source}): {m.file} does not exist")
    with_mutant = {m.problem for m in mutants}
    for pid, solved in problems.items():
        if solved and pid not in with_mutant:
            errors.append(f"solved problem {pid} has no mutant in book/mutants/*.yml")
    mutated = {Path(m.file).stem for m in mutants if m.file.startswith("code/worked/")}
    for name in sorted(modules - mutated):
        errors.append(f"module code/worked/{name}.py has no mutant (no mutant's file: is it)")
    return errors


def tracked_files(root: Path) -> list[str]:
    run = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                         cwd=root, capture_output=True, check=True)
    return [f for f in run.stdout.decode().split("\0") if f and (root / f).is_file()]


def scratch_copy(root: Path, files: list[str], where: Path) -> None:
    for name in files:
        target = where / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / name, target)


def run_group(cmd: list[str], cwd: Path, env: dict, timeout: float) -> tuple[int | None, str]:
    """Run ``cmd`` in its own process group (a kernel is its grandchild); None on time-out."""
    with RUNNING_LOCK:
        if STOPPING.is_set():
            return None, "interrupted"
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, start_new_session=True)
        RUNNING.add(proc)
    try:
        out, _ = proc.communicate(timeout=max(timeout, 1))
        return proc.returncode, out
    except subprocess.TimeoutExpired:
        stop_group(proc)
        out, _ = proc.communicate()
        return None, out
    finally:
        with RUNNING_LOCK:
            RUNNING.discard(proc)


def stop_group(proc: subprocess.Popen) -> None:
    """SIGTERM to the process group (execute_chapter then shuts its kernel down, which runs in
    a session of its own), SIGKILL after 10 s."""
    for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, None)):
        try:
            os.killpg(proc.pid, sig)
            proc.wait(timeout=wait)
            return
        except ProcessLookupError:
            return
        except subprocess.TimeoutExpired:
            continue


def end_running(*_) -> None:
    """End the process groups still running: on Ctrl-C they would not get the signal, being
    in sessions of their own."""
    with RUNNING_LOCK:
        STOPPING.set()
        running = list(RUNNING)
    for proc in running:
        stop_group(proc)


def failed_test(output: str) -> str | None:
    """The first test that failed (or errored, e.g. in collection) in pytest -rfE output."""
    match = re.search(r"^FAILED (\S+)", output, re.M) or re.search(r"^ERROR (\S+)", output, re.M)
    return match[1] if match else None


def checks_for(root: Path, mutant: Mutant) -> list[tuple[str, str]]:
    """What to re-execute, cheapest first: ("tests", path) and ("chapter", path)."""
    if mutant.file.startswith("book/"):
        return [("chapter", mutant.file)]
    module = Path(mutant.file).stem
    checks = []
    if (root / "code" / "tests" / f"test_{module}.py").exists():
        checks.append(("tests", f"code/tests/test_{module}.py"))
    return checks + [("chapter", c) for c in dependent_chapters(root, module)]


def run_mutant_once_more_on_a_crash(root: Path, files: list[str], mutant: Mutant,
                                   timeout: float) -> Outcome:
    """``run_mutant``; when its checks crashed without a verdict (a kernel that could not start,
    e.g. a port already in use), once more. A time-out or a bad mutant is not retried."""
    outcome = run_mutant(root, files, mutant, timeout)
    if outcome.status == "ERROR" and ("stopped without a cell error" in outcome.detail
                                      or "did not run" in outcome.detail):
        again = run_mutant(root, files, mutant, timeout)
        return dataclasses.replace(again, detail=f"{again.detail} (second try; first: "
                                   f"{outcome.detail})", seconds=outcome.seconds + again.seconds)
    return outcome


def run_mutant(root: Path, files: list[str], mutant: Mutant, timeout: float,
               baseline: bool = False) -> Outcome:
    start = time.perf_counter()

    def done(status, detail):
        return Outcome(mutant, status, detail, time.perf_counter() - start)

    text = (root / mutant.file).read_text(encoding="utf-8")
    count = text.count(mutant.find)
    if count != 1:
        return done("ERROR", f"find text occurs {count} times in {mutant.file}, expected once")
    with tempfile.TemporaryDirectory(prefix="mutant-") as tmp:
        scratch = Path(tmp)
        scratch_copy(root, files, scratch)
        if not baseline:
            (scratch / mutant.file).write_text(text.replace(mutant.find, mutant.replace),
                                               encoding="utf-8")
        env = {**os.environ, **ONE_THREAD, "PYTHONPATH": str(scratch / "code"),
               "PYTHONDONTWRITEBYTECODE": "1"}
        checks = checks_for(scratch, mutant)
        if not checks:
            return done("ERROR", f"nothing to re-execute for {mutant.file}")
        for kind, target in checks:
            left = timeout - (time.perf_counter() - start)
            if kind == "tests":
                cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-rfE", "-p", "no:cacheprovider",
                       target]
            else:
                # the kernel's cell time limit comes after ours: a time-out is not a kill
                cmd = [sys.executable, str(ROOT / "tools" / "execute_chapter.py"), target,
                       "--timeout", str(int(left) + 120)]
            code, output = run_group(cmd, scratch, env, left)
            if code is None:
                return done("ERROR", f"time limit of {timeout:.0f} s reached in {target}")
            if code == 0:
                continue
            # only a failing test or cell kills; a crash of the runner itself is an error
            last = output.strip().splitlines()[-1] if output.strip() else f"exit status {code}"
            if kind == "tests":
                failed = failed_test(output)
                if failed is None:  # pytest exit 2-5 without a failed test: interrupted, none
                    return done("ERROR", f"pytest {target} did not run: {last}")
                return done("KILLED", f"by {failed}")
            cell = next((x for x in output.splitlines() if x.startswith("code cell")), None)
            if cell is None:
                return done("ERROR", f"{target} stopped without a cell error: {last}")
            return done("KILLED", f"by {target} {cell}")
        return done("SURVIVED", "every check passed: " + ", ".join(t for _, t in checks))


def run_baseline(root: Path, files: list[str], mutants: list[Mutant], args) -> int:
    """Without mutants, every check that a mutant would re-execute passes (once per file)."""
    firsts = list({m.file: m for m in mutants}.values())
    print(f"baseline: the checks of {len(firsts)} mutated files, without mutants", flush=True)
    with ThreadPoolExecutor(max_workers=max(args.jobs, 1)) as pool:
        outcomes = list(pool.map(lambda m: run_mutant(root, files, m, args.timeout, True), firsts))
    for o in outcomes:
        status = {"SURVIVED": "PASSES", "KILLED": "FAILS"}.get(o.status, o.status)
        print(f"{o.mutant.file:<32} {status:<8} {o.seconds:6.1f} s  {o.detail}")
    return 0 if outcomes and all(o.status == "SURVIVED" for o in outcomes) else 1


def select(mutants: list[Mutant], only: str | None) -> list[Mutant]:
    if not only:
        return mutants
    words = only.replace(",", " ").split()
    return [m for m in mutants if any(
        w == Path(m.file).stem or w in m.ident or w == m.module for w in words)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=ROOT, help="project root (default: this one)")
    parser.add_argument("--only", default=os.environ.get("ONLY") or None,
                        help="run only mutants of these chapters, modules or problem ids "
                             "(space- or comma-separated; a problem id may be a prefix)")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=900, help="seconds per mutant")
    parser.add_argument("--baseline", action="store_true",
                        help="run the checks of the mutated files without the mutants; all must pass")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # SIGTERM ends the run as Ctrl-C

    mutants, errors = load_mutants(root)
    errors += coverage_errors(root, mutants)
    chosen = select(mutants, args.only)
    if args.only and not chosen:
        errors.append(f"no mutant matches {args.only!r}")
    files = tracked_files(root)
    if args.baseline:
        return run_baseline(root, files, chosen, args)
    print(f"{len(chosen)} mutants from {root / 'book' / 'mutants'}, {args.jobs} at a time", flush=True)
    started = time.perf_counter()
    outcomes = []
    pool = ThreadPoolExecutor(max_workers=max(args.jobs, 1))
    futures = [pool.submit(run_mutant_once_more_on_a_crash, root, files, m, args.timeout)
               for m in chosen]
    try:
        for future in futures:
            outcome = future.result()
            print(outcome.line(), flush=True)
            outcomes.append(outcome)
    except KeyboardInterrupt:
        pool.shutdown(wait=False, cancel_futures=True)
        end_running()
        print("interrupted: the running checks were ended", file=sys.stderr)
        return 130
    pool.shutdown()
    killed = sum(o.status == "KILLED" for o in outcomes)
    rate = 100 * killed / len(outcomes) if outcomes else 0.0
    print(f"\nkill rate: {killed}/{len(outcomes)} = {rate:.1f}% in "
          f"{time.perf_counter() - started:.0f} s")
    survivors = [o for o in outcomes if o.status == "SURVIVED"]
    if survivors:
        print("\nSURVIVED (the check they target cannot fail; strengthen it):")
        for o in survivors:
            print(f"  {o.mutant.ident} ({o.mutant.file}): {o.mutant.why}")
    errors += [f"{o.mutant.ident} ({o.mutant.source}): {o.detail}" for o in outcomes
               if o.status == "ERROR"]
    if errors:
        print("\nERRORS:")
        for e in errors:
            print(f"  {e}")
    return 0 if outcomes and killed == len(outcomes) and not errors else 1


if __name__ == "__main__":
    sys.exit(main())
