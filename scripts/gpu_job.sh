#!/usr/bin/env bash
# One stage of the default model's recipe on a GPU machine, each fitting in one 10-minute call:
#
#   scripts/gpu_job.sh setup-corpus          # install carried wheels; corpus + tokenizer (16 workers)
#   scripts/gpu_job.sh train MINUTES [flags] # train or resume (call again to continue: --resume)
#   scripts/gpu_job.sh finish                # eval, export, pack results into $OUT (<= 8 files)
#
# Runs in the repository root; the run lives in runs/gpu (git-ignored, kept while the machine stays warm).
# The model: ~25M parameters (ModernBERT, hidden 512, 8 layers), bf16 autocast, batch 128 x 512 tokens.
set -euo pipefail
stage=${1:?usage: scripts/gpu_job.sh setup-corpus|train MINUTES|finish}
shift
run=runs/gpu
bench=${DIFFILL_BENCHMARKS:-shared/benchmarks/humaneval-infilling}
[ -d "$bench" ] || bench=../shared/benchmarks/humaneval-infilling
py=python3
install() {
  $py -c "import tree_sitter, tree_sitter_python" 2>/dev/null ||
    $py -m pip install -q --no-index --find-links wheels tree-sitter tree-sitter-python
  $py -c "import lsp_server, training" 2>/dev/null || $py -m pip install -q --no-deps --no-build-isolation -e .
}
case "$stage" in
  setup-corpus)
    install
    mkdir -p "$run"
    [ -f "$run/corpus/stats.json" ] || $py -m training.cli corpus stdlib site-packages --out "$run/corpus" \
      --decontaminate "$bench" --workers "$(nproc)" --no-progress
    [ -f "$run/tokenizer/tokenizer.json" ] || $py -m training.cli tokenizer "$run/corpus" --out "$run/tokenizer"
    $py -c "import json; s=json.load(open('$run/corpus/stats.json')); print({k: s[k] for k in ('files_kept', 'bytes_kept', 'estimated_tokens_examples')})"
    ;;
  train)
    install
    minutes=${1:?train MINUTES}
    shift
    $py -m training.cli train "$run/corpus" --tokenizer "$run/tokenizer" --out "$run/train" --resume \
      --steps 1000000 --max-minutes "$minutes" --hidden 512 --layers 8 --heads 8 --intermediate 1536 \
      --batch-size 128 --lr 1e-3 --warmup 300 --checkpoint-every 500 --log-every 20 "$@"
    tail -3 "$run/train/train_log.csv"
    ;;
  finish)
    install
    $py -m training.cli eval --model "$run/train/checkpoint" --tasks single-line multi-line random-span \
      --oracle-length --multi-hole --out "$run/eval" --card --batch-size 64 --workers "$(nproc)"
    $py -m training.cli export "$run/train/checkpoint" --out "$run/model" --dtype bfloat16
    out=${OUT:?OUT is set by the device tool}
    cp "$run"/model/*.safetensors "$out"/
    (cd "$run" && tar -czf "$out/meta.tar.gz" model/*.json model/README.md eval train/train_log.csv \
      train/loss.png corpus/stats.json corpus/licenses.json)
    ls -la "$out"
    ;;
  *) echo "unknown stage $stage" >&2; exit 2 ;;
esac
