"""Fixtures shared by the test files: where the data is, a prepared sample directory, and the CLI runner.

Where a test lives: `tests/test_<module>.py` for the module of `s2s/` whose promise it checks, whatever the way
it can fail -- bad input, a crash, a full disk, a signal -- so "a damaged checkpoint is refused on resume" is in
test_checkpoint.py and "prepare on a full disk" in test_prepare.py. Behaviour of the command line as a whole
(help, exit codes, one-line errors on every command) is in test_cli.py; pictures in test_visuals.py. Helpers
more than one file needs are in `reliability.py`.

Tests that need `../shared/data` (next to the repository, absent on a fresh clone) take `shared_data`, which
skips them with the reason; mark them `@pytest.mark.shared` too.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """`../shared/data`, or a skip saying it is missing."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"needs the shared data at {SHARED_DATA} (not part of the repository)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def sample_corpus() -> Path:
    """The Tatoeba ko-en sample shipped in the package (2,648 pairs)."""
    from s2s.data.prepare import sample_corpus

    return sample_corpus()


@pytest.fixture(scope="session")
def prepared_sample(tmp_path_factory: pytest.TempPathFactory, sample_corpus: Path) -> Path:
    """A data directory prepared once per session from the sample (joint unigram vocabulary of 1000)."""
    from s2s.data.prepare import PrepareOptions, prepare
    from s2s.data.subwords import SubwordOptions

    out = tmp_path_factory.mktemp("prepared") / "sample"
    prepare([sample_corpus], PrepareOptions(subwords=SubwordOptions(vocab_size=1000), dev=200, test=200), out)
    return out


@pytest.fixture
def cli():
    """`cli("prepare", "--sample", ...)`: the Typer app run in-process; returns click's Result."""
    from s2s.cli import app

    runner = CliRunner()

    def run(*args: str | Path):
        return runner.invoke(app, [str(a) for a in args])

    return run


@pytest.fixture(autouse=True)
def one_thread():
    """Tests run tiny models: one torch thread is faster than two fighting over 2 shared cores."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory: pytest.TempPathFactory, prepared_sample: Path) -> Path:
    """`<tmp>/runs/tiny`: one tiny attention GRU trained for 30 steps (seconds), shared by the translate and
    evaluate tests; `<tmp>/runs/latest` points at it. This far from trained it would write only spaces or end at
    once: a high learning rate and `min_len: 3` in its recipe's decoder make every translation non-empty text
    (punctuation, mostly), and the scores differ from sentence to sentence."""
    from reliability import train_quietly

    from s2s.config import recipe_from_dict

    raw = {
        "data": {"max_tokens": 600, "max_len": 40},
        "model": {"arch": "attention", "cell": "gru", "embed": 24, "encoder_hidden": 24, "encoder_layers": 1,
                  "hidden": 32, "decoder_layers": 1, "dropout": 0.0},
        "train": {"seed": 3, "max_steps": 30, "lr": 0.01, "log_every": 10, "valid_every": 1000,
                  "valid_bleu": False, "metric": "loss"},
        "decode": {"strategy": "beam", "beam_size": 3, "min_len": 3},
    }
    return train_quietly(recipe_from_dict(raw, name="tiny-run"), prepared_sample,
                         tmp_path_factory.mktemp("tiny-run") / "runs" / "tiny")
