"""The examples' command lines and figures, on every backend (no training).

`--help` prints and exits without running anything, every option explains
itself, outputs go under the git-ignored `outputs/<example>/` by default, and
the figures' titles say the right thing and fit in the image.
"""

import itertools
import os

import numpy as np
import pytest

from examples import (categorical_vae, concrete_autoencoder, plotting,
                      pruning, quickstart, sorting, vq_autoencoder)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
EXAMPLES = {"categorical_vae": categorical_vae, "quickstart": quickstart,
            "vq_autoencoder": vq_autoencoder,
            "concrete_autoencoder": concrete_autoencoder, "pruning": pruning,
            "sorting": sorting}
WRITERS = ("categorical_vae", "vq_autoencoder", "concrete_autoencoder",
           "pruning", "sorting")


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_help_prints_the_usage_and_runs_nothing(name, capsys):
    # Issue 23: `quickstart --help` ran the demo.
    with pytest.raises(SystemExit) as info:
        EXAMPLES[name].main(["--help"])
    assert info.value.code == 0
    out, err = capsys.readouterr()
    assert out.startswith(f"usage: python -m examples.{name}"), out
    # The help and nothing else: no demo output, no training.
    assert out == EXAMPLES[name].build_parser().format_help() and err == ""


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_every_option_has_help_text(name):
    # Issue 23: 12 of the 13 vq_autoencoder options had none.
    parser = EXAMPLES[name].build_parser()
    for action in parser._actions:  # argparse lists no other way
        assert action.help and action.help.strip(), action.option_strings


@pytest.mark.parametrize("name", WRITERS)
def test_default_output_dir_is_under_outputs(name):
    # Issue 23: two examples wrote into the repository root.
    args = EXAMPLES[name].build_parser().parse_args([])
    assert args.output_dir == os.path.join("outputs", name)
    with open(os.path.join(ROOT, ".gitignore")) as handle:
        assert "outputs/" in handle.read().split()


@pytest.mark.parametrize("argv", [["--vars", "1"], ["--epochs", "0"],
                                  ["--learning-rate", "-1"],
                                  ["--groups", "3"]])  # 16 % 3 != 0
def test_vq_bad_options_are_usage_errors(argv, capsys):
    with pytest.raises(SystemExit) as info:
        vq_autoencoder.parse_args(argv)
    assert info.value.code == 2
    assert "error:" in capsys.readouterr().err


def test_concrete_bad_data_path_is_one_line(tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        concrete_autoencoder.main(["--data-dir", str(tmp_path / "nope"),
                                   "--output-dir", str(tmp_path / "out")])
    assert info.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(
        "python -m examples.concrete_autoencoder: error: --data-dir:")
    assert not (tmp_path / "out").exists()


def _texts(fig):
    """The figure's titles, axis labels and other texts, with pixel boxes.

    Tick labels are left out (Matplotlib keeps labels of ticks outside the
    view that it does not draw), and so is all of a hidden axis.
    """
    import matplotlib.text
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig).draw()
    renderer = fig.canvas.get_renderer()
    hidden = {id(text) for ax in fig.axes for axis in (ax.xaxis, ax.yaxis)
              for text in axis.findobj(matplotlib.text.Text)
              if text is not axis.label or not (ax.axison
                                                and axis.get_visible())}
    return [(text.get_text(), text.get_window_extent(renderer))
            for text in fig.findobj(matplotlib.text.Text)
            if text.get_visible() and text.get_text().strip()
            and id(text) not in hidden]


def assert_texts_fit(fig):
    """Every text lies inside the image and overlaps no other text."""
    texts = _texts(fig)
    width, height = fig.canvas.get_width_height()
    for text, box in texts:
        assert (box.x0 >= -0.5 and box.y0 >= -0.5 and box.x1 <= width + 0.5
                and box.y1 <= height + 0.5), f"{text!r} is clipped: {box}"
    for (a, box_a), (b, box_b) in itertools.combinations(texts, 2):
        assert not box_a.overlaps(box_b), f"{a!r} overlaps {b!r}"
    return [text for text, _ in texts]


@pytest.mark.parametrize("shape, k", [((8, 8), 16), ((28, 28), 50)])
def test_selected_pixels_titles_fit(shape, k):
    # Issue 23: clipped titles in selected_pixels.png.
    rng = np.random.default_rng(0)
    d = shape[0] * shape[1]
    x_test = rng.random((20, d)).astype("float32")
    concrete = np.sort(rng.integers(0, d, size=k))  # may repeat, as trained
    selections = {"concrete": concrete,
                  "random": np.sort(rng.choice(d, k, replace=False)),
                  "variance": np.arange(k)}
    texts = assert_texts_fit(concrete_autoencoder.selection_figure(
        shape, x_test, selections))
    assert f"k = {k} selected pixels (red) over the mean test image" in texts
    assert (f"concrete autoencoder: {len(np.unique(concrete))} distinct"
            in texts)


@pytest.mark.parametrize("groups, num_vars", [(2, 16), (1, 8)])
def test_vq_group_panels_say_the_group_size(groups, num_vars):
    # Issue 23: each group panel said "of 32" where a group has 16 codes.
    rng = np.random.default_rng(0)
    args = vq_autoencoder.build_parser().parse_args(
        ["--groups", str(groups), "--vars", str(num_vars),
         "--codevector-dim", str(4 * groups)])
    results = {}
    for name in ("no diversity loss", "diversity loss 0.1"):
        counts = rng.integers(0, 50, size=(groups, num_vars))
        counts[:, 0] += 1  # no empty group
        results[name] = {
            "counts": counts.tolist(), "codebook_size": groups * num_vars,
            "perplexity": sum(vq_autoencoder.group_perplexity(c)
                              for c in counts)}
    texts = assert_texts_fit(vq_autoencoder.usage_figure(results, args))
    for name, run in results.items():
        for g, counts in enumerate(run["counts"]):
            perplexity = vq_autoencoder.group_perplexity(counts)
            assert 1 <= perplexity <= num_vars
            assert (f"{name}, group {g}: perplexity {perplexity:.1f} of "
                    f"{num_vars}") in texts
    assert any(f"of {groups * num_vars}:" in text for text in texts)


def test_group_perplexity():
    assert vq_autoencoder.group_perplexity([5, 0, 0, 0]) == pytest.approx(1)
    assert vq_autoencoder.group_perplexity([3, 3, 3, 3]) == pytest.approx(4)
    assert vq_autoencoder.group_perplexity([1, 1, 0, 2]) == pytest.approx(
        np.exp(1.5 * np.log(2)))


def test_curves_have_a_title():
    # Issue 23: curves.png had none.
    history = {"loss": [30.0, 25.0, 24.0], "val_loss": [29.0, 26.0, 25.5],
               "temperature": [0.9, 0.8, 0.7]}
    texts = assert_texts_fit(plotting.curves_figure(
        history, "categorical VAE on digits, relaxed (Gumbel-Softmax)"))
    assert ("categorical VAE on digits, relaxed (Gumbel-Softmax): training "
            "curves") in texts
