#!/usr/bin/env bash
# Project tooling, not a user command: it is written for this project's lent GPU machines (10-minute calls, a
# copy of ../shared carried along). Users train with `diffill-train` or scripts/train_default.sh.
#
# The default model's recipe on a lent GPU machine, in calls of at most 10 minutes each:
#
#   scripts/gpu_job.sh start END [SECONDS]      # corpus + tokenizer, then training detached, sized to end END
#                                               # seconds after this call began; follow it until SECONDS
#   scripts/gpu_job.sh follow SECONDS           # follow the training log (the machine stays busy, so held)
#   scripts/gpu_job.sh finish                   # wait for training; single-line eval, export; model -> $OUT
#   scripts/gpu_job.sh extras                   # other benchmarks, steps sweep, ELBO; -> $OUT
#   scripts/gpu_job.sh speed                    # GPU speed: bench, CUDA graphs, server latency; -> $OUT
#
# Training runs under setsid so that it outlives the call that started it. Everything lives in runs/gpu
# (git-ignored). The model: ModernBERT 512 hidden x 8 layers (~25M parameters), bf16 autocast, batch 128.
# Knobs (environment):
#   DIFFILL_BENCHMARKS  humaneval-infilling copy (carried, since ../shared does not travel)
#   DIFFILL_TOKENIZER   a carried tokenizer directory (default: train one on the corpus)
#   DIFFILL_SOURCES     corpus sources (default: "stdlib site-packages")
#   DIFFILL_MODEL_FLAGS, DIFFILL_TRAIN_FLAGS  override the model size and optimisation flags
#   DIFFILL_EVAL_LIMIT  tasks per multi-line / random-span benchmark (default 600)
#   DIFFILL_SINGLE_LIMIT  only this many single-line tasks in `finish` (default: all; for dry runs)
#   DIFFILL_DEVICE      device for the speed benchmarks (default cuda)
#   PY                  the Python to use (default python3)
set -euo pipefail
stage=${1:?usage: scripts/gpu_job.sh start END [SECONDS] | follow SECONDS | finish | extras | speed}
shift
run=runs/gpu
py=${PY:-python3}
bench=${DIFFILL_BENCHMARKS:-.bench/humaneval-infilling}
[ -d "$bench" ] || bench=../shared/benchmarks/humaneval-infilling
DIFFILL_BENCHMARKS=$(realpath "$bench")
export DIFFILL_BENCHMARKS  # the evaluation reads it too
sources=${DIFFILL_SOURCES:-stdlib site-packages}
model_flags=${DIFFILL_MODEL_FLAGS:---hidden 512 --layers 8 --heads 8 --intermediate 1024}
train_flags=${DIFFILL_TRAIN_FLAGS:---batch-size 128 --lr 1e-3 --warmup 500 --checkpoint-every 500 --log-every 50}
limit=${DIFFILL_EVAL_LIMIT:-600}
single_limit=${DIFFILL_SINGLE_LIMIT:+--limit $DIFFILL_SINGLE_LIMIT}
device=${DIFFILL_DEVICE:-cuda}
workers=$(nproc)
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1

setup() {  # the carried wheels (tree-sitter, pygls) where they are missing; the project from the working tree
  if ! $py -c "import tree_sitter_python, pygls" 2>/dev/null && [ -d wheels ]; then
    $py -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site wheels/*.whl
    export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
  fi
  export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
  mkdir -p "$run"
}

training() { [ -f "$run/train.pid" ] && kill -0 "$(cat "$run/train.pid")" 2>/dev/null; }

follow() {  # until training ends or $1 seconds pass; a line of the log every minute
  local end=$((SECONDS + $1))
  while training && [ $SECONDS -lt $end ]; do
    sleep 15
    [ $((SECONDS % 60)) -lt 15 ] && [ -f "$run/train/train_log.csv" ] && tail -n 1 "$run/train/train_log.csv"
  done
  tail -n 2 "$run/train/train_log.csv" 2>/dev/null || true
  training && echo "training: still running" || { echo "training: done"; tail -c 400 "$run/train.out"; }
}

out_dir() { echo "${OUT:?OUT is set by the device tool}"; }

case "$stage" in
  start)
    end=${1:?start END}
    setup
    nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null || true
    if [ ! -f "$run/corpus/stats.json" ]; then
      time $py -m training.cli corpus $sources --out "$run/corpus" --decontaminate "$bench" --workers "$workers" \
        --no-progress --resume
    fi
    if [ ! -f "$run/tokenizer/tokenizer.json" ]; then
      if [ -n "${DIFFILL_TOKENIZER:-}" ]; then cp -r "$DIFFILL_TOKENIZER" "$run/tokenizer"
      else $py -m training.cli tokenizer "$run/corpus" --out "$run/tokenizer"; fi
    fi
    minutes=$(( (end - SECONDS - 90) / 60 ))  # ~90 s go to reading and tokenising the corpus
    [ "$minutes" -ge 1 ] || minutes=1
    echo "training for $minutes minutes"
    # shellcheck disable=SC2086
    setsid $py -m training.cli train "$run/corpus" --tokenizer "$run/tokenizer" --out "$run/train" --resume \
      --steps 1000000 --max-minutes "$minutes" $model_flags $train_flags >"$run/train.out" 2>&1 </dev/null &
    echo $! >"$run/train.pid"
    follow $(( ${2:-60} - SECONDS ))
    ;;
  follow)
    follow "${1:?follow SECONDS}"
    ;;
  finish)
    setup
    follow "${1:-420}"
    if training; then  # out of time: stop it and use its last checkpoint
      echo "training still running: stopping it" >&2
      kill "$(cat "$run/train.pid")"; sleep 5
    fi
    out=$(out_dir)
    timeout 150 $py -m training.cli eval --model "$run/train/checkpoint" --tasks single-line --oracle-length $single_limit \
      --out "$run/eval/single-line" --card --batch-size 128 --workers "$workers" || echo "single-line eval: rc $?"
    $py -m training.cli export "$run/train/checkpoint" --out "$run/model" --dtype bfloat16
    cp "$run"/model/*.safetensors "$out"/
    (cd "$run" && tar -czf "$out/meta.tar.gz" model/*.json model/README.md eval train/train_log.csv \
      train/loss.png train.out corpus/stats.json corpus/licenses.json)
    ls -la "$out"
    ;;
  extras)
    setup
    out=$(out_dir)
    m="$run/model"
    [ -f "$m/scores.json" ] || timeout 150 $py -m training.cli eval --model "$m" --tasks single-line --oracle-length \
      --out "$run/eval/single-line" --card --batch-size 128 --workers "$workers" || echo "single-line eval: rc $?"
    timeout 150 $py -m training.cli eval --model "$m" --tasks multi-line random-span --oracle-length \
      --limit "$limit" --out "$run/eval/spans" --card --batch-size 128 --workers "$workers" || echo "spans: rc $?"
    timeout 140 $py -m training.cli eval --model "$m" --tasks single-line --multi-hole --limit 400 \
      --steps-sweep 4,8,16,32 --elbo-corpus "$run/corpus" --out "$run/eval/sweep" --card --batch-size 128 \
      --workers "$workers" || echo "sweep: rc $?"
    (cd "$run" && tar -czf "$out/extras.tar.gz" $(ls -d model/README.md model/scores.json eval 2>/dev/null))
    ls -la "$out"
    ;;
  speed)  # the trained model, or the bundled one when this machine trained none
    setup
    out=$(out_dir)
    m="$run/model"
    [ -f "$m/config.json" ] || m=diffill/models/default
    timeout 110 $py -m lsp_server.cli bench --model "$m" --device "$device" --out "$run/bench" --contexts 512 \
      --reps 20 --max-seconds 2 --variants plain default default,warm=4 cache=4,neighbours=8 --quality-tasks 100 || echo "bench: rc $?"
    timeout 80 $py -m lsp_server.cli bench --model "$m" --device "$device" --out "$run/bench-graphs" --contexts 512 \
      --cases ghost,three-holes --variants default --buckets --compile reduce-overhead --reps 20 --quality-tasks 0 \
      || echo "bench with CUDA graphs: rc $?"
    timeout 60 $py benchmarks/server_latency.py --model "$m" --device "$device" --reps 20 \
      --out "$run/bench/server_latency_gpu.json" || echo "server latency: rc $?"
    timeout 240 $py benchmarks/server_latency.py --model "$m" --device "$device" --reps 20 --compile reduce-overhead \
      --out "$run/bench/server_latency_gpu_graphs.json" || echo "server latency with CUDA graphs: rc $?"
    (cd "$run" && tar -czf "$out/speed.tar.gz" $(ls -d bench bench-graphs 2>/dev/null))
    ls -la "$out"
    ;;
  *) echo "unknown stage $stage" >&2; exit 2 ;;
esac
