"""`s2s translate --attention`, `s2s plot` and `s2s compare`, driven through the CLI on tiny trained runs.

Three runs of a few steps are trained once for the module (an attention GRU, a Transformer and a plain GRU,
which has no attention); the pictures are checked by size and by the absence of missing-glyph warnings (Hangul must render),
the tables by their labels and by bucket counts that add up to the corpus.
"""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

import pytest

from s2s.compare import Bucket, make_buckets
from s2s.config import recipe_from_dict
from s2s.errors import S2SError
from s2s.plots.curves import sparkline
from s2s.train import train

TINY_MODELS = {
    "attention": {"arch": "attention", "cell": "gru", "embed": 16, "encoder_hidden": 16, "encoder_layers": 1,
                  "hidden": 24, "decoder_layers": 1},
    "gru": {"arch": "gru", "embed": 16, "hidden": 24, "layers": 1},
    "transformer": {"arch": "transformer", "d_model": 16, "heads": 2, "ffn": 32, "encoder_layers": 1,
                    "decoder_layers": 1},
}
KOREAN = ["나는 학생이다.", "", "어제 카페에 갔었는데 거기 사람이 많더라."]


@pytest.fixture(scope="module")
def runs(prepared_sample, tmp_path_factory) -> dict[str, Path]:
    """Three tiny runs, 4 steps each, validated (with dev BLEU) at steps 2 and 4."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("runs")
    out = {}
    for name, model in TINY_MODELS.items():
        recipe = recipe_from_dict({
            "data": {"max_tokens": 400, "max_len": 40}, "model": model,
            "train": {"seed": 1, "max_steps": 4, "lr": 0.003, "log_every": 1, "valid_every": 2,
                      "valid_max_sentences": 10},
            "decode": {"strategy": "greedy", "max_len_a": 1.0, "max_len_b": 3},
        }, name=f"tiny-{name}")
        out[name] = train(recipe, prepared_sample, root / name, quiet=True).run_dir
    torch.set_num_threads(threads)
    return out


@pytest.fixture
def no_matplotlib(monkeypatch):
    """Make `import matplotlib` fail, as on a machine without the `plot` extra."""
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)


def image_size(path: Path) -> tuple[int, int]:
    """(width, height) in pixels of a PNG."""
    from matplotlib.image import imread

    pixels = imread(path)
    assert pixels.size and pixels.std() > 0  # not blank
    return pixels.shape[1], pixels.shape[0]


def table_rows(text: str) -> dict[str, list[str]]:
    """The body rows of Rich tables, by their first cell: {"all": ["30", "0.00", ...]}."""
    cells = [[c.strip() for c in line.split("│")[1:-1]] for line in text.splitlines() if line.startswith("│")]
    return {row[0]: row[1:] for row in cells}


def glyph_warnings(caught) -> list[str]:
    return [str(w.message) for w in caught if "missing from" in str(w.message)]


def test_attention_heatmap_per_sentence_with_hangul(cli, runs, tmp_path):
    pytest.importorskip("matplotlib")
    from s2s.plots import korean_font

    assert korean_font() is not None, 'no font with Hangul: pip install "s2s[plot]" (bundles NanumGothic)'
    source = tmp_path / "in.ko"
    source.write_text("\n".join(KOREAN) + "\n", encoding="utf-8")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = cli("translate", "-m", runs["attention"], "-i", source, "--attention", tmp_path / "att.png")
    assert result.exit_code == 0, result.output
    assert len(result.stdout.splitlines()) == 3 and result.stdout.splitlines()[1] == ""  # translations only
    assert (tmp_path / "att-1.png").is_file() and (tmp_path / "att-3.png").is_file()
    assert not (tmp_path / "att-2.png").exists()  # an empty line has nothing to show
    assert "att-3.png" in result.stderr
    assert glyph_warnings(caught) == []
    short, long = image_size(tmp_path / "att-1.png"), image_size(tmp_path / "att-3.png")
    assert short[0] >= 250 and short[1] >= 190 and long[0] > short[0]  # grows with the source sentence


def test_without_a_korean_font_one_line_replaces_a_warning_per_glyph(monkeypatch, capsys, tmp_path):
    pytest.importorskip("matplotlib")
    import s2s.plots as plots

    monkeypatch.setattr(plots, "korean_font", lambda: None)
    plots._say_no_korean_font.cache_clear()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for name in ("a.png", "b.png"):
            with plots.figure(2, 1, ["카페"]) as fig:
                fig.text(0.1, 0.5, "카페")
                plots.save(fig, tmp_path / name)
    assert glyph_warnings(caught) == []
    assert capsys.readouterr().err.count("no font with Hangul found") == 1
    plots._say_no_korean_font.cache_clear()


@pytest.mark.parametrize("arch, decoder", [("attention", "greedy"), ("transformer", "beam")])
def test_attention_text_names_the_attended_subwords(cli, runs, tmp_path, arch, decoder):
    source = tmp_path / "in.ko"
    source.write_text("\n".join(KOREAN) + "\n", encoding="utf-8")
    result = cli("translate", "-m", runs[arch], "-i", source, "--attention", "-", "--decoder", decoder)
    assert result.exit_code == 0, result.output
    assert len(result.stdout.splitlines()) == 3 and "←" not in result.stdout
    report = result.stderr.splitlines()
    assert report[0].startswith(f"line 1: {KOREAN[0]} → ")
    assert not any(line.startswith("line 2:") for line in report)
    rows = [line for line in report if "←" in line]
    assert rows[-1].strip().startswith("</s>")
    assert any("카페" in line for line in report if line.startswith("line 3:"))
    attended = {line.split("←")[1].split()[0] for line in rows}  # each row names a source subword
    from s2s.checkpoint import load_checkpoint, resolve_checkpoint
    from s2s.data.subwords import Vocab

    vocab = Vocab.from_bytes(load_checkpoint(resolve_checkpoint(runs[arch])).src_vocab)
    pieces = {p for line in KOREAN if line for p in vocab.pieces(vocab.encode(line))}
    assert attended <= pieces


def test_attention_is_refused_for_a_model_without_it(cli, runs, tmp_path):
    source = tmp_path / "in.ko"
    source.write_text(KOREAN[0] + "\n", encoding="utf-8")
    result = cli("translate", "-m", runs["gru"], "-i", source, "--attention", "-")
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        "s2s: error: --attention: this gru model has no attention weights to show (without attention the decoder "
        "reads one context vector); use an attention or transformer run"]


def test_plot_draws_the_curves_of_several_runs(cli, runs, tmp_path, monkeypatch):
    """Each run's logged losses are the points of its train-loss line, its validations a dashed line, and the
    legend names the runs."""
    pytest.importorskip("matplotlib")
    import s2s.plots as plots

    figures, real_save = [], plots.save
    monkeypatch.setattr(plots, "save", lambda fig, path: (figures.append(fig), real_save(fig, path))[1])
    out = tmp_path / "curves.png"
    result = cli("plot", runs["attention"], runs["gru"], "-o", out)
    assert result.exit_code == 0, result.output
    assert image_size(out) == (1300, 700)
    panels = {ax.get_title(): ax for ax in figures[0].axes}
    logged = [[(r["step"], r["loss"]) for r in logged_records(runs[name], "train")] for name in ("attention", "gru")]
    validated = [[(r["step"], r["dev_loss"]) for r in logged_records(runs[name], "valid")]
                 for name in ("attention", "gru")]
    lines = panels["loss (per target token)"].get_lines()
    drawn = {style: [list(zip(line.get_xdata(), line.get_ydata())) for line in lines if line.get_linestyle() == style]
             for style in ("-", "--")}
    assert drawn["-"] == logged and drawn["--"] == validated
    assert [step for step, _ in validated[0]] == [2, 4]
    legend = [text.get_text() for text in figures[0].axes[5].get_legend().get_texts()]
    assert any("attention" in label for label in legend) and any("gru" in label for label in legend)


def logged_records(run: Path, kind: str) -> list[dict]:
    lines = (run / "metrics.jsonl").read_text(encoding="utf-8").splitlines()
    return [r for r in map(json.loads, lines) if r.get("kind") == kind]


def test_plot_text_is_a_table_of_each_run(cli, runs):
    result = cli("plot", runs["attention"], runs["gru"], "--text")
    assert result.exit_code == 0, result.output
    table = result.stdout
    for label in ("architecture", "steps", "train loss first → last", "dev BLEU (best @ step)",
                  "learning rate (last)", "teacher forcing first → last", "attention", "gru"):
        assert label in table
    assert table_rows(table)["steps"] == ["4", "4"]


def test_without_matplotlib_one_line_says_what_to_install(cli, runs, tmp_path, no_matplotlib):
    result = cli("plot", runs["attention"], "-o", tmp_path / "curves.png")
    assert result.exit_code == 0 and "train loss" in result.stdout  # the table instead
    assert 'pip install "s2s[plot]"' in result.stderr and not (tmp_path / "curves.png").exists()
    source = tmp_path / "in.ko"
    source.write_text(KOREAN[0] + "\n", encoding="utf-8")
    result = cli("translate", "-m", runs["attention"], "-i", source, "--attention", tmp_path / "a.png")
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr == 's2s: error: matplotlib is not installed; for pictures: pip install "s2s[plot]"\n'
    result = cli("compare", runs["attention"], runs["gru"], "-o", tmp_path / "by-length.png")
    assert result.exit_code == 2 and 'pip install "s2s[plot]"' in result.stderr


def test_compare_scores_runs_by_source_length(cli, runs, prepared_sample, tmp_path):
    result = cli("compare", runs["attention"], runs["gru"], "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    test_lines = (prepared_sample / "test.ko").read_text(encoding="utf-8").splitlines()
    assert report["sentences"] == len(test_lines) == 200
    assert [b["label"] for b in report["buckets"]] == ["1–5", "6–10", "11–20", "21–40", "41+"]
    assert sum(b["count"] for b in report["buckets"]) == 200
    assert report["buckets"][0]["count"] == sum(1 for line in test_lines if len(line.split()) <= 5)
    assert [r["arch"] for r in report["runs"]] == ["attention", "gru"]
    for run in report["runs"]:
        assert len(run["bucket_bleu"]) == 5 and run["parameters"] > 0 and run["steps"] in (2, 4)  # best.pt
        assert all((bleu is None) == (b["count"] == 0) for bleu, b in zip(run["bucket_bleu"], report["buckets"]))


def test_compare_table_and_picture_on_given_files(cli, runs, prepared_sample, tmp_path):
    pytest.importorskip("matplotlib")
    src, ref = tmp_path / "src.ko", tmp_path / "ref.en"
    src.write_text("\n".join((prepared_sample / "test.ko").read_text(encoding="utf-8").splitlines()[:30]) + "\n",
                   encoding="utf-8")
    ref.write_text("\n".join((prepared_sample / "test.en").read_text(encoding="utf-8").splitlines()[:30]) + "\n",
                   encoding="utf-8")
    out = tmp_path / "by-length.png"
    result = cli("compare", runs["attention"], runs["gru"], "--src", src, "--ref", ref, "--buckets", "3,6",
                 "--by", "subwords", "-o", out)
    assert result.exit_code == 0, result.output
    assert image_size(out) == (750, 460)
    table = result.stdout
    for label in ("BLEU", "chrF2", "parameters", "tokens/s", "BLEU by source length (subwords)", "1–3", "4–6",
                  "7+", "all"):
        assert label in table
    rows = table_rows(table)
    assert [rows[label][0] for label in ("attention", "gru")] == ["attention", "gru"]  # run -> arch
    counts = [int(rows[label][0]) for label in ("1–3", "4–6", "7+")]
    assert sum(counts) == int(rows["all"][0]) == 30


def test_compare_scores_given_translations_beside_a_run(cli, runs, prepared_sample, tmp_path):
    src, ref = prepared_sample / "test.ko", prepared_sample / "test.en"
    refs = ref.read_text(encoding="utf-8").splitlines()
    perfect, half = tmp_path / "perfect.hyp", tmp_path / "half.hyp"
    perfect.write_text("\n".join(refs) + "\n", encoding="utf-8")
    half.write_text("\n".join(r if i % 2 else "" for i, r in enumerate(refs)) + "\n", encoding="utf-8")
    result = cli("compare", runs["gru"], "--src", src, "--ref", ref, "--hyp", f"perfect={perfect}",
                 "--hyp", f"half={half}", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    by_name = {r["name"]: r for r in report["runs"]}
    assert list(by_name) == [runs["gru"].name, "perfect", "half"]
    assert by_name["perfect"]["bleu"] == pytest.approx(100.0) and by_name["perfect"]["steps"] is None
    assert by_name["perfect"]["arch"] is None and by_name[runs["gru"].name]["arch"] == "gru"  # unknown, not a string
    assert 0 < by_name["half"]["bleu"] < 100.0
    assert all(b == pytest.approx(100.0) for b in by_name["perfect"]["bucket_bleu"] if b is not None)
    assert all(c == pytest.approx(100.0) for c in by_name["perfect"]["bucket_chrf"] if c is not None)
    assert by_name["perfect"]["length_ratio"] == pytest.approx(1.0)
    assert all(r == pytest.approx(1.0) for r in by_name["perfect"]["bucket_length_ratio"] if r is not None)
    assert 0.3 < by_name["half"]["length_ratio"] < 0.7  # every other line left empty
    short = tmp_path / "short.hyp"
    short.write_text("\n".join(refs[:-1]) + "\n", encoding="utf-8")
    result = cli("compare", "--src", src, "--ref", ref, "--hyp", f"short={short}")
    assert result.exit_code == 2 and "--hyp short must hold one translation per source line" in result.stderr
    result = cli("compare", "--hyp", f"perfect={perfect}")
    assert result.exit_code == 2 and result.stderr.startswith("s2s: error: --hyp needs --src and --ref")
    result = cli("compare", "--src", src, "--ref", ref, "--hyp", str(perfect))
    assert result.exit_code == 2 and "expected NAME=FILE" in result.stderr


def test_compare_says_whether_a_model_falls_short_by_saying_less(cli, prepared_sample, tmp_path):
    """Translations that stop half-way keep about half the reference's length in every bucket; chrF sees it too."""
    src, ref = prepared_sample / "test.ko", prepared_sample / "test.en"
    refs = ref.read_text(encoding="utf-8").splitlines()
    cut = tmp_path / "cut.hyp"
    cut.write_text("\n".join(" ".join(r.split()[: max(1, len(r.split()) // 2)]) for r in refs) + "\n", encoding="utf-8")
    result = cli("compare", "--src", src, "--ref", ref, "--hyp", f"cut={cut}", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    (run,) = report["runs"]
    filled = [(b, n) for b, n in zip(report["buckets"], run["bucket_length_ratio"]) if b["count"] >= 20]
    assert len(filled) >= 2 and all(0.35 < n < 0.65 for _, n in filled), filled
    assert all(c is None or c < 90 for c in run["bucket_chrf"])
    table = cli("compare", "--src", src, "--ref", ref, "--hyp", f"cut={cut}").stdout
    assert table.count("│ all ") == 3  # BLEU, chrF2 and length ratio by source length, each with its total row
    assert f"│ {run['length_ratio']:.2f} │" in table.split("chrF2 by source length")[1]


def test_compare_refuses_runs_on_different_test_sets(cli, runs, prepared_sample, tmp_path):
    import shutil

    from s2s.checkpoint import load_checkpoint, save_checkpoint

    other_data = tmp_path / "other-data"
    shutil.copytree(prepared_sample, other_data)
    lines = (other_data / "test.en").read_text(encoding="utf-8").splitlines()
    (other_data / "test.en").write_text("\n".join(["changed"] + lines[1:]) + "\n", encoding="utf-8")
    ckpt = load_checkpoint(runs["gru"] / "checkpoints" / "last.pt")
    ckpt.data_dir = str(other_data)
    moved = tmp_path / "moved-gru"
    (moved / "checkpoints").mkdir(parents=True)
    save_checkpoint(ckpt, moved / "checkpoints" / "last.pt")
    result = cli("compare", runs["attention"], moved)
    assert result.exit_code == 2
    assert "different test splits" in result.stderr and "--src FILE --ref FILE" in result.stderr


def test_buckets_cover_every_sentence():
    buckets = make_buckets([0, 1, 5, 6, 10, 11, 20, 21, 40, 41, 99])
    assert [b.label for b in buckets] == ["1–5", "6–10", "11–20", "21–40", "41+"]
    assert [b.count for b in buckets] == [3, 2, 2, 2, 2]  # an empty line counts as length 1
    assert Bucket(3, 3, 0).label == "3"
    with pytest.raises(S2SError, match="increasing upper bounds"):
        make_buckets([1, 2], (5, 5))


def test_sparkline_shows_the_shape():
    assert sparkline([4.0, 3.0, 2.0, 1.0]) == "█▆▃▁"
    assert len(sparkline([float(i) for i in range(100)], width=24)) == 24
    assert sparkline([]) == "-" and sparkline([2.0, 2.0]) == "▄▄"
