#!/usr/bin/env bash
# Project tooling for the lent GPU machines (see scripts/gpu_job.sh), not a user command.
# Download the wheels the GPU machine lacks (Python 3.12, no network there) into wheels/ (git-ignored),
# so that they travel with the working tree: `run(carry=["wheels"], ...)`.
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip download -q --python-version 3.12 --only-binary=:all: --no-deps \
  --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux_2_28_x86_64 \
  tree-sitter tree-sitter-python -d wheels/
ls -la wheels/
