import math

from marl.plots import plot_run

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def rows(n: int = 12) -> list[dict]:
    out = []
    for i in range(n):
        out.append(
            {
                "step": (i + 1) * 1024,
                "episode_return_mean": i / 2,
                "episode_return_mean_std": 0.5,
                "cooperation_rate": i / n,
                "cooperation_rate_std": 0.1,
                "efficiency": 1.0 + i,
                "efficiency_std": 0.2,
                "equality": 0.9,
                "equality_std": 0.01,
                "sustainability": 40.0 + i,
                "peace": 2.0,
                "loss/total": 1.0 / (i + 1),
            }
        )
    return out


def assert_png(path):
    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE)
    assert len(data) > 10_000  # axes, curves and labels, not an empty canvas


def test_writes_both_figures_as_pngs(tmp_path):
    paths = plot_run(rows(), tmp_path / "plots")
    assert [p.name for p in paths] == ["learning_curves.png", "social_metrics.png"]
    for path in paths:
        assert path.parent == tmp_path / "plots"
        assert_png(path)


def test_missing_values_are_skipped(tmp_path):
    data = rows()
    for row, gap in zip(data[::3], [None, math.nan, "nan", math.inf], strict=True):
        row.update(episode_return_mean=gap, episode_return_mean_std=gap, efficiency=gap)
    data[1]["cooperation_rate_std"] = None  # a mean without its spread
    del data[2]["peace"]
    paths = plot_run(data, tmp_path)
    assert len(paths) == 2
    for path in paths:
        assert_png(path)


def test_metric_without_any_value_still_draws(tmp_path):
    data = rows(1)  # a single chunk, and no episode finished in it
    data[0].update(episode_return_mean=None, efficiency=math.nan)
    paths = plot_run(data, tmp_path)
    assert [p.name for p in paths] == ["learning_curves.png", "social_metrics.png"]


def test_figure_without_its_metrics_is_skipped(tmp_path):
    data = [{"step": r["step"], "episode_return_mean": r["episode_return_mean"]} for r in rows()]
    paths = plot_run(data, tmp_path)
    assert [p.name for p in paths] == ["learning_curves.png"]
    assert not (tmp_path / "social_metrics.png").exists()

    learning = ("episode_return_mean", "cooperation_rate")
    social_only = [{k: v for k, v in r.items() if k not in learning} for r in rows()]
    assert [p.name for p in plot_run(social_only, tmp_path / "b")] == ["social_metrics.png"]


def test_no_rows_writes_nothing(tmp_path):
    assert plot_run([], tmp_path / "none") == []
    assert not (tmp_path / "none").exists()
