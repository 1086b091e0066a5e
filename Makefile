# Two set-up commands: `make demo` and `make test`. Each installs what it needs into .venv first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# torch is pinned to the CPU wheel here: on a machine without a GPU, a plain `pip install torch` pulls a
# multi-GB CUDA build. On a GPU machine run `make TORCH_SPEC=torch install` (or install your own build first).
TORCH_SPEC ?= torch==2.13.0
export PYTHONUNBUFFERED := 1

.PHONY: install demo test test-slow bench clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/python -m pip install --quiet "$(TORCH_SPEC)"
	$(BIN)/python -m pip install --quiet -e ".[test,plot,xlsx,ct2]"
	touch $@

# The main job end to end on the bundled Tatoeba sample: prepare -> train (tiny recipe) -> evaluate -> translate.
# It writes where a user's own commands look (data/sample with data/latest, runs/tiny-<time> with runs/latest),
# so the README's next examples (`s2s evaluate --bleu`, `echo ... | s2s translate`) work as typed afterwards.
demo: install
	$(BIN)/s2s prepare --sample --vocab-size 1000 --dev 200 --test 200 --force
	$(BIN)/s2s train recipes/tiny.yaml --data data/sample
	$(BIN)/s2s evaluate --bleu --chrf
	printf '안녕하세요.\n나는 학생이다.\n고마워요!\n' | $(BIN)/s2s translate

test: install
	$(BIN)/python -m pytest -q

test-slow: install
	$(BIN)/python -m pytest -q -m slow

bench: install
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache  # data/ and runs/ hold your work: remove them by hand
