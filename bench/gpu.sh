#!/usr/bin/env bash
# bench/gpu.sh: s2s on one NVIDIA GPU, from nothing installed, in under 8 minutes (issue #16 item 6).
#
#     bash bench/gpu.sh        # from the repository root of a clone that sits beside ../shared
#
# 1. finds a Python to run s2s with (bench/gpu_python.sh): the machine's own python3 when it already holds a CUDA
#    torch and s2s's other needs (GPU images usually do, and may have no network to install from), else a fresh
#    .venv-gpu (pip's default torch wheel on Linux carries CUDA; TORCH_SPEC overrides it);
# 2. checks CUDA training in fp32, bf16 and fp16 (fp16 with the gradient scaler) on a tiny attention GRU and a tiny
#    Transformer, and decoding (greedy and beam) from each;
# 3. trains the full-size Transformer recipe (12,000-token batches) on ko-en in bf16 for 4 minutes of training
#    (S2S_GPU_TRAIN_TIME; 4 minutes keeps the whole script inside 8: it took 480 s on an H200);
# 4. decodes the dev split with beam 5 and prints BLEU and chrF, then the run's tokens/s.
# A failed check is reported and the rest still runs (a GPU lent for minutes should not be spent twice); the exit
# status is non-zero if anything failed. Everything it writes goes under $S2S_GPU_WORK (default /tmp/s2s-gpu);
# the ko-en corpus is read from $S2S_SHARED/data/ko-en (default ../shared, else ./shared).
# docs/results.md keeps its output.
set -uo pipefail
cd "$(dirname "$0")/.."
started=$SECONDS
work=${S2S_GPU_WORK:-/tmp/s2s-gpu}
train_time=${S2S_GPU_TRAIN_TIME:-4m}
shared=${S2S_SHARED:-../shared}
[ -d "$shared/data/ko-en" ] || shared=shared
failed=()

source bench/gpu_python.sh
pick_gpu_python || exit 1
s2s() { "$python" -m s2s "$@"; }
"$python" -c "
import torch
assert torch.cuda.is_available(), 'bench/gpu.sh: torch sees no CUDA device'
print('torch', torch.__version__, 'CUDA', torch.version.cuda, 'on', torch.cuda.get_device_name(0),
      '(bf16 supported: %s)' % torch.cuda.is_bf16_supported())" || exit 1
echo "ready in $((SECONDS - started)) s"
mkdir -p "$work"

# 2. Every precision trains and decodes on the GPU (60 steps of a tiny model each; the loss must fall).
s2s prepare --sample --vocab-size 1000 --dev 200 --test 200 --out "$work/sample" --force --quiet || exit 1
tiny_transformer=(--set model.d_model=64 --set model.ffn=256 --set model.encoder_layers=1 --set model.decoder_layers=1
                  --set train.warmup_steps=20 --set data.max_tokens=1500 --set train.max_time=null)
check() {  # recipe precision
    local recipe=$1 precision=$2 run="$work/check-$1-$2" extra=()
    [ "$recipe" = transformer ] && extra=("${tiny_transformer[@]}")
    s2s train "$recipe" --data "$work/sample" --out "$run" --device cuda --quiet "${extra[@]}" \
        --set train.precision="$precision" --set train.max_steps=60 --set train.valid_every=60 \
        --set train.log_every=20 || return 1
    "$python" - "$run" <<'PY' || return 1
import json, sys
losses = [r["loss"] for r in map(json.loads, open(sys.argv[1] + "/metrics.jsonl")) if r["kind"] == "train"]
assert losses[-1] < losses[0], f"{sys.argv[1]}: the loss did not fall: {losses}"
print(f"{sys.argv[1]}: train loss {losses[0]:.2f} -> {losses[-1]:.2f}")
PY
    for decoder in greedy beam; do
        s2s evaluate -m "$run" --device cuda --decoder $decoder --bleu --json >/dev/null || return 1
    done
}
for precision in fp32 bf16 fp16; do
    for recipe in tiny transformer; do
        if check "$recipe" "$precision"; then
            echo "$recipe $precision: trained and decoded (greedy, beam) on cuda"
        else
            echo "$recipe $precision: FAILED"
            failed+=("$recipe-$precision")
        fi
    done
done
echo "checks done at $((SECONDS - started)) s"

# 3-4. The full-size Transformer on ko-en: bf16 training for the time given, then dev with beam 5.
koen() {
    s2s prepare "$shared/data/ko-en/train.tsv" --dev-file "$shared/data/ko-en/dev.tsv" --test 1000 \
        --vocab-size 8000 --out "$work/ko-en" --force --quiet || return 1
    echo "prepared ko-en at $((SECONDS - started)) s"
    s2s train transformer --data "$work/ko-en" --out "$work/transformer" --device cuda --quiet \
        --set train.precision=bf16 --set train.max_time="$train_time" --set data.max_tokens=12000 \
        --set train.valid_every=1000 || return 1
    echo "trained at $((SECONDS - started)) s"
    s2s evaluate -m "$work/transformer" --split dev --device cuda --decoder beam --beam 5 --bleu --chrf \
        --save-hyp "$work/transformer/dev.beam.hyp" || return 1
    s2s info "$work/transformer"
}
if [ ! -f "$shared/data/ko-en/train.tsv" ]; then
    echo "bench/gpu.sh: no ko-en corpus at $shared/data/ko-en (set S2S_SHARED); skipping the ko-en run"
    failed+=("ko-en-missing")
else
    koen || failed+=("ko-en")
fi
echo "bench/gpu.sh: done in $((SECONDS - started)) s${failed[*]:+; FAILED: ${failed[*]}}"
[ ${#failed[@]} -eq 0 ]
