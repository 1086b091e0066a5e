"""Reading a prepared directory: binary files, the manifest, the vocabulary, batches and their plan."""

from __future__ import annotations

import json
import pickle
import shutil
import time

import numpy as np
import pytest
import torch

from s2s import BOS_ID, EOS_ID, PAD_ID, UNK_ID
from s2s.data.binary import IdsWriter, open_ids
from s2s.data.dataset import ParallelData, collate, token_batches
from s2s.data.manifest import load_manifest
from s2s.data.subwords import Vocab
from s2s.errors import S2SError


# ---- binary files -----------------------------------------------------------------------------------------------


def test_ids_round_trip_in_chunks_and_empty(tmp_path):
    sentences = [[5, 6, 7], [], [65534], [9] * 40]
    with IdsWriter(tmp_path / "a.bin", tmp_path / "a.idx", "uint16") as writer:
        writer.write(sentences[:2])
        writer.write([])
        writer.write(sentences[2:])
    ids, offsets = open_ids(tmp_path / "a.bin", tmp_path / "a.idx", "uint16", expect=4)
    assert [list(ids[offsets[i]:offsets[i + 1]]) for i in range(4)] == sentences
    assert ids.dtype == np.dtype("<u2") and offsets.dtype == np.dtype("<i8")
    with IdsWriter(tmp_path / "e.bin", tmp_path / "e.idx", "int32"):
        pass
    ids, offsets = open_ids(tmp_path / "e.bin", tmp_path / "e.idx", "int32", expect=0)
    assert len(ids) == 0 and list(offsets) == [0]


def test_damaged_ids_are_user_errors(tmp_path):
    with IdsWriter(tmp_path / "a.bin", tmp_path / "a.idx", "uint16") as writer:
        writer.write([[1, 2, 3]])
    data = (tmp_path / "a.bin").read_bytes()
    (tmp_path / "a.bin").write_bytes(data[:-2])
    with pytest.raises(S2SError, match=r"a\.idx: offsets don't match"):
        open_ids(tmp_path / "a.bin", tmp_path / "a.idx", "uint16")
    with pytest.raises(S2SError, match="missing"):
        open_ids(tmp_path / "b.bin", tmp_path / "b.idx", "uint16")


# ---- manifest ---------------------------------------------------------------------------------------------------


def test_manifest_fields(prepared_sample):
    manifest = load_manifest(prepared_sample)
    assert manifest.languages == ("ko", "en") and (manifest.src, manifest.tgt) == ("ko", "en")
    assert manifest.vocab_path("ko") == prepared_sample / "spm.model" == manifest.vocab_path("en")
    assert manifest.splits == {"train": manifest.splits["train"], "dev": 200, "test": 200}
    assert manifest.dtype == "uint16" and manifest.joint
    assert manifest.direction() == ("ko", "en")
    assert manifest.direction("en", "ko") == ("en", "ko")
    assert manifest.direction(tgt="ko") == ("en", "ko")
    with pytest.raises(S2SError, match="no 'ja' data"):
        manifest.direction("ja", "en")


def test_manifest_errors_name_the_directory(tmp_path):
    with pytest.raises(S2SError, match="no such data directory"):
        load_manifest(tmp_path / "missing")
    with pytest.raises(S2SError, match=r"not a prepared data directory"):
        load_manifest(tmp_path)
    (tmp_path / "manifest.json").write_text("{\n  oops")
    with pytest.raises(S2SError, match=r"manifest\.json:2: not valid JSON"):
        load_manifest(tmp_path)
    (tmp_path / "manifest.json").write_text(json.dumps({"format": 1, "languages": ["ko", "en"]}))
    with pytest.raises(S2SError, match="missing key"):
        load_manifest(tmp_path)


# ---- vocabulary -------------------------------------------------------------------------------------------------


def test_vocab_round_trips_text_and_bytes(prepared_sample):
    vocab = Vocab.load(prepared_sample / "spm.model")
    ids = vocab.encode("나는 학생이다.")
    assert ids and all(EOS_ID < i < vocab.size for i in ids)
    assert vocab.decode(ids) == "나는 학생이다."
    assert vocab.decode([BOS_ID] + ids + [EOS_ID, PAD_ID, PAD_ID]) == "나는 학생이다."
    assert len(vocab.pieces(ids)) == len(ids) and vocab.pieces([BOS_ID]) == ["<s>"]
    copy = Vocab.from_bytes(vocab.to_bytes())
    assert copy.size == vocab.size == 1000 and copy.encode("안녕") == vocab.encode("안녕")
    assert pickle.loads(pickle.dumps(vocab)).encode("안녕") == vocab.encode("안녕")


def test_vocab_normalises_new_text_like_training(prepared_sample):
    vocab = Vocab.load(prepared_sample / "spm.model")
    assert vocab.encode("\u1112\u1161\u11ab  국\u200b어 ") == vocab.encode("한 국어")
    assert vocab.encode_batch(["한 국어", "  "]) == [vocab.encode("한 국어"), []]


def test_vocab_refuses_garbage(tmp_path):
    (tmp_path / "bad.model").write_bytes(b"not a model")
    with pytest.raises(S2SError, match=r"bad\.model: not a SentencePiece model"):
        Vocab.load(tmp_path / "bad.model")
    with pytest.raises(S2SError, match="can't read"):
        Vocab.load(tmp_path / "missing.model")


# ---- ParallelData and collate -----------------------------------------------------------------------------------


def test_parallel_data_matches_the_text(prepared_sample):
    data = ParallelData.open(prepared_sample, "dev", "ko", "en")
    vocab = Vocab.load(prepared_sample / "spm.model")
    ko = (prepared_sample / "dev.ko").read_text(encoding="utf-8").splitlines()
    en = (prepared_sample / "dev.en").read_text(encoding="utf-8").splitlines()
    assert len(data) == len(ko) == len(en) == 200
    assert data.src_lengths.dtype == np.int64 and len(data.tgt_lengths) == 200
    known = 0
    for i in range(200):
        for ids, text in zip(data.pair(i), (ko[i], en[i])):
            if UNK_ID not in ids:  # a character unseen in train is <unk>, which decodes to nothing
                assert vocab.decode(ids) == text
                known += 1
    assert known > 300
    src, tgt = data.pair(3)
    assert len(src) == data.src_lengths[3] and len(tgt) == data.tgt_lengths[3]


def test_sampled_segmentations_spell_the_same_text_and_follow_seed_and_epoch(prepared_sample):
    from s2s.data.sampling import sampled_split

    base = ParallelData.open(prepared_sample, "train", "ko", "en")
    vocab = Vocab.load(prepared_sample / "spm.model")
    first = sampled_split(prepared_sample, base, vocab, vocab, 0.1, seed=1, epoch=0)
    again = sampled_split(prepared_sample, base, vocab, vocab, 0.1, seed=1, epoch=0)
    later = sampled_split(prepared_sample, base, vocab, vocab, 0.1, seed=1, epoch=1)
    assert len(first) == len(base)
    assert np.array_equal(first.src_ids, again.src_ids) and np.array_equal(first.tgt_offsets, again.tgt_offsets)
    assert not np.array_equal(first.src_lengths, later.src_lengths)
    changed = 0
    for i in range(0, len(base), 5):
        for sampled, prepared in zip(first.pair(i), base.pair(i)):
            assert vocab.decode(sampled) == vocab.decode(prepared)  # the same text, cut another way
            changed += not np.array_equal(sampled, prepared)
    assert changed > len(base) // 10
    assert first.src_lengths.sum() > base.src_lengths.sum()  # sampled cuts are finer than the best one


def test_the_other_direction(prepared_sample):
    forward = ParallelData.open(prepared_sample, "train", "ko", "en")
    backward = ParallelData.open(prepared_sample, "train", "en", "ko")
    assert np.array_equal(forward.src_lengths, backward.tgt_lengths)
    assert np.array_equal(forward.pair(5)[0], backward.pair(5)[1])
    with pytest.raises(S2SError, match="no split 'valid'"):
        ParallelData.open(prepared_sample, "valid", "ko", "en")


def test_damaged_split_names_its_file(prepared_sample, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(prepared_sample, copy)
    (copy / "dev.en.idx").write_bytes((copy / "dev.en.idx").read_bytes()[:-8])
    with pytest.raises(S2SError, match=r"dev\.en\.idx"):
        ParallelData.open(copy, "dev", "ko", "en")


def test_collate_pads_and_shifts(prepared_sample):
    data = ParallelData.open(prepared_sample, "train", "ko", "en")
    indices = [4, 0, 9]
    batch = collate(data, indices)
    assert batch.size == 3 and batch.indices.tolist() == indices
    for row, i in enumerate(indices):
        src, tgt = data.pair(i)
        n, m = len(src), len(tgt)
        assert batch.src[row, :n].tolist() == src.tolist() and (batch.src[row, n:] == PAD_ID).all()
        assert batch.src_lengths[row] == n
        assert batch.tgt_in[row, : m + 1].tolist() == [BOS_ID] + tgt.tolist()
        assert batch.tgt_out[row, : m + 1].tolist() == tgt.tolist() + [EOS_ID]
        assert (batch.tgt_in[row, m + 1:] == PAD_ID).all() and (batch.tgt_out[row, m + 1:] == PAD_ID).all()
    assert batch.num_tgt_tokens == int((batch.tgt_out != PAD_ID).sum())
    assert batch.src.dtype == torch.int64 and batch.tgt_in.shape == batch.tgt_out.shape
    assert batch.to("cpu").src.equal(batch.src)


def test_collate_truncates_to_max_len(prepared_sample):
    data = ParallelData.open(prepared_sample, "train", "ko", "en")
    longest = int(np.argmax(data.src_lengths))
    batch = collate(data, [longest], max_len=2)
    assert batch.src.shape == (1, 2) and batch.src_lengths.tolist() == [2]
    assert batch.tgt_out.shape[1] <= 3 and batch.tgt_out[0, -1] == EOS_ID


# ---- token_batches ----------------------------------------------------------------------------------------------


def lengths(n: int = 2000, seed: int = 0):
    rng = np.random.default_rng(seed)
    return rng.integers(1, 60, n), rng.integers(1, 80, n)


def test_batches_cover_every_example_once_within_the_budget():
    src, tgt = lengths()
    plan = token_batches(src, tgt, max_tokens=500, batch_size=None, seed=1, epoch=0)
    flat = np.concatenate(plan)
    assert sorted(flat.tolist()) == list(range(len(src)))
    for batch in plan:
        assert (np.diff(batch) > 0).all()  # sorted inside
        padded = max(src[batch].max(), tgt[batch].max() + 1) * len(batch)
        assert padded <= 500 or len(batch) == 1


def test_batches_are_a_function_of_seed_and_epoch():
    src, tgt = lengths()
    run = lambda seed, epoch: [b.tolist() for b in token_batches(src, tgt, 400, None, seed, epoch)]  # noqa: E731
    assert run(3, 1) == run(3, 1)
    assert run(3, 1) != run(3, 2) and run(3, 1) != run(4, 1)


def test_fixed_batch_size_and_no_shuffle():
    src, tgt = lengths(103)
    plan = token_batches(src, tgt, max_tokens=1, batch_size=10, seed=0, epoch=0, shuffle=False)
    assert [len(b) for b in plan] == [10] * 10 + [3]
    sizes = [max(src[b].max(), tgt[b].max() + 1) for b in plan]
    assert sizes == sorted(sizes)  # without shuffle, batches come shortest first


def test_max_len_drops_and_counts():
    src, tgt = np.array([3, 50, 4, 5]), np.array([3, 4, 60, 5])
    plan = token_batches(src, tgt, max_tokens=100, batch_size=None, seed=0, epoch=0, max_len=10)
    assert sorted(np.concatenate(plan).tolist()) == [0, 3] and plan.dropped == 2


def test_an_example_over_the_budget_gets_a_batch_of_its_own():
    plan = token_batches(np.array([200, 2, 2]), np.array([2, 2, 2]), 50, None, 0, 0, shuffle=False)
    assert [b.tolist() for b in plan] == [[1, 2], [0]]


def test_batches_of_80k_examples_are_quick():
    src, tgt = lengths(80_000)
    started = time.perf_counter()
    plan = token_batches(src, tgt, max_tokens=4096, batch_size=None, seed=0, epoch=0)
    assert time.perf_counter() - started < 1.0
    assert sum(len(b) for b in plan) == 80_000
