"""Our figures beside the MZSR paper's: Table 2 (PSNR/SSIM) and Table 4 (parameters, seconds).

Used by ``python -m mzsr_tf.evaluate`` (printed after the per-image tables) and
by ``bench/compare.py``. The paper's figures: Set5 PSNR only (Y channel, the
paper's Table 2), and the Table 4 times measured on a Titan XP GPU.
"""
import math
import time

import numpy as np

from .protocol import prepare, run_column

# Paper Table 2, Set5, PSNR (dB): scenario -> {column label: PSNR}.
PAPER_TABLE2 = {
    "set5": {
        "bicubic": {"bicubic": 33.64, "zssr": 36.93, "mzsr(1)": 36.77, "mzsr(10)": 37.25},
        "g0.2": {"bicubic": 30.24, "zssr": 34.29, "mzsr(1)": 33.14, "mzsr(10)": 33.74},
        "g2.0": {"bicubic": 28.73, "zssr": 34.90, "mzsr(1)": 35.20, "mzsr(10)": 36.05},
        "gani": {"bicubic": 28.15, "zssr": 33.96, "mzsr(1)": 34.05, "mzsr(10)": 34.78},
        "gb1.3": {"bicubic": 30.54, "zssr": 35.24, "mzsr(1)": 35.18, "mzsr(10)": 36.64},
        "g2.0x4": {"bicubic": 24.74, "zssr": 27.39, "mzsr(1)": 30.20, "mzsr(10)": 30.50},
    }
}

# Paper Table 4: seconds for a 256×256 LR image ×2 on a Titan XP, and parameters.
PAPER_TABLE4 = {"zssr": 142.72, "mzsr(1)": 0.13, "mzsr(10)": 0.36}
PAPER_PARAMS = 225_000  # "225K" for ZSSR and MZSR alike

TABLE4_LR_SIDE = 256


def paper_set(hr_dir):
    """The paper set a folder holds ('set5'), judged by its name, or None."""
    import os

    name = os.path.basename(os.path.normpath(str(hr_dir))).lower()
    return name if name in PAPER_TABLE2 else None


def _psnr_ssim(v):
    if v is None or v.get("psnr") is None:
        return "-"
    p = "inf" if math.isinf(v["psnr"]) else f"{v['psnr']:.2f}"
    return f"{p}/{v['ssim']:.4f}"


def format_table2(scenario_results, set_name=None, notes=()):
    """Table 2 layout: one row per scenario, per column 'ours PSNR/SSIM [paper PSNR]'.

    Args:
      scenario_results: {scenario name: {column label: {"mean": {psnr, ssim, ...}}}}.
      set_name: a key of :data:`PAPER_TABLE2` or None (no paper figures).
      notes: extra lines printed under the table.
    """
    paper = PAPER_TABLE2.get(set_name or "", {})
    labels = list(dict.fromkeys(lab for res in scenario_results.values() for lab in res))
    cells = {}
    for sc, res in scenario_results.items():
        for lab in labels:
            ours = _psnr_ssim(res.get(lab, {}).get("mean"))
            ref = paper.get(sc, {}).get(lab)
            cells[sc, lab] = f"{ours} [{ref:.2f}]" if ref is not None else f"{ours} [  -  ]"
    sw = max([len(s) for s in scenario_results] + [8])
    cw = max([len(c) for c in cells.values()] + [len(lab) for lab in labels])
    title = f"Table 2 ({set_name.capitalize() if set_name else 'this set; no paper figures for it'}): " \
        "mean PSNR (dB) / SSIM, Y channel, ours [paper PSNR]"
    lines = [title, f"{'scenario':<{sw}}  " + "  ".join(f"{lab:>{cw}}" for lab in labels)]
    for sc in scenario_results:
        lines.append(f"{sc:<{sw}}  " + "  ".join(f"{cells[sc, lab]:>{cw}}" for lab in labels))
    lines += list(notes)
    return "\n".join(lines)


def table4_input(images, scenario, kernel_size):
    """A 256×256 LR test image for Table 4 under ``scenario``, from the first HR image.

    Uses an HR image whose LR is exactly 256×256 if the set has one (Set5: baby),
    else the first image, centre-cropped or mirror-padded to 512×512.

    Returns:
      (name, lr uint8 [256, 256, 3]).
    """
    from ..scenarios import make_lr

    side = TABLE4_LR_SIDE * scenario.scale
    for name, hr, _ in images:
        if hr.shape[0] - hr.shape[0] % scenario.scale == side and hr.shape[1] - hr.shape[1] % scenario.scale == side:
            return name, make_lr(hr, scenario, kernel_size)[1]
    name, hr, _ = images[0]
    pads = [(max(0, side - hr.shape[0]) // 2 + 1,) * 2, (max(0, side - hr.shape[1]) // 2 + 1,) * 2, (0, 0)]
    hr = np.pad(hr, pads, mode="symmetric")
    top, left = (hr.shape[0] - side) // 2, (hr.shape[1] - side) // 2
    hr = np.ascontiguousarray(hr[top : top + side, left : left + side])
    return f"{name} (centre {side}x{side})", make_lr(hr, scenario, kernel_size)[1]


def time_column(name, lr, scenario, n_steps, ctx, repeats=3, warm=True):
    """Seconds of one method on one LR image: median of ``repeats`` timed calls after a warm call."""
    run = lambda *a: run_column(name, *a)  # noqa: E731
    if warm:
        run(lr, scenario, n_steps, ctx)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        run(lr, scenario, n_steps, ctx)
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def parameters(method):
    """Trainable parameters of a method's network (0 for bicubic)."""
    if method == "bicubic":
        return 0
    from ..model import DEPTH, WIDTH, CHANNELS

    total, cin = 0, CHANNELS
    for i in range(DEPTH):
        cout = CHANNELS if i == DEPTH - 1 else WIDTH
        total += 9 * cin * cout + cout
        cin = cout
    return total


def format_table4(rows, image, device="this CPU", notes=()):
    """Table 4 layout.

    Args:
      rows: [(label, method, seconds)] in column order.
      image: what was timed.
      device: where.
      notes: extra lines.
    """
    by = {lab: sec for lab, _, sec in rows}
    z = by.get("zssr")
    lines = [
        f"Table 4: seconds to super-resolve a {TABLE4_LR_SIDE}x{TABLE4_LR_SIDE} LR image x2 ({image}), {device}",
        f"{'method':<14} {'parameters':>10} {'seconds':>10} {'ZSSR/this':>10} {'paper (Titan XP)':>17}",
    ]
    for lab, m, sec in rows:
        ratio = f"{z / sec:9.0f}x" if z and sec and m != "zssr" else f"{'':>10}"
        paper = PAPER_TABLE4.get(lab)
        paper = f"{paper:.2f} s" if paper is not None else "-"
        lines.append(f"{lab:<14} {parameters(m):>10,} {sec:>10.3f} {ratio} {paper:>17}")
    lines += list(notes)
    return "\n".join(lines)


def _zssr_notes(report):
    """One line on how the ZSSR runs ended (iterations, stopping reason)."""
    runs = [r for e in report["scenarios"].values() for r in e["columns"].get("zssr", {}).get("runs", [])]
    if not runs:
        return []
    its = [r["iterations"] for r in runs]
    floor = sum(r["stopped"] == "rate_floor" for r in runs)
    cap = next(e["columns"]["zssr"]["max_iters"] for e in report["scenarios"].values() if "zssr" in e["columns"])
    ens = next(e["columns"]["zssr"]["ensemble"] for e in report["scenarios"].values() if "zssr" in e["columns"])
    return [
        f"zssr: cap {cap} iterations; of {len(runs)} runs {floor} stopped at the learning-rate floor, "
        f"{len(runs) - floor} at the cap; iterations {min(its)}-{max(its)} (mean {np.mean(its):.0f}); "
        f"self-ensemble {'on (median + back-projection)' if ens else 'off'}"
    ]


def table4(report, scenarios, images, cols, ctx, repeats=3):
    """Times every column on a 256×256 LR image of the first ×2 scenario.

    ZSSR's seconds come from the evaluation itself when the set has an image with
    a 256×256 LR (the run just measured); otherwise ZSSR runs once more here.

    Returns:
      (rows [(label, method, seconds)], image description, notes) or None (no ×2 scenario).
    """
    import dataclasses

    sc = next((s for s in scenarios if s.scale == 2), None)
    if sc is None or not images:
        return None
    name, lr = table4_input(images, sc, ctx.kernel_size)
    tctx = dataclasses.replace(ctx, info={})
    rows, notes = [], []
    for label, m, n in cols:
        if m == "zssr":
            measured = report["scenarios"][sc.name]["columns"].get("zssr", {}).get("images", {}).get(name)
            if measured is not None:
                sec = measured["seconds"]
                notes.append(f"zssr: the {sc.name} evaluation run on {name} (includes its few seconds of tracing)")
            else:
                run_column(m, lr, sc, n, dataclasses.replace(tctx, zssr_iters=1))  # trace/compile untimed
                sec = time_column(m, lr, sc, n, tctx, repeats=1, warm=False)
                notes.append("zssr: one run after a 1-iteration warm-up")
            r = tctx.info.get(("zssr", sc.name), {}).get("runs") or []
            if r:
                notes[-1] += f"; {r[-1]['iterations']} iterations, stopped by {r[-1]['stopped']}"
        else:
            prepare(m, sc, tctx)
            sec = time_column(m, lr, sc, n, tctx, repeats=repeats)
        rows.append((label, m, sec))
    notes.insert(0, f"bicubic/mzsr: median of {repeats} runs after an untimed compiling run; scenario {sc.name}")
    return rows, f"{name}, {sc.name}", notes


def print_comparison(report, scenarios, images, cols, ctx, args):
    """Prints Table 2 (always) and Table 4 (``--table4``, or when zssr is evaluated); adds both to the report."""
    set_name = paper_set(args.hr_dir)
    results = {name: e["columns"] for name, e in report["scenarios"].items()}
    notes = _zssr_notes(report)
    if report.get("measured_on"):
        notes.append(f"{len(report['measured_on'])} image(s) beyond 8-bit RGB measured at their own precision "
                     "(see measured_on above)")
    if ctx.ensemble and any(m == "mzsr" for _, m, _ in cols):
        notes.append("mzsr: with --ensemble (mean of 8 dihedral variants); the paper's MZSR figures are without")
    if set_name and any(s.scale == 2 for s in scenarios):
        notes.append("paper figures: Set5 PSNR (Table 2 of the MZSR paper); SSIM has no paper figure here")
    print(format_table2(results, set_name, notes))
    print()
    report["table2"] = {
        sc: {lab: v["mean"] for lab, v in cols_.items()} for sc, cols_ in results.items()
    }
    want = args.table4 if args.table4 is not None else any(m == "zssr" for _, m, _ in cols)
    if not want:
        return
    t4 = table4(report, scenarios, images, cols, ctx)
    if t4 is None:
        print("Table 4: needs a x2 scenario and an 8-bit RGB image; none was evaluated\n")
        return
    rows, image, t4notes = t4
    print(format_table4(rows, image, notes=t4notes))
    print(flush=True)
    report["table4"] = {"image": image, "seconds": {lab: sec for lab, _, sec in rows},
                        "parameters": {lab: parameters(m) for lab, m, _ in rows}}
