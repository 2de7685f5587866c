# The two commands a newcomer runs: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test check bench fuzz install clean chromium docs graphviz

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,cluster,docs,bench]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/conntrack run scenarios/

test: $(STAMP) chromium graphviz
	$(BIN)/python -m pytest -q -n auto

# The browser tests drive the system's Chromium: find it; if there is none and we are
# root on Debian, `apt-get install -y --no-install-recommends chromium` (say so first;
# CONNTRACK_NO_APT=1 turns that off); else the browser tests skip and say why.
chromium: $(STAMP)
	@$(BIN)/python tests/browser/_chromium.py --install

# The docs site (issue 16): strict, so a broken link or anchor, or a page missing from the
# navigation, fails it; the references and pictures are made from the code by
# docs/_hooks/conntrack_docs.py (cached in build/docs-cache/). `make test` builds it too
# (tests/docs/test_docs_site.py). Open site/index.html.
docs: $(STAMP) chromium graphviz
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

# The lifecycle diagram is drawn by Graphviz's `dot`: if there is none and we are root on
# Debian, `apt-get install -y --no-install-recommends graphviz` (as for Chromium;
# CONNTRACK_NO_APT=1 turns that off); else the docs draw it with Mermaid in the browser.
graphviz:
	@command -v dot >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && [ -z "$$CONNTRACK_NO_APT" ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "docs: installing Debian's graphviz for the lifecycle diagram (CONNTRACK_NO_APT=1 turns this off)"; \
	    apt-get install -y --no-install-recommends graphviz >/dev/null 2>&1 \
	    || { apt-get update >/dev/null 2>&1 && apt-get install -y --no-install-recommends graphviz >/dev/null 2>&1; } \
	    || echo "docs: graphviz could not be installed: the lifecycle diagram is left to Mermaid"; \
	  else echo "docs: no Graphviz 'dot': the lifecycle diagram is left to Mermaid (apt-get install graphviz)"; fi; }

check: $(STAMP)
	$(BIN)/ruff check src fake_providers tests bench examples
	$(BIN)/ruff format --check src fake_providers tests bench examples
	$(BIN)/mypy

# A long fuzz of every YAML reader: 100 000 hostile documents (alias bombs, deep nesting,
# huge numbers, odd dates, junk...); fails on any traceback, slow document or RSS > 200 MB.
fuzz: $(STAMP)
	$(BIN)/python tests/fuzz/fuzz_yaml.py --count 100000

# The install takes the bench-only extra too (SimPy, bench/bench_simpy.py's yardstick), so
# that `make test` checks that the SimPy model's series equal the direct engine's
# (tests/population/test_simpy_model.py); no code of the package imports it.
# Every bench/bench_*.py in turn; what they print also goes to docs/bench/make-bench.txt
# (with the date, the machine and the commit), which the docs' performance page shows.
bench: $(STAMP)
	@$(BIN)/python bench/_all.py

# bench/bench_server.py's tools: wrk from Debian (installed when we are root, else the
# command is said) and oauth2-mock-server from npm (the version pinned in
# bench/package.json, into ~/.cache/conntrack/bench-node: outside the tree, so no build
# of the package takes it in). `make bench` runs without them and says how to get them.
bench-tools:
	@command -v wrk >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "bench-tools: installing Debian's wrk"; \
	    apt-get install -y wrk >/dev/null 2>&1 \
	    || { apt-get update >/dev/null 2>&1 && apt-get install -y wrk >/dev/null 2>&1; } \
	    || echo "bench-tools: wrk could not be installed: apt-get install wrk"; \
	  else echo "bench-tools: no wrk: install it (sudo apt-get install wrk; brew install wrk)"; fi; }
	@if command -v npm >/dev/null 2>&1; then \
	  dir="$${XDG_CACHE_HOME:-$$HOME/.cache}/conntrack/bench-node"; \
	  echo "bench-tools: installing oauth2-mock-server into $$dir"; \
	  mkdir -p "$$dir" && cp bench/package.json "$$dir/" \
	  && cd "$$dir" && npm install --no-audit --no-fund --no-package-lock --silent; \
	else echo "bench-tools: no npm: install Node.js >= 20.19 and npm (apt-get install nodejs npm), then run make bench-tools again"; fi

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache site build/docs-cache
