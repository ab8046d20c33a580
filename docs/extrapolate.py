"""When would a run's held-out curve close a given gap? A log-linear fit against CPU hours.

Fits ``psnr = a + b * log2(hours)`` by least squares to a run's validation points
(``docs/levers.py`` reads and chains them), so ``b`` is dB gained per doubling
of the total CPU hours, with its standard error. A gap of ``g`` dB then needs
``g / b`` more doublings, i.e. ``hours_now * 2 ** (g / b)`` hours in all. It
assumes a gap on a benchmark closes one-for-one with the held-out PSNR, which
is an assumption, not a measurement: the numbers are an order of magnitude.

    python docs/extrapolate.py training/mzsr_direct_x2 --stage meta --start-hours 1.5 \\
        --gap g^d_2.0=0.17 --gap g^d_ani=1.60
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
    p.add_argument("run", help="run folder")
    p.add_argument("--stage", help="fit only this stage's points (hours still count from the run's start)")
    p.add_argument("--start-hours", type=float, default=0.0, help="CPU hours spent before the run (its init weights)")
    p.add_argument("--column", default="psnr_step10", help="validation column to fit (default psnr_step10)")
    p.add_argument("--running-mean", action="store_true", help="fit the running mean's points (val_avg) too")
    p.add_argument("--gap", action="append", default=[], type=gap_arg, metavar="NAME=DB", help="a gap to a target, in dB")
    a = p.parse_args(argv)
    if a.column not in levers.COLUMNS:
        p.error(f"--column: one of {', '.join(levers.COLUMNS)}")
    prefixes = ["val", "val_avg"] if a.running_mean else ["val"]
    points = [(h + a.start_hours, v[a.column]) for prefix in prefixes for lab, h, v in levers.run_points(a.run, prefix)
              if (not a.stage or lab.split()[0] == a.stage) and v[a.column] is not None and h + a.start_hours > 0]
    if len(points) < 3:
        p.error(f"{a.run}: {len(points)} validation points with {a.column}; need at least 3")
    hours, psnr = zip(*sorted(points))
    _, slope, se = fit_log2(hours, psnr)
    now = max(hours)
    print(f"{a.run}: {len(points)} points, {min(hours):.2f}-{now:.2f} CPU hours, {a.column}")
    print(f"slope {slope:+.3f} dB per doubling of CPU hours (standard error {se:.3f})")
    for name, gap in a.gap:
        for label, b in (("fit", slope), ("fit + 1 s.e.", slope + se)):
            h = hours_to_close(gap, b, now)
            when = "never at this rate" if math.isinf(h) else f"{h:,.0f} CPU hours ({h / now:,.0f}x now)"
            print(f"  {name}: {gap:.2f} dB short -> {label}: {when}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
