"""docs/levers.py: validation points chained over stages, the running mean as its own series."""
import importlib.util
import os

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
    assert "| run (running mean): meta 10 | 2.50 | - | - | 27.80 | - | - |" in table
    assert (tmp_path / "lev.png").stat().st_size > 1000
