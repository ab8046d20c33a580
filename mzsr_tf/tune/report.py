"""What a search writes and prints: trial rows, trials.csv, objective.png, best.yaml, progress."""
import csv
import math
import os
import time

import numpy as np

from ..train import config as config_mod
from .space import OBJECTIVE, PAPER_ALPHA, PAPER_BETA, step_sizes_from, with_values

HP_COLUMNS = {"meta": ["alpha", "beta", "inner_steps"], "steps": ["eta_first", "eta_then"]}
METRIC_COLUMNS = {
    "meta": [OBJECTIVE, "val_psnr_step0", "val_psnr_ref", "val_psnr_alpha", "loss_meta_last", "meta_iterations", "diverged", "seconds"],
    "steps": [OBJECTIVE, "diverged", "seconds"],
}
# trials.csv rows whose status is none of the tuner's are reference rows (their note is the status)
TRIAL_STATUSES = ("COMPLETED", "FAILED", "INVALID", "RUNNING", "IDLE", "STOPPED")


def trial_rows(tuner, mode):
    """One dict per trial (in start order) with hyperparameters, status and metrics.

    Args:
      tuner: a KerasTuner tuner.
      mode: 'meta' or 'steps' (which columns).
    """
    rows = []
    for tid, trial in tuner.oracle.trials.items():
        row = {"trial": tid, "status": trial.status}
        for name in HP_COLUMNS[mode]:
            row[name] = trial.hyperparameters.values.get(name, "")
        for name in METRIC_COLUMNS[mode]:
            row[name] = trial.metrics.get_last_value(name) if trial.metrics.exists(name) else ""
        rows.append(row)
    return rows


def reference_rows(refs, mode):
    """The rows of ``references.json`` in the trials' columns."""
    rows = []
    for label, r in refs.items():
        row = {"trial": label, "status": r.get("note", "")}
        if mode == "meta" and label == "paper":
            row.update(alpha=PAPER_ALPHA, beta=PAPER_BETA)
        elif mode == "steps":
            row.update(eta_first=r.get("x", ""), eta_then=r.get("y", "") or "")
        row.update({k: r[k] for k in METRIC_COLUMNS[mode] if k in r})
        rows.append(row)
    return rows


def write_csv(path, rows, columns):
    """Writes ``rows`` (dicts) to ``path`` atomically, floats to 6 significant digits."""
    tmp = path + ".tmp"
    with open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in r.items()})
    os.replace(tmp, path)


def _axis_names(mode):
    return ("alpha", "beta") if mode == "meta" else ("eta_first", "eta_then")


def plot(path, rows, mode, refs, eval_steps, space=None):
    """Objective over the two tuned values (log-log), best trial starred, references marked.

    Args:
      path: the PNG to write.
      rows: trial rows (see :func:`trial_rows`).
      mode: 'meta' or 'steps'.
      refs: reference results by label (see ``search``).
      eval_steps: zero-shot steps of the objective (1 in steps mode: a 1-D plot).
      space: {name: (lo, hi)}: the axes span the whole search space.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter

    xk, yk = _axis_names(mode)
    done = [r for r in rows if r.get(OBJECTIVE) not in ("", None)]
    fig, ax = plt.subplots(figsize=(6.4, 4.8), dpi=100)
    one_d = mode == "steps" and eval_steps == 1
    if done:
        _plot_trials(fig, ax, done, xk, yk, one_d, eval_steps)
    if mode == "meta" and "paper" not in refs:
        ax.scatter([PAPER_ALPHA], [PAPER_BETA], marker="P", s=120, facecolors="none", edgecolors="orange", zorder=5,
                   label="paper's α, β (not run)")
    for label, ref in refs.items():
        if ref.get("x") is not None and ref.get(OBJECTIVE) is not None:
            yv = ref[OBJECTIVE] if one_d else ref["y"]
            ax.scatter([ref["x"]], [yv], marker="P", s=120, c="orange", edgecolors="k", zorder=5,
                       label=f"{label} {ref[OBJECTIVE]:.2f} dB")
    names = {"alpha": "α (inner step size)", "beta": "β (meta learning rate)", "eta_first": "step size of step 0",
             "eta_then": "step size of steps 1..n-1"}
    ax.set_xlabel(names[xk])
    ax.set_ylabel(OBJECTIVE + " (dB)" if one_d else names[yk])
    space = space or {}
    if xk in space:
        ax.set_xscale("log")
        ax.set_xlim(space[xk][0] / 1.25, space[xk][1] * 1.25)
    if yk in space and not one_d:
        ax.set_yscale("log")
        ax.set_ylim(space[yk][0] / 1.25, space[yk][1] * 1.25)
    for axis in (ax.xaxis, ax.yaxis):
        axis.set_minor_formatter(NullFormatter())
    ax.set_title(f"mzsr_tf.tune ({mode}): {len(done)} trials")
    ax.grid(True, which="both", alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _plot_trials(fig, ax, done, xk, yk, one_d, eval_steps):
    x = np.array([float(r[xk]) for r in done])
    y = np.array([float(r[OBJECTIVE]) for r in done]) if one_d else np.array([float(r[yk]) for r in done])
    z = np.array([float(r[OBJECTIVE]) for r in done])
    good = z > 0  # a diverged trial scores 0
    vmin, vmax = (z[good].min(), z[good].max()) if good.any() else (0, 1)
    sc = ax.scatter(x[good], y[good], c=z[good], cmap="viridis", vmin=vmin, vmax=vmax, s=60, edgecolors="k", zorder=3)
    if (~good).any():
        ax.scatter(x[~good], y[~good], marker="x", c="red", s=60, label="diverged", zorder=3)
    if good.any():
        fig.colorbar(sc, ax=ax, label=f"{OBJECTIVE} (dB, {eval_steps} steps)")
        b = int(np.argmax(np.where(good, z, -np.inf)))
        ax.scatter([x[b]], [y[b]], marker="*", s=400, facecolors="none", edgecolors="red", linewidths=1.5, zorder=4,
                   label=f"best {z[b]:.2f} dB")
    for r, xi, yi in zip(done, x, y):
        k = r.get("inner_steps")
        text = str(r["trial"]) + (f" k={k}" if k not in ("", None) else "")
        ax.annotate(text, (xi, yi), textcoords="offset points", xytext=(5, 4), fontsize=7)
    ax.set_xscale("log")
    if not one_d:
        ax.set_yscale("log")


def best_trial(tuner):
    """The completed trial with the highest objective, or None."""
    best = [t for t in tuner.oracle.get_best_trials(1) if t.score is not None and t.metrics.exists(OBJECTIVE)]
    return best[0] if best else None


def best_config(cfg, values):
    """The base config with the best α, β (and inner steps): full-length meta-training, as configured."""
    return with_values(cfg, values).validate()


def write_best(out, tuner, task, settings):
    """Writes best.yaml (meta) or best_step_sizes.yaml (steps).

    Args:
      out: the search folder.
      tuner: the KerasTuner tuner.
      task: the search's task (its ``mode`` and ``cfg``).
      settings: the search's settings (as in search.json).

    Returns:
      The path written, or None before any trial completed.
    """
    import yaml

    trial = best_trial(tuner)
    if trial is None:
        return None
    values = trial.hyperparameters.values
    score = trial.metrics.get_last_value(OBJECTIVE)
    n_done = sum(1 for t in tuner.oracle.trials.values() if t.status == "COMPLETED")
    head = (
        f"# Best of {n_done} trials of `python -m mzsr_tf.tune` ({settings['tuner']}, mode {settings['mode']}): trial {trial.trial_id},\n"
        f"# {OBJECTIVE} = {score:.3f} dB after {settings['eval_steps']} zero-shot steps on {settings['images'] or 'held-out validation images'}.\n"
    )
    if task.mode == "meta":
        path = os.path.join(out, "best.yaml")
        head += (f"# Trials ran {settings['trial_iterations']} meta-iterations each; meta.iterations below is the full run's.\n"
                 f"# Train with: python -m mzsr_tf.train --config {path} --stage meta\n")
        body = config_mod.to_yaml(best_config(task.cfg, values))
    else:
        path = os.path.join(out, "best_step_sizes.yaml")
        sizes = step_sizes_from(values, settings["eval_steps"])
        head += "# Use: mzsr_tf.adapt.zero_shot_sr(params, lr, scale, kernel, subsampling, step_sizes=tuple(step_sizes))\n"
        body = yaml.safe_dump({
            "weights": settings["weights"], "scale": task.cfg.scale, "subsampling": task.cfg.subsampling,
            "steps": settings["eval_steps"], "step_sizes": [float(s) for s in sizes], OBJECTIVE: float(score),
        }, sort_keys=False)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(head + body)
    os.replace(tmp, path)
    return path


def write_results(out, tuner, task, settings, refs, paths):
    """Rewrites trials.csv, objective.png and the best file; adds 'best' to ``paths`` once there is one.

    Args:
      paths: {'csv': ..., 'plot': ...} to write to.
    """
    mode = task.mode
    rows = trial_rows(tuner, mode)
    write_csv(paths["csv"], rows + reference_rows(refs, mode), ["trial", "status"] + HP_COLUMNS[mode] + METRIC_COLUMNS[mode])
    plot(paths["plot"], rows, mode, refs, settings["eval_steps"], settings["space"])
    best = write_best(out, tuner, task, settings)
    if best:
        paths["best"] = best


def progress_line(tuner, trial, total, t_start):
    """Prints one line for a finished trial: its values, result, time and the best so far."""
    m = trial.metrics
    get = lambda k: m.get_last_value(k) if m.exists(k) else None
    hp = trial.hyperparameters.values
    shown = "  ".join(f"{k}={hp[k]:.3g}" if isinstance(hp[k], float) else f"{k}={hp[k]}" for k in hp if not k.startswith("tuner/"))
    if trial.status == "COMPLETED":
        res = f"{OBJECTIVE}={get(OBJECTIVE):.3f} dB" + (" (diverged)" if get("diverged") else "")
        if get("val_psnr_step0") is not None and math.isfinite(get("val_psnr_step0")):
            res += f"  step0={get('val_psnr_step0'):.3f}"
        secs = get("seconds") or 0.0
    else:
        last = (trial.message or "").strip().splitlines()[-1:] or [""]
        res, secs = f"{trial.status}: {last[0]}", 0.0
    best = best_trial(tuner)
    best_s = f"best {best.metrics.get_last_value(OBJECTIVE):.3f} (trial {best.trial_id})" if best else ""
    n = len(tuner.oracle.end_order)
    print(f"[tune] trial {n}/{total} id={trial.trial_id}  {shown}  -> {res}  {secs:.0f} s  "
          f"[{(time.monotonic() - t_start) / 60:.1f} min]  {best_s}", flush=True)


def format_rows(csv_path, top=5):
    """The best rows of trials.csv as a small text table (reference rows last).

    Args:
      csv_path: a trials.csv written by :func:`write_results`.
      top: how many completed trials to show.
    """
    with open(csv_path, newline="") as f:
        rows = list(csv.DictReader(f))
    score = lambda r: float(r[OBJECTIVE]) if r.get(OBJECTIVE) not in ("", None) else -1.0
    trials = sorted([r for r in rows if r["status"] == "COMPLETED"], key=score, reverse=True)[:top]
    refs = [r for r in rows if r["status"] not in TRIAL_STATUSES]
    cols = [c for c in rows[0].keys() if c != "status" and any(r.get(c) not in ("", None) for r in trials + refs)] if rows else []
    lines = ["  ".join(f"{c:>14}" for c in cols)]
    for r in trials + refs:
        lines.append("  ".join(f"{r.get(c, ''):>14}" for c in cols))
    return "\n".join(lines)
