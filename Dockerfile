# One image per process kind. Build: docker build --target bot -t zabota-bot . ; --target app -t zabota-app .
# Both install from the same lock files as `make setup`, so containers and local runs match.

# --- bot: the Rasa server (Python 3.10; Rasa 3.6 does not support newer Pythons) ---------------------------
FROM python:3.10-slim-bookworm AS bot
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    RASA_TELEMETRY_ENABLED=false TF_CPP_MIN_LOG_LEVEL=2 PYTHONPATH=/app
RUN apt-get update && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY requirements/bot.lock requirements/bot.lock
RUN pip install --no-deps -r requirements/bot.lock
COPY bot/ bot/
COPY nlu_data/ nlu_data/
COPY endpoints.yml ./
# the model is trained at build time from the data in the image (same content hash as `make train`)
RUN rasa train --config bot/config.yml --domain bot/domain.yml --data bot/data nlu_data --out models \
      --fixed-model-name zabota
RUN useradd --create-home zabota && chown -R zabota /app
USER zabota
EXPOSE 5005
# The API needs RASA_TOKEN; only the gateway container should reach this port (compose network).
CMD ["sh", "-c", "exec rasa run --enable-api --auth-token \"$RASA_TOKEN\" --interface 0.0.0.0 --port 5005 \
      --model models/zabota.tar.gz --endpoints endpoints.yml --credentials bot/credentials.yml"]

# --- app: gateway and action server (Python 3.11) -------------------------------------------------------------
FROM python:3.11-slim-bookworm AS app
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PYTHONPATH=/app HF_HUB_OFFLINE=1
WORKDIR /app
COPY requirements/app.lock requirements/app.lock
# The CPU build of torch: the default registry build drags several GB of CUDA libraries.
RUN pip install --no-deps --index-url https://download.pytorch.org/whl/cpu torch==2.13.0 \
    && grep -v '^torch==' requirements/app.lock > /tmp/app.lock && pip install --no-deps -r /tmp/app.lock
COPY zabota/ zabota/
COPY gateway/ gateway/
COPY actions/ actions/
COPY kb_index/ kb_index/
COPY kb/ kb/
# The knowledge-base index is a build artefact of the image (offline: the embedder ships in its wheel).
RUN python -m kb_index build
RUN useradd --create-home zabota && chown -R zabota /app
USER zabota
EXPOSE 8000 5055
# default: the gateway; the action server runs from the same image with
#   command: python -m rasa_sdk --actions actions --port 5055
CMD ["sh", "-c", "exec uvicorn gateway.app:create_app --factory --host 0.0.0.0 --port ${GATEWAY_PORT:-8000}"]
