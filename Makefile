# `make run`  sets everything up and opens the app on the bundled demo scene.
# `make test` sets everything up and runs the whole test suite.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
DEMO   := assets/demo/donut.ply

# Oversubscribed BLAS threads make numpy 5-10x slower on small machines.
export OPENBLAS_NUM_THREADS := 1
export PYTHONDONTWRITEBYTECODE := 1

# GUI tests need an X server: use the one we have, else Xvfb when installed.
XVFB := $(if $(DISPLAY),,$(shell command -v xvfb-run >/dev/null 2>&1 && echo xvfb-run -a -s \"-screen 0 1920x1080x24\"))

.PHONY: setup peers run test bench predictor evaluate clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[test]'
	@touch $(STAMP)

setup: $(STAMP)

# Test-only peer tools for cross-checking the files we write: PlayCanvas
# splat-transform (MIT) and the Khronos glTF validator (Apache-2.0). Optional: tests that need it skip with a reason if npm
# is missing or the install fails.
PEER_ST := .peer/node_modules/.bin/splat-transform
$(PEER_ST):
	@if command -v npm >/dev/null 2>&1; then \
	  npm install --silent --no-audit --no-fund --prefix .peer @playcanvas/splat-transform@3.7.0 gltf-validator@2.0.0-dev.3.10 >/dev/null 2>&1 \
	    || echo "note: could not install splat-transform; peer tests will be skipped"; \
	else echo "note: npm not found; peer tests will be skipped"; fi

peers: $(PEER_ST)

run: setup
	$(PY) main.py view $(DEMO)

test: setup peers
	$(XVFB) $(PY) -m pytest -q

bench: setup
	$(PY) bench/io.py
	$(PY) bench/render.py --quick
	$(PY) bench/startup.py --quick

# Retrain the shipped predictor weights from scratch (about 6 h on 2 cores; see
# assets/MODEL_CARD.md), then score them (the plot in docs/ is the README's).
predictor: setup
	scripts/reproduce_predictor.sh assets/predictor.safetensors build/predictor-stages

evaluate: setup
	$(PY) main.py evaluate --out docs --scenes 160 > docs/evaluation.txt && cat docs/evaluation.txt

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis build *.egg-info
