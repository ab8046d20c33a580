"""When would a run's held-out curve close a given gap? A log-linear fit against CPU hours.

Fits ``psnr = a + b * log2(hours)`` by least squares to a run's validation points
(``docs/levers.py`` reads and chains them), so ``b`` is dB gained per doubling
of the total CPU hours, with its standard error. A gap of ``g`` dB then needs
``g / b`` more doublings, i.e. ``hours_now * 2 ** (g / b)`` hours in all. It
assumes a gap on a benchmark closes one-for-one with the held-out PSNR, which
is an assumption, not a measurement: the numbers are an order of magnitude.

    python docs/extrapolate.py training/mzsr_direct_x2 --stage meta --start-hours 1.5 \\
        --gap g^d_2.0=0.17 --gap g^d_ani=1.60

A lineage of runs, each fine-tuning the one before, is fitted as one curve: give the
runs in order with the CPU hours each started at (``RUN:STAGE`` keeps one stage of a
run), and ``--budget-hours`` prints what the fitted rate buys up to that many hours:

    python docs/extrapolate.py training/kernel_aware_x2_direct:pretrain_all \\
        training/kernel_aware_x2_direct_anneal training/kernel_aware_x2_direct_restart \\
        --start-hours 1.5 3.17 3.62 --from-hours 3.62 --budget-hours 8.5 --gap g^d_2.0=0.09
"""
import argparse
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import levers  # noqa: E402  (docs/levers.py: reads and chains a run's validation points)


def fit_log2(hours, psnr):
    """Least-squares ``psnr = a + b * log2(hours)``.

    Args:
      hours: CPU hours of each point (all > 0).
      psnr: the PSNR at each point.

    Returns:
      (a, b, standard error of b).
    """
    x = [math.log2(h) for h in hours]
    n = len(x)
    mx, my = sum(x) / n, sum(psnr) / n
    sxx = sum((xi - mx) ** 2 for xi in x)
    b = sum((xi - mx) * (yi - my) for xi, yi in zip(x, psnr)) / sxx
    a = my - b * mx
    resid = sum((yi - a - b * xi) ** 2 for xi, yi in zip(x, psnr))
    se = math.sqrt(resid / (n - 2) / sxx) if n > 2 else float("inf")
    return a, b, se


def hours_to_close(gap_db, slope, hours_now):
    """Total CPU hours at which a gap closes at ``slope`` dB per doubling; inf when the slope is not positive."""
    if gap_db <= 0:
        return hours_now
    if slope <= 0:
        return math.inf
    return hours_now * 2 ** (gap_db / slope)


def lineage_points(runs, starts, column, stage=None, running_mean=False):
    """(hours, psnr) of the validation points of runs chained one after another.

    Args:
      runs: run folders, each optionally ``PATH:STAGE`` to keep that stage only.
      starts: CPU hours at which each run started (the hours of the weights it fine-tunes).
      column: the validation column, one of ``levers.COLUMNS``.
      stage: keep only this stage in runs that name none (hours still count from the run's start).
      running_mean: take the running mean's points (val_avg) too.
    """
    points = []
    for run, start in zip(runs, starts):
        path, _, own_stage = run.partition(":")
        keep = own_stage or stage
        for prefix in ["val", "val_avg"] if running_mean else ["val"]:
            points += [(h + start, v[column]) for lab, h, v in levers.run_points(path, prefix)
                       if (not keep or lab.split()[0] == keep) and v[column] is not None and h + start > 0]
    return sorted(points)


def gap_arg(text):
    """``NAME=DB`` of ``--gap``, as (name, dB)."""
    name, sep, value = text.partition("=")
    try:
        if not (sep and name):
            raise ValueError
        return name, float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected NAME=DB (e.g. g^d_2.0=0.17), got {text!r}") from None


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", nargs="+", metavar="RUN[:STAGE]",
                   help="run folder(s); several are one lineage, each fine-tuning the one before")
    p.add_argument("--stage", help="fit only this stage's points (hours still count from the run's start)")
    p.add_argument("--start-hours", type=float, nargs="+", default=[0.0],
                   help="CPU hours spent before each run (its init weights): one value, or one per run")
    p.add_argument("--from-hours", type=float, default=0.0,
                   help="fit only the points at or after this many CPU hours (leave out the steep start)")
    p.add_argument("--budget-hours", type=float, help="print the fitted gain from now up to this many CPU hours")
    p.add_argument("--column", default="psnr_step10", help="validation column to fit (default psnr_step10)")
    p.add_argument("--running-mean", action="store_true", help="fit the running mean's points (val_avg) too")
    p.add_argument("--gap", action="append", default=[], type=gap_arg, metavar="NAME=DB", help="a gap to a target, in dB")
    a = p.parse_args(argv)
    if a.column not in levers.COLUMNS:
        p.error(f"--column: one of {', '.join(levers.COLUMNS)}")
    try:
        starts = levers.run_starts(a.runs, a.start_hours)
    except ValueError as e:
        p.error(str(e))
    points = [(h, y) for h, y in lineage_points(a.runs, starts, a.column, a.stage, a.running_mean)
              if h >= a.from_hours]
    lineage = " + ".join(a.runs)
    if len(points) < 3:
        p.error(f"{lineage}: {len(points)} validation points with {a.column}; need at least 3")
    hours, psnr = zip(*points)
    _, slope, se = fit_log2(hours, psnr)
    now = max(hours)
    print(f"{lineage}: {len(points)} points, {min(hours):.2f}-{now:.2f} CPU hours, {a.column}")
    print(f"slope {slope:+.3f} dB per doubling of CPU hours (standard error {se:.3f})")
    if a.budget_hours:
        doublings = math.log2(max(a.budget_hours, now) / now)
        print(f"  up to {a.budget_hours:g} CPU hours ({doublings:.2f} doublings from {now:.2f}): "
              f"{slope * doublings:+.3f} dB at the fit, {(slope + se) * doublings:+.3f} at fit + 1 s.e.")
    for name, gap in a.gap:
        for label, b in (("fit", slope), ("fit + 1 s.e.", slope + se)):
            h = hours_to_close(gap, b, now)
            when = "never at this rate" if math.isinf(h) else f"{h:,.0f} CPU hours ({h / now:,.0f}x now)"
            print(f"  {name}: {gap:.2f} dB short -> {label}: {when}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
