#!/usr/bin/env bash
# Trains the Rasa model only when its inputs changed. The model file is named after a sha256 over every file
# that shapes it (pipeline, domain, rules/stories, NLU data, custom components, the locked bot environment);
# models/current records the model to serve. `make test` on unchanged data therefore trains nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
inputs=$(find bot/config.yml bot/domain.yml bot/data nlu_data bot/components requirements/bot.lock \
              -type f \( -name '*.yml' -o -name '*.yaml' -o -name '*.py' -o -name '*.lock' \) | LC_ALL=C sort)
hash=$(for f in $inputs; do printf '%s\n' "$f"; sha256sum < "$f"; done | sha256sum | cut -c1-16)
name="zabota-$hash"
mkdir -p models
if [ -f "models/$name.tar.gz" ]; then
  echo "models/$name.tar.gz" > models/current
  echo "==> model up to date: models/$name.tar.gz"
  exit 0
fi
echo "==> training models/$name.tar.gz (inputs changed)"
start=$(date +%s)
PYTHONPATH="$PWD" .venv-bot/bin/rasa train --config bot/config.yml --domain bot/domain.yml \
  --data bot/data nlu_data --out models --fixed-model-name "$name" --quiet
echo "models/$name.tar.gz" > models/current
echo "==> trained in $(( $(date +%s) - start )) s"
