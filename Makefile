# Two commands: `make run` (set up, migrate, demo data, serve with worker and beat) and
# `make test` (same set-up, then the whole suite). `make install` is the shared step.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
SCALE ?= small

.PHONY: install run test test-smoke lint format messages clean

install: $(VENV)/.installed node_modules/.installed var/.static

$(VENV)/.installed: requirements.txt constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt -c constraints.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# Static files (our own and the npm packages' dist folders) collected for WhiteNoise.
var/.static: $(VENV)/.installed node_modules/.installed $(shell find static -type f 2>/dev/null)
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	mkdir -p var && touch $@

run: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_demo --scale $(SCALE)
	@echo ""
	@echo "  After-sales quality platform: http://$(HOST):$(PORT)/"
	@echo "  Demo logins (password: demo): agent, agent2, supervisor, quality, committee, manager, admin"
	@echo "  API docs: http://$(HOST):$(PORT)/api/docs/    Stop everything with Ctrl-C."
	@echo ""
	@trap 'kill $$(jobs -p) 2>/dev/null; wait' INT TERM EXIT; \
	$(BIN)/celery -A aftersales worker --loglevel=WARNING --concurrency=2 -Q default,kpi,notifications,reports & \
	$(BIN)/celery -A aftersales beat --loglevel=WARNING --schedule var/celerybeat-schedule & \
	$(BIN)/python manage.py runserver $(HOST):$(PORT)

test: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	@# Any deploy warning of the production settings fails CI (the key is a dummy, for the check only).
	DJANGO_SETTINGS_MODULE=aftersales.settings.production ALLOWED_HOSTS=example.com \
	  SECRET_KEY=ci-check-deploy-only-0123456789-abcdefghijklmnopqrstuvwxyz-ABCDEFGH \
	  $(BIN)/python manage.py check --deploy --fail-level WARNING
	$(BIN)/pytest

# A quick subset for a second database backend (CI runs it on SQLite after PostgreSQL).
test-smoke: install
	$(BIN)/pytest -m "not e2e" tests/project tests/tickets/test_services.py tests/tickets/test_api.py

lint:
	$(BIN)/ruff check .

format:
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Re-extract and compile the translations after changing user-visible strings.
messages:
	$(BIN)/python manage.py makemessages -l zh_Hans --ignore=.venv --ignore=node_modules --ignore=var
	$(BIN)/python manage.py compilemessages --ignore=.venv --ignore=node_modules

clean:
	rm -rf $(VENV) node_modules var
