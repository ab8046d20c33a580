"""The training-lever table and plot: held-out validation PSNR against CPU hours.

Reads the ``metrics.csv`` every training stage writes (``val/psnr_*`` and
``time/cpu_hours`` at the same steps), chains the stages of a run (a stage's
hours start where the previous one's ended), and adds reference rows measured
with ``python -m mzsr_tf.train --config CONFIG --validate NAME...`` (a JSON
file of {name: {"cpu_hours": h, "val/psnr_step10": ..., ...}}).

    python docs/levers.py training/mzsr_direct_x2 --baselines docs/results/levers_baselines.json \\
        --start-hours 1.5 --out docs/levers
"""
import argparse
import csv
import json
import os
import sys

COLUMNS = ["psnr_step0", "psnr_step1", "psnr_step10", "psnr_noblur_step0", "psnr_noblur_step10", "psnr_bicubic"]
# The bicubic pretraining validates feed-forward on unblurred bicubic pairs only (val/psnr_bicubic).
LABELS = {"psnr_bicubic": "bicubic ×2 pretraining, no blur, feed-forward"}


def column_label(col):
    """Legend text for a column, e.g. 'p(k), 10 steps'."""
    if col in LABELS:
        return LABELS[col]
    where, steps = ("no blur", col[len("psnr_noblur_step"):]) if "noblur" in col else ("p(k)", col[len("psnr_step"):])
    return f"{where}, {steps} step{'' if steps == '1' else 's'}"


def run_starts(runs, start_hours):
    """The CPU hours each run starts at, from ``--start-hours``: one value for all runs, or one per run.

    Raises:
      ValueError: another number of values.
    """
    if len(start_hours) == 1:
        return list(start_hours) * len(runs)
    if len(start_hours) != len(runs):
        raise ValueError(f"--start-hours: give one value or one per run ({len(runs)}), not {len(start_hours)}")
    return list(start_hours)


def read_stage(stage_dir):
    """{step: {name: value}} from a stage's metrics.csv."""
    rows = {}
    with open(os.path.join(stage_dir, "logs", "metrics.csv")) as f:
        for r in csv.DictReader(f):
            rows.setdefault(int(r["step"]), {})[r["name"]] = float(r["value"])
    return rows


def modelled_hours(step, step_cost):
    """CPU hours of ``step`` steps at a piecewise cost.

    Args:
      step: steps taken.
      step_cost: [(from_step, cpu_seconds_per_step), ...], sorted by from_step, the first from 0.
    """
    seconds = 0.0
    for i, (start, cost) in enumerate(step_cost):
        end = step_cost[i + 1][0] if i + 1 < len(step_cost) else step
        seconds += max(0, min(step, end) - start) * cost
    return seconds / 3600.0


def run_points(run_dir, prefix="val", only_stage=None, step_cost=None):
    """Validation points of a run: [(label, cpu_hours, {column: psnr})], stages chained in config order.

    Args:
      run_dir: the run folder (its config.yaml lists the stages).
      prefix: 'val' (the weights) or 'val_avg' (the running mean of the weights, ``meta.average_from``).
      only_stage: keep only this stage, its hours counted from its own start (to compare runs
        that start the stage from the same weights).
      step_cost: with ``only_stage``, hours from a cost model (see ``modelled_hours``) instead of
        the logged clock, for runs that shared the CPU with others: a process's CPU time grows
        with contention, a cost measured side by side (bench/train_speed.py --levers) does not.
    """
    import yaml

    with open(os.path.join(run_dir, "config.yaml")) as f:
        stages = yaml.safe_load(f).get("stages", ["pretrain", "meta"])
    if only_stage:
        stages = [s for s in stages if s == only_stage]
    points, offset = [], 0.0
    for stage in stages:
        path = os.path.join(run_dir, stage)
        if not os.path.isdir(os.path.join(path, "logs")):
            continue
        rows = read_stage(path)
        hours = {s: v["time/cpu_hours"] for s, v in rows.items() if "time/cpu_hours" in v}
        last = 0.0
        for step in sorted(rows):
            v = rows[step]
            h = hours.get(step, 0.0 if step == 0 else last)
            last = h
            if step_cost:
                h = modelled_hours(step, step_cost)
            if f"{prefix}/psnr_step10" in v or f"{prefix}/psnr_bicubic" in v:
                points.append((f"{stage} {step}", offset + h, {c: v.get(f"{prefix}/{c}") for c in COLUMNS}))
        offset += max(hours.values(), default=0.0)
    return points


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", nargs="+", help="run folders")
    p.add_argument("--baselines", help="JSON of reference rows")
    p.add_argument("--out", required=True, help="output stem: writes STEM.md and STEM.png")
    p.add_argument("--start-hours", type=float, nargs="+", default=[0.0],
                   help="CPU hours spent on the weights the runs start from (their pretraining): one value "
                        "for all runs, or one per run to chain runs of one lineage")
    p.add_argument("--stage", help="only this stage of each run, hours from its start (e.g. meta)")
    p.add_argument("--until-hours", type=float, help="leave out points after this many CPU hours")
    p.add_argument("--step-costs", help="with --stage: JSON {run folder name: [[from_step, CPU s per step], ...]}, "
                                        "hours from this cost model instead of the logged clock")
    p.add_argument("--plot-columns", default="psnr_step10,psnr_noblur_step10",
                   help=f"comma-separated columns to draw, of: {', '.join(COLUMNS)}")
    a = p.parse_args(argv)
    plot_columns = a.plot_columns.split(",")
    if not set(plot_columns) <= set(COLUMNS):
        p.error(f"--plot-columns: unknown {sorted(set(plot_columns) - set(COLUMNS))}; known: {', '.join(COLUMNS)}")
    if a.step_costs and not a.stage:
        p.error("--step-costs needs --stage")
    try:
        starts = run_starts(a.runs, a.start_hours)
    except ValueError as e:
        p.error(str(e))
    costs = json.load(open(a.step_costs)) if a.step_costs else {}
    series = {}
    for r, start in zip(a.runs, starts):
        name = os.path.basename(os.path.normpath(r))
        for prefix, suffix in (("val", ""), ("val_avg", " (running mean)")):
            pts = [(lab, h + start, v) for lab, h, v in run_points(r, prefix, a.stage, costs.get(name))
                   if a.until_hours is None or h + start <= a.until_hours]
            if pts:
                series[name + suffix] = pts
    base = json.load(open(a.baselines)) if a.baselines else {}
    lines = ["| weights | CPU hours | p(k) 0 | p(k) 1 | p(k) 10 | no blur 0 | no blur 10 | bicubic pretraining |",
             "|---|---|---|---|---|---|---|---|"]
    cell = lambda v: "-" if v is None else f"{v:.2f}"  # noqa: E731
    for name, row in base.items():
        lines.append(f"| {name} | {row.get('cpu_hours', '-')} | " + " | ".join(cell(row.get('val/' + c)) for c in COLUMNS) + " |")
    for run, pts in series.items():
        for label, h, v in pts:
            lines.append(f"| {run}: {label} | {h:.2f} | " + " | ".join(cell(v[c]) for c in COLUMNS) + " |")
    with open(a.out + ".md", "w") as f:
        f.write("\n".join(lines) + "\n")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2))
    for run, pts in series.items():
        color = None
        for col, style in zip(plot_columns, ("-o", "--s", ":^", "-.v", "-x")):
            drawn = [(h, v[col]) for _, h, v in pts if v[col] is not None]
            if not drawn:
                continue
            line, = ax.plot([h for h, _ in drawn], [y for _, y in drawn], style, ms=3, color=color,
                            label=f"{run}, {column_label(col)}")
            color = line.get_color()
    for i, (name, row) in enumerate(base.items()):
        if row.get("val/psnr_step10") is not None:
            ax.axhline(row["val/psnr_step10"], color=f"C{i + 3}", lw=0.8, ls=":", label=f"{name}, p(k), 10 steps")
    modelled = ", modelled per step" if costs else ""
    ax.set_xlabel(f"CPU hours ({'from the start of ' + a.stage + modelled if a.stage else '2-core machine; stages chained'})")
    ax.set_ylabel("held-out validation PSNR (dB, Y)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(a.out + ".png", dpi=120)
    print(f"wrote {a.out}.md and {a.out}.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
