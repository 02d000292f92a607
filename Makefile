# Fresh machine: `make test` or `make demo`; both install first.
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install test test-fast demo clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip==25.2

$(STAMP): setup.py pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[test,dask]'
	touch $(STAMP)

install: $(STAMP)

# Tests run on CPU in 2 pytest-xdist workers, one test file per worker at a
# time (graph tracing is single-threaded, so 2 workers use 2 cores better),
# in tests/conftest.py's order of files (xdist would sort them by their
# number of tests); the teacher fixtures are trained once and shared. TF
# logs: errors only. pytest exits 5 when it collected nothing: a failure.
test: install
	TF_CPP_MIN_LOG_LEVEL=2 CUDA_VISIBLE_DEVICES= $(PY) -m pytest -q -n 2 --dist loadfile --no-loadscope-reorder --durations=40 tests; \
	rc=$$?; if [ $$rc -eq 5 ]; then echo 'no tests ran' >&2; exit 1; fi; exit $$rc

# The inner loop: the in-process tier only (no tool processes, no trained
# teachers, no paper-size recipes: tests/conftest.py marks the rest e2e).
test-fast: install
	TF_CPP_MIN_LOG_LEVEL=2 CUDA_VISIBLE_DEVICES= $(PY) -m pytest -q -n 2 --dist loadfile --no-loadscope-reorder -m 'not e2e' tests; \
	rc=$$?; if [ $$rc -eq 5 ]; then echo 'no tests ran' >&2; exit 1; fi; exit $$rc

demo: install
	TF_CPP_MIN_LOG_LEVEL=2 CUDA_VISIBLE_DEVICES= $(PY) tools/demo.py --output_dir=runs/demo

clean:
	rm -rf $(VENV) runs
