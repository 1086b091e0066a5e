# bench/gpu_python.sh: sourced by bench/gpu.sh and bench/gpu_length.sh -- which Python runs s2s on the GPU.
#
# pick_gpu_python sets $python to the machine's own python3 when it already holds a CUDA torch and s2s's other
# needs (GPU images usually do, and may have no network to install from; s2s then runs from this checkout through
# PYTHONPATH, nothing installed), else to a fresh .venv-gpu (pip's default torch wheel on Linux carries CUDA;
# TORCH_SPEC overrides it). Returns non-zero when that install fails. Run from the repository root.
pick_gpu_python() {
    if python3 -c "import torch, typer, rich, sentencepiece, sacrebleu, yaml; assert torch.cuda.is_available()" \
        2>/dev/null; then
        python=python3
        export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
        echo "using the machine's python3 as it is: $(command -v python3)"
        return 0
    fi
    local venv=.venv-gpu
    if [ ! -x "$venv/bin/python" ] || [ ! -f "$venv/.installed" ]; then
        "${PYTHON:-python3}" -m venv "$venv" &&
            "$venv/bin/python" -m pip install --quiet --upgrade pip &&
            { "$venv/bin/python" -c "import torch" 2>/dev/null ||
                "$venv/bin/python" -m pip install --quiet "${TORCH_SPEC:-torch==2.13.0}"; } &&
            "$venv/bin/python" -m pip install --quiet -e . &&
            touch "$venv/.installed" || return 1
    fi
    python=$venv/bin/python
}
