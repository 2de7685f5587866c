# The two commands a newcomer runs: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test check bench fuzz install clean chromium

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,cluster]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/conntrack run scenarios/

test: $(STAMP) chromium
	$(BIN)/python -m pytest -q -n auto

# The browser tests drive the system's Chromium: find it; if there is none and we are
# root on Debian, `apt-get install -y --no-install-recommends chromium` (say so first;
# CONNTRACK_NO_APT=1 turns that off); else the browser tests skip and say why.
chromium: $(STAMP)
	@$(BIN)/python tests/browser/_chromium.py --install

check: $(STAMP)
	$(BIN)/ruff check src fake_providers tests bench examples
	$(BIN)/ruff format --check src fake_providers tests bench examples
	$(BIN)/mypy

# A long fuzz of every YAML reader: 100 000 hostile documents (alias bombs, deep nesting,
# huge numbers, odd dates, junk...); fails on any traceback, slow document or RSS > 200 MB.
fuzz: $(STAMP)
	$(BIN)/python tests/fuzz/fuzz_yaml.py --count 100000

bench: $(STAMP)
	@for b in bench/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
