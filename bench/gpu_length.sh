#!/usr/bin/env bash
# bench/gpu_length.sh: the context vector against attention by source length on one NVIDIA GPU, at equal time.
#
#     bash bench/gpu_length.sh DATA [SECONDS]   # DATA: a ko-en directory made by `s2s prepare` (bench/common.py's)
#
# Trains recipes/lstm.yaml and recipes/attention.yaml for SECONDS of training each (default 70) with 12,000-token
# batches on cuda, then `s2s compare` scores both on the dev split (greedy) with BLEU by source length. Uses the
# machine's python3 as it is (see bench/gpu.sh); runs go under $S2S_GPU_WORK (default /tmp/s2s-gpu-length) and
# the comparison is printed as JSON and kept in $S2S_GPU_WORK/compare.json. docs/results.md keeps its output.
set -euo pipefail
cd "$(dirname "$0")/.."
data=${1:?usage: bash bench/gpu_length.sh DATA [SECONDS]}
seconds=${2:-70}
work=${S2S_GPU_WORK:-/tmp/s2s-gpu-length}
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
started=$SECONDS
for recipe in lstm attention; do
    python3 -m s2s train "$recipe" --data "$data" --out "$work/$recipe" --device cuda --quiet \
        --set train.max_time="${seconds}s" --set data.max_tokens=12000 --set train.valid_every=100000 \
        --set train.log_every=100
    echo "$recipe trained at $((SECONDS - started)) s"
done
python3 -m s2s compare "$work/lstm" "$work/attention" --split dev --device cuda --decoder greedy --json \
    > "$work/compare.json"
cat "$work/compare.json"
