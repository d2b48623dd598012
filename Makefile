# openmyna: `make run` and `make test` are all a new machine needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CHROMIUM := /usr/bin/chromium
export OPENMYNA_DATABASE_URL ?= sqlite:///var/openmyna.db

.PHONY: run test lint bench soak install browser softhsm wrk nginx sqlite3 node-tools clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# Debian's chromium for the browser tests (never a downloaded browser) and the IPAex fonts for Japanese in
# screenshots and PDFs; installed when root can.
browser:
	@if [ ! -x $(CHROMIUM) ] || [ ! -e /usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-ipaexfont >/dev/null) \
	      || echo "chromium could not be installed; browser tests will be skipped"; \
	  else echo "no $(CHROMIUM) and not root: browser tests will be skipped"; fi; \
	fi
	@# the outside checkers of issued certificates (pdfsig, pdftoppm, zbarimg, certutil): tests/kiosk
	@if ! command -v pdfsig >/dev/null || ! command -v zbarimg >/dev/null || ! command -v certutil >/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq poppler-utils zbar-tools libnss3-tools >/dev/null) \
	      || echo "poppler-utils/zbar-tools could not be installed; the certificate checker tests will be skipped"; \
	  else echo "no pdfsig/zbarimg and not root: the certificate checker tests will be skipped"; fi; \
	fi

# Debian's SoftHSM2 for the PKCS#11 CA-key tests; installed when root can.
softhsm:
	@if [ ! -e /usr/lib/softhsm/libsofthsm2.so ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq softhsm2 >/dev/null) \
	      || echo "softhsm2 could not be installed; PKCS#11 tests will be skipped"; \
	  else echo "no SoftHSM2 and not root: PKCS#11 tests will be skipped"; fi; \
	fi

# Debian's wrk drives the HTTP load benchmarks; installed when root can.
wrk:
	@if ! command -v wrk >/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null) \
	      || echo "wrk could not be installed; the wrk-driven benchmarks will stop"; \
	  else echo "no wrk and not root: the wrk-driven benchmarks will stop"; fi; \
	fi

# Debian's nginx: the RFC 5019 OCSP cache of deploy/nginx, tested and benchmarked; installed when root can.
nginx:
	@if ! command -v nginx >/dev/null && [ ! -x /usr/sbin/nginx ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null) \
	      || echo "nginx could not be installed; the OCSP cache tests will be skipped"; \
	  else echo "no nginx and not root: the OCSP cache tests will be skipped"; fi; \
	fi

# Debian's sqlite3 CLI runs the hand-run floor of the SQLite import benchmark; installed when root can.
sqlite3:
	@if ! command -v sqlite3 >/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq sqlite3 >/dev/null) \
	      || echo "sqlite3 could not be installed; bench_corporate_import.py on SQLite will stop"; \
	  else echo "no sqlite3 and not root: bench_corporate_import.py on SQLite will stop"; fi; \
	fi

# JavaScript tools the tests run (panva's openid-client, axe-core), from package-lock.json into ./node_modules.
node-tools: node_modules/.installed

node_modules/.installed: package.json package-lock.json
	@if command -v npm >/dev/null; then \
	  npm ci --no-audit --no-fund --silent && touch $@; \
	else echo "no npm: the openid-client and axe-core tests will be skipped"; fi

run: $(STAMP)
	$(BIN)/openmyna init
	$(BIN)/openmyna seed --residents $${RESIDENTS:-5000} --seed 42
	$(BIN)/openmyna serve --host 127.0.0.1 --port 8000

test: $(STAMP) browser softhsm nginx node-tools
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/pytest -n 2 --dist loadgroup $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

bench: $(STAMP) wrk nginx sqlite3
	@for f in bench/bench_*.py; do $(BIN)/python $$f || exit 1; done

# The fuzz harness with many more examples (both databases when OPENMYNA_TEST_DATABASE_URL is set), then
# a mixed load against `openmyna serve` on 127.0.0.1 for SOAK_MINUTES; fails if either found a problem.
soak: $(STAMP)
	@status=0; \
	OPENMYNA_FUZZ_EXAMPLES=$${OPENMYNA_FUZZ_EXAMPLES:-100} $(BIN)/pytest -n 2 -rP -p no:cacheprovider tests/fuzz/test_fuzz.py \
	  || status=1; \
	$(BIN)/python bench/soak.py --minutes $${SOAK_MINUTES:-10} || status=1; \
	exit $$status

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache node_modules
