"""`s2s prepare` on the real corpora in ../shared/data (skipped with a reason where that folder is absent)."""

from __future__ import annotations

import pytest

from s2s.data.manifest import load_manifest

pytestmark = pytest.mark.shared


def read(path):
    return path.read_text(encoding="utf-8").splitlines()


def test_noisy_news_is_cleaned_not_fatal(cli, shared_data, tmp_path):
    corpus = shared_data / "noisy" / "kpc-news-dev.tsv"
    out = tmp_path / "news"
    result = cli("prepare", corpus, "--out", out, "--vocab-size", "1000", "--dev", "50", "--test", "50")
    assert result.exit_code == 0, result.output
    manifest = load_manifest(out).raw
    dropped = sum(manifest["cleaning"][rule] for rule in ("empty", "too_long", "ratio", "duplicate", "leak"))
    assert sum(manifest["splits"].values()) + dropped == 1000
    assert manifest["cleaning"]["whitespace"] > 0 and manifest["cleaning"]["ratio"] > 0


def test_tatoeba_with_the_ko_en_dev_set(cli, shared_data, tmp_path):
    out = tmp_path / "tatoeba"
    dev = shared_data / "ko-en" / "dev.tsv"
    result = cli("prepare", shared_data / "tatoeba" / "kor-eng.tsv", "--dev-file", dev, "--test", "200",
                 "--out", out, "--vocab-size", "1000", "--quiet")
    assert result.exit_code == 0, result.output
    assert load_manifest(out).splits["dev"] == 2000
    held = set(read(out / "dev.ko")) | set(read(out / "test.ko"))
    assert not held & set(read(out / "train.ko"))


@pytest.mark.slow
def test_full_ko_en_train(cli, shared_data, tmp_path):
    out = tmp_path / "ko-en"
    result = cli("prepare", shared_data / "ko-en" / "train.tsv", "--dev-file", shared_data / "ko-en" / "dev.tsv",
                 "--out", out, "--quiet")
    assert result.exit_code == 0, result.output
    manifest = load_manifest(out)
    assert manifest.splits["dev"] == 2000 and manifest.splits["test"] == 1000
    assert manifest.splits["train"] > 75_000 and manifest.vocab_sizes == {"ko": 8000, "en": 8000}
    held_ko = set(read(out / "dev.ko")) | set(read(out / "test.ko"))
    held_en = set(read(out / "dev.en")) | set(read(out / "test.en"))
    assert not held_ko & set(read(out / "train.ko")) and not held_en & set(read(out / "train.en"))
