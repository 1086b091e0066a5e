#!/usr/bin/env bash
# bench/gpu.sh: s2s on one NVIDIA GPU, from nothing installed, in under 8 minutes (issue #16 item 6).
#
#     bash bench/gpu.sh        # from the repository root of a clone that sits beside ../shared
#
# 1. installs s2s into .venv-gpu (pip's default torch wheel on Linux carries CUDA; TORCH_SPEC overrides it);
# 2. checks CUDA training in fp32, bf16 and fp16 (fp16 with the gradient scaler) on a tiny attention GRU and a tiny
#    Transformer, and decoding (greedy and beam) from each;
# 3. trains the full-size Transformer recipe (12,000-token batches) on ko-en in bf16 for 5 minutes of training;
# 4. decodes the dev split with beam 5 and prints BLEU and chrF, then the run's tokens/s.
# Everything it writes goes under $S2S_GPU_WORK (default /tmp/s2s-gpu). docs/results.md keeps its output.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$SECONDS
venv=.venv-gpu
work=${S2S_GPU_WORK:-/tmp/s2s-gpu}
if [ ! -x "$venv/bin/s2s" ]; then
    "${PYTHON:-python3}" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --upgrade pip
    "$venv/bin/python" -c "import torch" 2>/dev/null || "$venv/bin/python" -m pip install --quiet "${TORCH_SPEC:-torch==2.13.0}"
    "$venv/bin/python" -m pip install --quiet -e .
fi
s2s="$venv/bin/s2s"
"$venv/bin/python" -c "
import torch
assert torch.cuda.is_available(), 'bench/gpu.sh: torch sees no CUDA device'
print('torch', torch.__version__, 'CUDA', torch.version.cuda, 'on', torch.cuda.get_device_name(0),
      '(bf16 supported: %s)' % torch.cuda.is_bf16_supported())"
echo "installed in $((SECONDS - started)) s"
mkdir -p "$work"

# 2. Every precision trains and decodes on the GPU (60 steps of a tiny model each; the loss must fall).
"$s2s" prepare --sample --vocab-size 1000 --dev 200 --test 200 --out "$work/sample" --force --quiet
tiny_transformer=(--set model.d_model=64 --set model.ffn=256 --set model.encoder_layers=1 --set model.decoder_layers=1
                  --set train.warmup_steps=20 --set data.max_tokens=1500 --set train.max_time=null)
for precision in fp32 bf16 fp16; do
    for recipe in tiny transformer; do
        run="$work/check-$recipe-$precision"
        extra=()
        [ "$recipe" = transformer ] && extra=("${tiny_transformer[@]}")
        "$s2s" train "$recipe" --data "$work/sample" --out "$run" --device cuda --quiet "${extra[@]}" \
            --set train.precision=$precision --set train.max_steps=60 --set train.valid_every=60 --set train.log_every=20
        "$venv/bin/python" - "$run" <<'EOF'
import json, sys
losses = [r["loss"] for r in map(json.loads, open(sys.argv[1] + "/metrics.jsonl")) if r["kind"] == "train"]
assert losses[-1] < losses[0], f"{sys.argv[1]}: the loss did not fall: {losses}"
print(f"{sys.argv[1]}: train loss {losses[0]:.2f} -> {losses[-1]:.2f}")
EOF
        for decoder in greedy beam; do
            "$s2s" evaluate -m "$run" --device cuda --decoder $decoder --bleu --json >/dev/null
        done
        echo "$recipe $precision: trained and decoded (greedy, beam) on cuda"
    done
done

# 3-4. The full-size Transformer on ko-en: 5 minutes of bf16 training, then dev with beam 5.
"$s2s" prepare ../shared/data/ko-en/train.tsv --dev-file ../shared/data/ko-en/dev.tsv --test 1000 --vocab-size 8000 \
    --out "$work/ko-en" --force --quiet
"$s2s" train transformer --data "$work/ko-en" --out "$work/transformer" --device cuda --quiet \
    --set train.precision=bf16 --set train.max_time=5m --set data.max_tokens=12000 --set train.valid_every=1000
"$s2s" evaluate -m "$work/transformer" --split dev --device cuda --decoder beam --beam 5 --bleu --chrf
"$s2s" info "$work/transformer"
echo "bench/gpu.sh: done in $((SECONDS - started)) s"
