#!/usr/bin/env bash
# Build the corpus, train the tokenizer and the model, evaluate it and export it: the default model's recipe.
#
#   scripts/train_default.sh RUN_DIR [MINUTES] [extra `diffill-train train` flags...]
#
# Sources: the Python standard library and this interpreter's site-packages (license-filtered, deduplicated,
# decontaminated against HumanEval-infilling). On a GPU machine give more minutes and a bigger model, e.g.
#   scripts/train_default.sh runs/gpu 20 --hidden 384 --layers 8 --heads 6 --intermediate 1024 --batch-size 128
set -euo pipefail
run=${1:?usage: scripts/train_default.sh RUN_DIR [MINUTES] [train flags...]}
minutes=${2:-80}
shift $(( $# >= 2 ? 2 : 1 ))
here=$(cd "$(dirname "$0")/.." && pwd)
bench=${DIFFILL_BENCHMARKS:-$here/../shared/benchmarks/humaneval-infilling}
mkdir -p "$run"
[ -f "$run/corpus/stats.json" ] || diffill-train corpus stdlib site-packages --out "$run/corpus" --decontaminate "$bench"
[ -f "$run/tokenizer/tokenizer.json" ] || diffill-train tokenizer "$run/corpus" --out "$run/tokenizer" --vocab-size 8192
diffill-train train "$run/corpus" --tokenizer "$run/tokenizer" --out "$run/train" --steps 1000000 \
  --max-minutes "$minutes" --hidden 192 --layers 4 --heads 3 --intermediate 512 --batch-size 16 --lr 1e-3 \
  --warmup 200 --checkpoint-every 300 --resume "$@"
diffill-train eval --model "$run/train/checkpoint" --tasks single-line --out "$run/eval" --card
diffill-train export "$run/train/checkpoint" --out "$run/model"
echo "model: $run/model"
