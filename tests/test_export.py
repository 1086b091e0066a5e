"""`s2s export --to ctranslate2` and translating with the exported directory.

A tiny Transformer is trained here (pre-norm with one shared embedding; post-norm with untied embeddings and
separate vocabularies), exported, and the exported model must reproduce s2s's own decoder on the dev sentences:
greedy exactly, beam search (with and without GNMT's length penalty) on nearly all. Then the commands' contract
with an exported directory (one line per line, streaming, n-best, evaluate) and the one-line refusals.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from reliability import leftovers, one_line_error, train_quietly
from test_translate import AWKWARD, Process, lines_of, translate

from s2s.ct2.manifest import MANIFEST
from s2s.translator import DecodeOptions, ModelTranslator, Translator

pytest.importorskip("ctranslate2", reason="the s2s[ct2] extra (make install installs it)")

VARIANTS = {
    "pre-norm, shared": {"pre_norm": True, "tie_embeddings": True, "share_embeddings": True},
    "post-norm, untied, separate vocabularies": {"pre_norm": False, "tie_embeddings": False,
                                                 "share_embeddings": False},
}


def separate_sample(tmp_path_factory, sample_corpus: Path) -> Path:
    """The sample prepared with one vocabulary per language (two SentencePiece files to export)."""
    from s2s.data.prepare import PrepareOptions, prepare
    from s2s.data.subwords import SubwordOptions

    out = tmp_path_factory.mktemp("separate") / "sample"
    prepare([sample_corpus], PrepareOptions(subwords=SubwordOptions(vocab_size=600, joint=False), dev=200,
                                            test=200), out)
    return out


@pytest.fixture(scope="module")
def trained(tmp_path_factory, prepared_sample, sample_corpus):
    """`trained(variant)`: (run, exported float32 directory), each variant trained and exported once."""
    from s2s.config import recipe_from_dict
    from s2s.ct2.export import export_ctranslate2

    done: dict[str, tuple[Path, Path]] = {}

    def get(variant: str) -> tuple[Path, Path]:
        if variant not in done:
            joint = VARIANTS[variant]["share_embeddings"]
            data = prepared_sample if joint else separate_sample(tmp_path_factory, sample_corpus)
            raw = {  # a 2+2-layer Transformer of width 32, 80 steps: far from good, yet its outputs vary
                "data": {"max_tokens": 800, "max_len": 40},
                "model": {"arch": "transformer", "d_model": 32, "heads": 4, "ffn": 64, "encoder_layers": 2,
                          "decoder_layers": 2, "dropout": 0.0, "max_positions": 64, **VARIANTS[variant]},
                "train": {"seed": 3, "max_steps": 80, "lr": 0.003, "log_every": 40, "valid_every": 1000,
                          "valid_bleu": False, "metric": "loss"},
                "decode": {"strategy": "beam", "beam_size": 4, "length_penalty": 0.6},
            }
            run = train_quietly(recipe_from_dict(raw, name="tiny-transformer"), data,
                                tmp_path_factory.mktemp("transformer") / "runs" / "tiny-transformer")
            done[variant] = run, export_ctranslate2(run, run.parent / "tiny-ct2").directory
        return done[variant]

    return get


@pytest.fixture(scope="module", params=list(VARIANTS))
def variant(request, trained) -> tuple[Path, Path]:
    """Each variant's (run, exported directory): for the tests of the weight mapping."""
    return trained(request.param)


@pytest.fixture(scope="module")
def run(trained) -> Path:
    return trained(next(iter(VARIANTS)))[0]


@pytest.fixture(scope="module")
def exported(trained) -> Path:
    return trained(next(iter(VARIANTS)))[1]


def dev_sources(run: Path) -> list[str]:
    import yaml

    data = Path(yaml.safe_load((run / "recipe.yaml").read_text())["data"]["dir"])
    return (data / "dev.ko").read_text(encoding="utf-8").splitlines()


def agreement(run: Path, exported: Path, strategy: str, **overrides) -> tuple[int, int, float]:
    """(identical n-best lists, sentences, largest score difference among the identical) on the dev split."""
    lines = dev_sources(run)
    options = DecodeOptions(strategy, **overrides)
    ours = Translator.load(run, options).translate(lines)
    theirs = Translator.load(exported, options).translate(lines)
    same = [(a, b) for a, b in zip(ours, theirs) if a.candidates == b.candidates]
    diff = max((abs(x.score - y.score) for a, b in same for x, y in zip(a.hypotheses, b.hypotheses)), default=0.0)
    return len(same), len(lines), diff


# ---- parity -----------------------------------------------------------------------------------------------------


def test_the_export_writes_a_model_its_vocabularies_and_a_manifest(variant):
    run, exported = variant
    manifest = json.loads((exported / MANIFEST).read_text(encoding="utf-8"))
    checkpoint = Path(manifest["checkpoint"])
    assert checkpoint == run / "checkpoints" / "best.pt"
    import hashlib

    assert manifest["checkpoint_sha256"] == hashlib.sha256(checkpoint.read_bytes()).hexdigest()
    assert manifest["quantization"] == "float32" and (manifest["src_lang"], manifest["tgt_lang"]) == ("ko", "en")
    joint = manifest["src_vocab"] == manifest["tgt_vocab"]
    assert joint == manifest["recipe"]["model"]["share_embeddings"]  # the separate variant writes two files
    for name in ("model.bin", "config.json", manifest["src_vocab"], manifest["tgt_vocab"]):
        assert (exported / name).is_file()
    assert leftovers(run.parent) == []


def test_greedy_output_is_s2s_own(variant):
    run, exported = variant
    same, total, diff = agreement(run, exported, "greedy")
    assert same == total == 200
    # CTranslate2 removes PAD and BOS before its softmax, s2s after: on a model this young they still hold a
    # little mass, so the scores differ slightly (the tokens do not).
    assert diff < 0.1


@pytest.mark.parametrize("alpha", [0.0, 0.6])
def test_beam_search_agrees_on_nearly_every_sentence(variant, alpha):
    run, exported = variant
    same, total, diff = agreement(run, exported, "beam", beam_size=4, length_penalty=alpha)
    assert same >= 0.99 * total, f"{same}/{total} identical"  # measured: 200/200 in both variants
    assert diff < 0.1


def test_short_length_limits_end_as_s2s_ends_them(run, exported):
    # A limit of 3 tokens, which most sentences reach: s2s forces EOS there, CTranslate2 stops the hypothesis,
    # which is then cut and scored with its EOS. Greedy, that is s2s's output exactly.
    same, total, diff = agreement(run, exported, "greedy", max_len_a=0.0, max_len_b=3)
    assert same == total and diff < 0.1
    # Beam search: every hypothesis keeps to the limit and is scored as s2s scores it (tokens and EOS). Which
    # beams reach the last step can differ (s2s/ct2/translator.py): 163/200 agree here, against 200/200 above.
    same, total, _ = agreement(run, exported, "beam", max_len_a=0.0, max_len_b=3, beam_size=4, length_penalty=0.0)
    assert same >= 0.75 * total
    lines = dev_sources(run)[:20]
    model = Translator.load(run)
    for line, result in zip(lines, Translator.load(exported, DecodeOptions("beam", max_len_a=0.0, max_len_b=3,
                                                                                nbest=4)).translate(lines)):
        for hypothesis in result.hypotheses:
            assert len(hypothesis.tokens) <= 3
            assert hypothesis.score == pytest.approx(teacher_forced(model, line, hypothesis.tokens), abs=0.1)
    empty = Translator.load(exported, DecodeOptions("greedy", max_len_a=0.0, max_len_b=0)).translate(["안녕하세요."])
    assert empty[0].text == "" and empty[0].hypotheses[0].score < 0


def teacher_forced(translator: ModelTranslator, line: str, tokens: list[int]) -> float:
    """s2s's log-probability of `tokens` followed by EOS as the translation of `line`."""
    import torch

    from s2s import BOS_ID, EOS_ID

    src = torch.tensor([translator.src_vocab.encode(line)])
    with torch.no_grad():
        logits = translator.model(src, torch.tensor([src.size(1)]), torch.tensor([[BOS_ID, *tokens]]))  # (1, T, V)
    return float(logits.log_softmax(-1)[0].gather(1, torch.tensor([[t] for t in [*tokens, EOS_ID]])).sum())


def test_int8_is_smaller_and_still_translates(run, exported, tmp_path):
    from s2s.ct2.export import export_ctranslate2

    int8 = export_ctranslate2(run, tmp_path / "int8", "int8")
    assert int8.model_bytes < 0.5 * (exported / "model.bin").stat().st_size
    lines = dev_sources(run)[:50]
    ours = [t.text for t in Translator.load(run, DecodeOptions("greedy")).translate(lines)]
    quantised = [t.text for t in Translator.load(int8.directory, DecodeOptions("greedy")).translate(lines)]
    assert len(quantised) == len(lines) and all(quantised)
    assert sum(a == b for a, b in zip(ours, quantised)) >= 0.5 * len(lines)


# ---- the commands and the API with an exported directory --------------------------------------------------------


def test_python_api_loads_either_and_streams(run, exported):
    from s2s import Translator as Exported

    assert Exported is Translator
    translator = Translator.load(exported, DecodeOptions("greedy"))
    assert not isinstance(translator, ModelTranslator)
    lines = ["안녕하세요.", "", "나는 학생이다.", "고마워요!"]
    streamed = list(translator.translate_stream(iter(lines), chunk_lines=2))
    assert [t.source for t in streamed] == lines
    assert [t.text for t in streamed] == [t.text for t in Translator.load(run, DecodeOptions("greedy")).translate(lines)]
    assert streamed[1].text == "" and all(streamed[i].text for i in (0, 2, 3))


def test_translate_and_evaluate_commands_take_the_directory(run, exported):
    awkward = ("\n".join(AWKWARD) + "\n").encode()  # empty lines, a 5,005-character line, emoji, other scripts
    ours = translate("-m", run, "--decoder", "greedy", "--scores", input=awkward)
    theirs = translate("-m", exported, "--decoder", "greedy", "--scores", input=awkward)
    assert theirs.exit_code == 0 and theirs.stderr == "", theirs.output
    mine, exp = lines_of(ours.stdout), lines_of(theirs.stdout)
    assert len(exp) == len(AWKWARD) and [e == "" for e in exp] == [not line.strip() for line in AWKWARD]
    assert [m.split("\t")[0] for m in mine] == [e.split("\t")[0] for e in exp]
    text = "안녕하세요.\n\n나는 학생이다.\n".encode()
    nbest = lines_of(translate("-m", exported, "--beam", "3", "--nbest", "2", input=text).stdout)
    assert len(nbest) == 3 and len(nbest[0].split("\t")) == 4 and nbest[1] == ""
    sampled = [translate("-m", exported, "--decoder", "sample", "--seed", "7", "--nbest", "2", input=text).stdout
               for _ in range(2)]
    assert sampled[0] == sampled[1] and len(lines_of(sampled[0])) == 3  # seeded: the same draws again

    from typer.testing import CliRunner

    from s2s.cli import app

    scores = [json.loads(CliRunner().invoke(app, ["evaluate", "-m", str(m), "--decoder", "greedy", "--split", "dev",
                                                  "--json", "--bleu", "--chrf"]).stdout) for m in (run, exported)]
    assert scores[0]["BLEU"]["score"] == scores[1]["BLEU"]["score"]
    assert scores[0]["chrF2"]["score"] == scores[1]["chrF2"]["score"] and scores[1]["sentences"] == 200


def test_translate_streams_and_ends_quietly_in_a_pipe(exported):
    p = Process("-m", exported, "--decoder", "greedy")
    p.send("안녕하세요.\n")
    first = p.receive()  # answered while stdin is still open
    p.send("고마워요!\n" * 3)
    p.receive()
    p.proc.stdout.close()  # `| head -2`
    try:
        p.send("끝\n" * 100)
    except BrokenPipeError:
        pass
    code, err = p.finish()
    assert first and code == 0 and err == ""


# ---- refusals ---------------------------------------------------------------------------------------------------


def test_a_recurrent_run_is_refused_in_one_line(cli, tiny_run, tmp_path):
    line = one_line_error(cli("export", tiny_run, "-o", tmp_path / "x").output)
    assert "attention model: CTranslate2 has no spec for recurrent architectures" in line
    assert f"s2s translate -m {tiny_run}" in line and not (tmp_path / "x").exists()


def test_an_existing_directory_is_replaced_only_with_force(cli, run, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    line = one_line_error(cli("export", run, "-o", out).output)
    assert "exists and is not empty; use --force" in line and (out / "keep.txt").read_text() == "mine"
    result = cli("export", run, "-o", out, "--force", "--quantize", "int8")
    assert result.exit_code == 0, result.output
    assert not (out / "keep.txt").exists() and json.loads((out / MANIFEST).read_text())["quantization"] == "int8"
    assert leftovers(tmp_path) == []


def test_bad_options_are_one_line(cli, run, exported, tmp_path):
    cases = {("export", run, "--quantize", "int4"): "--quantize int4: choose one of float32, int8",
             ("export", run, "--to", "onnx"): "--to onnx: choose one of: ctranslate2",
             ("translate", "-m", exported, "--attention", "-"): "--attention: ",
             ("translate", "-m", exported, "--decoder", "greedy", "--nbest", "2"): "--nbest 2: the greedy decoder"}
    for args, message in cases.items():
        assert message in one_line_error(cli(*args).output), args
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / MANIFEST).write_text("{not json")
    assert "not a readable manifest" in one_line_error(cli("translate", "-m", broken).output)


def test_without_ctranslate2_each_command_says_how_to_install_it(exported, run, tmp_path):
    # A fresh interpreter in which `import ctranslate2` fails, as on an install without the extra.
    script = ("import sys; sys.modules['ctranslate2'] = None\n"
              "from s2s.cli import main; sys.argv[0] = 's2s'; main()")
    for args in (["export", str(run), "-o", str(tmp_path / "x")], ["translate", "-m", str(exported)]):
        done = subprocess.run([sys.executable, "-c", script, *args], input=b"a\n", capture_output=True)
        line = one_line_error(done.stderr.decode())
        assert done.returncode == 2 and 'pip install "s2s[ct2]"' in line, line
    assert not (tmp_path / "x").exists()
