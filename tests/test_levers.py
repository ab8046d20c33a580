"""docs/levers.py: validation points chained over stages, the running mean as its own series."""
import importlib.util
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _levers():
    spec = importlib.util.spec_from_file_location("levers", os.path.join(ROOT, "docs", "levers.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _stage(run, stage, rows):
    os.makedirs(run / stage / "logs")
    lines = ["step,name,value"] + [f"{s},{n},{v}" for s, n, v in rows]
    (run / stage / "logs" / "metrics.csv").write_text("\n".join(lines) + "\n")


def test_points_chain_stage_hours_and_keep_the_running_mean_apart(tmp_path):
    levers = _levers()
    run = tmp_path / "run"
    (run).mkdir()
    (run / "config.yaml").write_text("stages: [pretrain_all, meta]\n")
    _stage(run, "pretrain_all", [(0, "val/psnr_step10", 25.0), (10, "time/cpu_hours", 0.5),
                                 (10, "val/psnr_step10", 26.0)])
    _stage(run, "meta", [(5, "time/cpu_hours", 0.25), (5, "val/psnr_step10", 27.0),
                         (10, "time/cpu_hours", 1.0), (10, "val/psnr_step10", 27.5), (10, "val_avg/psnr_step10", 27.8)])
    pts = levers.run_points(str(run))
    assert [(lab, h, v["psnr_step10"]) for lab, h, v in pts] == [
        ("pretrain_all 0", 0.0, 25.0), ("pretrain_all 10", 0.5, 26.0), ("meta 5", 0.75, 27.0), ("meta 10", 1.5, 27.5)]
    avg = levers.run_points(str(run), "val_avg")
    assert [(lab, h, v["psnr_step10"]) for lab, h, v in avg] == [("meta 10", 1.5, 27.8)]
    assert levers.main([str(run), "--out", str(tmp_path / "lev"), "--start-hours", "1"]) == 0
    table = (tmp_path / "lev.md").read_text()
    assert "| run (running mean): meta 10 | 2.50 | - | - | 27.80 | - | - | - |" in table
    assert (tmp_path / "lev.png").stat().st_size > 1000


def test_one_stage_counts_hours_from_its_own_start_and_clips(tmp_path):
    levers = _levers()
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.yaml").write_text("stages: [pretrain_all, meta]\n")
    _stage(run, "pretrain_all", [(10, "time/cpu_hours", 0.5), (10, "val/psnr_step10", 26.0)])
    _stage(run, "meta", [(0, "val/psnr_step10", 26.5), (5, "time/cpu_hours", 0.25), (5, "val/psnr_step10", 27.0),
                         (10, "time/cpu_hours", 1.0), (10, "val/psnr_step10", 27.5)])
    pts = levers.run_points(str(run), only_stage="meta")
    assert [(lab, h) for lab, h, _ in pts] == [("meta 0", 0.0), ("meta 5", 0.25), ("meta 10", 1.0)]
    out = tmp_path / "lev"
    assert levers.main([str(run), "--out", str(out), "--stage", "meta", "--until-hours", "0.5",
                        "--plot-columns", "psnr_step1,psnr_step10"]) == 0
    rows = [r for r in out.with_suffix(".md").read_text().splitlines() if r.startswith("| run")]
    assert [r.split(" | ")[0:2] for r in rows] == [["| run: meta 0", "0.00"], ["| run: meta 5", "0.25"]]


def test_bicubic_pretraining_points_and_one_start_per_run_chain_a_lineage(tmp_path):
    levers = _levers()
    runs = []
    for name, rows in (("first", [(0, 29.5), (10, 29.6)]), ("second", [(0, 29.6), (10, 29.7)])):
        run = tmp_path / name
        run.mkdir()
        (run / "config.yaml").write_text("stages: [pretrain]\n")
        _stage(run, "pretrain", [(0, "val/psnr_bicubic", rows[0][1]), (10, "time/cpu_hours", 0.5),
                                 (10, "val/psnr_bicubic", rows[1][1])])
        runs.append(str(run))
    out = tmp_path / "lev"
    assert levers.main(runs + ["--out", str(out), "--start-hours", "1", "1.5", "--plot-columns", "psnr_bicubic"]) == 0
    rows = [r for r in out.with_suffix(".md").read_text().splitlines() if r.startswith(("| first", "| second"))]
    assert rows == ["| first: pretrain 0 | 1.00 | - | - | - | - | - | 29.50 |",
                    "| first: pretrain 10 | 1.50 | - | - | - | - | - | 29.60 |",
                    "| second: pretrain 0 | 1.50 | - | - | - | - | - | 29.60 |",
                    "| second: pretrain 10 | 2.00 | - | - | - | - | - | 29.70 |"]
    with pytest.raises(SystemExit):
        levers.main(runs + ["--out", str(out), "--start-hours", "1", "2", "3"])


def _extrapolate():
    spec = importlib.util.spec_from_file_location("extrapolate", os.path.join(ROOT, "docs", "extrapolate.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_extrapolation_fits_db_per_doubling_and_says_never_when_flat(tmp_path, capsys):
    ex = _extrapolate()
    a, b, se = ex.fit_log2([1.0, 2.0, 4.0, 8.0], [27.0, 27.5, 28.0, 28.5])
    assert (round(a, 9), round(b, 9), round(se, 9)) == (27.0, 0.5, 0.0)
    assert ex.hours_to_close(1.0, 0.5, 4.0) == 16.0
    assert ex.hours_to_close(1.0, -0.1, 4.0) == float("inf")
    assert ex.hours_to_close(-0.2, 0.5, 4.0) == 4.0  # already met
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.yaml").write_text("stages: [meta]\n")
    _stage(run, "meta", [(s, n, v) for s, h, y in ((1, 1.0, 27.0), (2, 2.0, 27.1), (3, 4.0, 27.0))
                         for n, v in (("time/cpu_hours", h), ("val/psnr_step10", y))])
    assert ex.main([str(run), "--gap", "x=0.3"]) == 0
    out = capsys.readouterr().out
    assert "slope +0.000 dB per doubling" in out and "x: 0.30 dB short -> fit: never at this rate" in out
    with pytest.raises(SystemExit) as stop:  # a malformed gap is a usage error, not a traceback
        ex.main([str(run), "--gap", "x0.3"])
    assert stop.value.code == 2 and "expected NAME=DB" in capsys.readouterr().err


def test_a_lineage_of_runs_is_fitted_as_one_curve_and_a_budget_priced(tmp_path, capsys):
    ex = _extrapolate()
    runs = []
    for name, stages, pts in (("first", "[pretrain_all, meta]", ((0.5, 27.0), (1.0, 27.5))),
                              ("second", "[pretrain_all]", ((1.0, 28.0), (2.0, 28.5)))):
        run = tmp_path / name
        run.mkdir()
        (run / "config.yaml").write_text(f"stages: {stages}\n")
        _stage(run, "pretrain_all", [(s, n, v) for s, (h, y) in enumerate(pts, 1)
                                     for n, v in (("time/cpu_hours", h), ("val/psnr_step10", y))])
        runs.append(str(run))
    _stage(tmp_path / "first", "meta", [(1, "time/cpu_hours", 3.0), (1, "val/psnr_step10", 20.0)])
    pts = ex.lineage_points([runs[0] + ":pretrain_all", runs[1]], [0.5, 1.0], "psnr_step10")
    assert pts == [(1.0, 27.0), (1.5, 27.5), (2.0, 28.0), (3.0, 28.5)]  # the meta branch is left out
    assert ex.main([runs[0] + ":pretrain_all", runs[1], "--start-hours", "0.5", "1", "--from-hours", "1.5",
                    "--budget-hours", "12"]) == 0
    out = capsys.readouterr().out
    _, slope, _ = ex.fit_log2([1.5, 2.0, 3.0], [27.5, 28.0, 28.5])
    assert "3 points, 1.50-3.00 CPU hours" in out and f"{2 * slope:+.3f} dB at the fit" in out  # 3 -> 12 h: 2 doublings
    with pytest.raises(SystemExit):
        ex.main(runs + ["--start-hours", "0", "1", "2"])


def test_a_step_cost_model_replaces_the_logged_clock(tmp_path):
    levers = _levers()
    assert levers.modelled_hours(10, [(0, 360.0)]) == 1.0
    assert levers.modelled_hours(10, [(0, 180.0), (4, 720.0)]) == (4 * 180 + 6 * 720) / 3600
    assert levers.modelled_hours(3, [(0, 180.0), (4, 720.0)]) == 3 * 180 / 3600
    run = tmp_path / "fo"
    run.mkdir()
    (run / "config.yaml").write_text("stages: [meta]\n")
    _stage(run, "meta", [(0, "val/psnr_step10", 27.0), (8, "time/cpu_hours", 9.0), (8, "val/psnr_step10", 27.2)])
    costs = tmp_path / "costs.json"
    costs.write_text('{"fo": [[0, 900], [4, 1800]]}')
    out = tmp_path / "lev"
    assert levers.main([str(run), "--out", str(out), "--stage", "meta", "--step-costs", str(costs)]) == 0
    assert "| fo: meta 8 | 3.00 |" in out.with_suffix(".md").read_text()
