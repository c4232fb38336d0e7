#!/usr/bin/env bash
# Runs every NLU benchmark behind docs/benchmarks.md and keeps each command's last line (JSON) under results/.
# Takes about half an hour on 2 cores. Usage: scripts/bench-all.sh  (or make bench-all)
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p results/bench
make --no-print-directory bench-datasets
.venv-bot/bin/python -m bench.export_nlu_csv --out results/bench/own_train.csv
run() {  # name, make target args...
  local name=$1; shift
  echo "==> $name"
  make --no-print-directory "$@" | tee "results/bench/$name.log" | tail -n 1 > "results/bench/$name.json"
  cat "results/bench/$name.json"
}
run heldout_ru eval-nlu TEST=bench/data/heldout_ru.csv
run heldout_en eval-nlu TEST=bench/data/heldout_en.csv
run own_ru bench-nlu TRAIN=results/bench/own_train.csv TEST=bench/data/heldout_ru.csv
run own_en bench-nlu TRAIN=results/bench/own_train.csv TEST=bench/data/heldout_en.csv
for set in banking77 clinc150 hwu64; do
  run "$set" bench-nlu TRAIN="bench/data/external/$set/train.csv" TEST="bench/data/external/$set/test.csv"
done
