#!/usr/bin/env bash
# bench/gpu_length.sh: the context vector against attention by source length on one NVIDIA GPU, at equal time.
#
#     bash bench/gpu_length.sh DATA [SECONDS]   # DATA: a ko-en directory made by `s2s prepare` (bench/common.py's)
#
# Trains recipes/lstm.yaml and recipes/attention.yaml for SECONDS of training each (default 70) with 12,000-token
# batches on cuda, then `s2s compare` scores both on the dev split (greedy) with BLEU by source length. s2s runs
# with the Python bench/gpu.sh uses (bench/gpu_python.sh: the machine's own when it has a CUDA torch, else a
# .venv-gpu); runs go under $S2S_GPU_WORK (default /tmp/s2s-gpu-length) and the comparison is printed as JSON
# and kept in $S2S_GPU_WORK/compare.json. docs/results.md keeps its output.
set -euo pipefail
cd "$(dirname "$0")/.."
data=${1:?usage: bash bench/gpu_length.sh DATA [SECONDS]}
seconds=${2:-70}
work=${S2S_GPU_WORK:-/tmp/s2s-gpu-length}
export PYTHONUNBUFFERED=1
source bench/gpu_python.sh
pick_gpu_python
started=$SECONDS
for recipe in lstm attention; do
    "$python" -m s2s train "$recipe" --data "$data" --out "$work/$recipe" --device cuda --quiet \
        --set train.max_time="${seconds}s" --set data.max_tokens=12000 --set train.valid_every=100000 \
        --set train.log_every=100
    echo "$recipe trained at $((SECONDS - started)) s"
done
"$python" -m s2s compare "$work/lstm" "$work/attention" --split dev --device cuda --decoder greedy --json \
    > "$work/compare.json"
cat "$work/compare.json"
