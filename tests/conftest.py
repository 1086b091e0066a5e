"""Fixtures shared by the test files: where the data is, a prepared sample directory, and the CLI runner.

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
