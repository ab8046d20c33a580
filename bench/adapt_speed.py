"""Speed of zero-shot SR against the original MZSR code's meta-test, side by side in one process.

On one LR image (default 256×256, ×2, g2.0 kernel, direct subsampling, the
shipped ``mzsr_direct_x2`` weights) it times, interleaved round by round,
median of ``--repeats`` after two warm-up calls each:

- ours: upscale only (ILR + network + clip), MZSR(1) and MZSR(10), son and
  resizes included, in float32 and with bfloat16 convolutions; MZSR(10) in
  float32 once more on each convolution gradient path (``tf``, ``custom``),
  whichever the calibration chose for the default;
- the original code's arithmetic (``original_metatest.py``): forward,
  MZSR(1), MZSR(10), son and NumPy resizes included;

then the first call on a never-seen image size against a warm call on it (and
whether it traced again), a whole ``python -m mzsr_tf.upscale`` process on the
same image against the warm in-process time plus ``import tensorflow``, peak
RSS per case, and the speed targets, met or not.

    python bench/adapt_speed.py [--hr HR.png] [--repeats 7] [--json out.json]
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, ".."))

import numpy as np  # noqa: E402

SCALE = 2
KERNEL = "g2.0"
WEIGHTS = "mzsr_direct_x2"
TARGETS = {  # the speed targets (issue #26): ratio limits
    "default MZSR(10) / original MZSR(10)": 0.6,
    "float32 MZSR(10) / original MZSR(10)": 0.95,
    "MZSR(1) / our forward": 2.0,
    "MZSR(10) / our forward": 9.0,
    "upscale process / (warm MZSR(10) + import tensorflow)": 1.3,
}


def _hwm_mib():
    """Peak resident memory of this process since the last :func:`_reset_hwm`, MiB (Linux)."""
    try:
        with open("/proc/self/status") as f:
            return int(re.search(r"VmHWM:\s+(\d+)", f.read()).group(1)) / 1024.0
    except (OSError, AttributeError):
        return float("nan")


def _reset_hwm():
    # Writing 5 to clear_refs resets the peak-RSS mark (Linux >= 4.0), so each case gets its own peak.
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def _child(cmd, env=None):
    """Runs ``cmd``; returns (wall seconds, peak RSS MiB of that child). Raises if it fails."""
    with tempfile.TemporaryFile() as err:  # a file, not a pipe: a chatty child cannot block on it
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        code = os.waitstatus_to_exitcode(status)
        if code:
            err.seek(0)
            raise RuntimeError(f"{' '.join(cmd)} failed ({code}):\n{err.read().decode(errors='replace')[-2000:]}")
    return wall, usage.ru_maxrss / 1024.0


def _test_image(hr_path, size):
    """An LR image taken from ``hr_path`` (or a smooth synthetic one) by g2.0 blur and direct ×2, rounded to uint8."""
    from mzsr_tf.degrade import degrade
    from mzsr_tf.io import read_image
    from mzsr_tf.kernels import named_kernel
    from keras import ops

    if hr_path:
        hr = read_image(hr_path)[0][: SCALE * size, : SCALE * size]
        if hr.shape[:2] != (SCALE * size, SCALE * size):
            raise SystemExit(f"{hr_path}: need at least {SCALE * size}x{SCALE * size} pixels, got {hr.shape[:2]}")
    else:
        rng = np.random.default_rng(0)
        coarse = rng.random((size // 8, size // 8, 3)).astype(np.float32)
        hr = np.kron(coarse, np.ones((16, 16, 1), np.float32))  # blocky, so the network sees edges
    lr = degrade(hr[None], SCALE, kernel=named_kernel(KERNEL), subsampling="direct", round_uint8=True)
    return np.asarray(ops.convert_to_numpy(lr), np.float32)[0]


def native_bf16():
    """Whether this CPU reports bfloat16 arithmetic (AVX512-BF16 or AMX); without it TF emulates bf16 slowly."""
    from mzsr_tf.speed.cpu import native_bf16 as native

    return native()


def _cases(lr, dtypes, step_counts):
    """{name: zero-argument callable returning the SR image as NumPy}, in the order they run."""
    from keras import ops

    from mzsr_tf.adapt import step_size_schedule, upscale_sr, zero_shot_sr
    from mzsr_tf.kernels import named_kernel
    from mzsr_tf.methods import load_params
    from original_metatest import OriginalMetaTest

    params, _ = load_params(WEIGHTS, SCALE, "direct")
    kernel = named_kernel(KERNEL)
    batch = lr[None]
    original = OriginalMetaTest([ops.convert_to_numpy(p) for p in params], SCALE, kernel)
    cases = {}
    for dtype in dtypes:
        cases[f"ours {dtype} forward"] = lambda d=dtype: ops.convert_to_numpy(upscale_sr(params, batch, SCALE, d))[0]
        for n in step_counts:
            steps = step_size_schedule(n, "direct", SCALE)
            cases[f"ours {dtype} MZSR({n})"] = lambda d=dtype, s=steps: ops.convert_to_numpy(
                zero_shot_sr(params, batch, SCALE, kernel, "direct", s, d))[0]
    if 10 in step_counts:
        cases.update(_path_cases(params, batch, kernel))
    for n in (0, *step_counts):
        steps = step_size_schedule(n, "direct", SCALE)
        name = "original forward" if n == 0 else f"original MZSR({n})"
        cases[name] = lambda s=steps: original(lr, s)
    return cases, params, kernel


def _path_cases(params, batch, kernel):
    """Float32 MZSR(10) traced once on each convolution gradient path, as calibration candidates run."""
    from keras import ops

    from mzsr_tf import adapt, backend

    steps = adapt.step_size_schedule(10, "direct", SCALE)
    args = adapt._arguments(params, batch, kernel, steps)
    cases = {}
    for path in backend.CONV_GRADS:
        fn = backend._relaxed(lambda p, x, k, a, n: adapt.zero_shot(p, x, k, a, n, SCALE, "direct"))
        with backend.conv_grad_forced(path):
            fn(*args)  # the trace, and so the path, is fixed here
        cases[f"ours float32 MZSR(10) {path} grad"] = lambda f=fn: ops.convert_to_numpy(f(*args))[0]
    return cases


def _time_cases(cases, repeats, warmups=2):
    """Interleaved timing: every round runs every case once, so load drifts hit all cases alike."""
    outputs, walls, cpus, peaks = {}, {k: [] for k in cases}, {k: [] for k in cases}, {}
    for name, fn in cases.items():
        _reset_hwm()
        outputs[name] = fn()
        for _ in range(warmups - 1):
            fn()
        peaks[name] = _hwm_mib()
    for r in range(repeats):
        for name, fn in cases.items():
            t0, c0 = time.perf_counter(), time.process_time()
            fn()
            walls[name].append(time.perf_counter() - t0)
            cpus[name].append(time.process_time() - c0)
        print(f"  round {r + 1}/{repeats} done, load {os.getloadavg()[0]:.1f}", flush=True)
    return outputs, walls, cpus, peaks


def _new_size(params, kernel, size, dtype):
    """A never-seen image size at 10 steps: the first call against the next one, and traces added."""
    from keras import ops

    from mzsr_tf import adapt

    fn = adapt._compiled(adapt.zero_shot, SCALE, "direct", None if dtype == "float32" else dtype)
    lr = np.random.default_rng(1).random((1, size - 8, size - 24, 3)).astype(np.float32)
    steps = adapt.step_size_schedule(10, "direct", SCALE)
    traces = fn.tracing_count()
    t0 = time.perf_counter()
    ops.convert_to_numpy(adapt.zero_shot_sr(params, lr, SCALE, kernel, "direct", steps, dtype))
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    ops.convert_to_numpy(adapt.zero_shot_sr(params, lr, SCALE, kernel, "direct", steps, dtype))
    warm = time.perf_counter() - t0
    return {"shape": list(lr.shape[1:3]), "first_s": first, "warm_s": warm, "first_over_warm": first / warm,
            "new_traces": fn.tracing_count() - traces}


def _processes(lr, dtype, repeats):
    """Medians over ``repeats`` interleaved runs of `import tensorflow` and a one-image upscale command."""
    from mzsr_tf.io import write_image

    tmp = tempfile.mkdtemp(prefix="adapt_speed_")
    src, dst = os.path.join(tmp, "lr.png"), os.path.join(tmp, "sr.png")
    write_image(src, lr)
    cmd = [sys.executable, "-m", "mzsr_tf.upscale", src, dst, "--scale", str(SCALE), "--steps", "10",
           "--kernel", KERNEL, "--weights", WEIGHTS, "--compute-dtype", dtype, "--overwrite"]
    env = dict(os.environ, PYTHONPATH=os.path.join(HERE, "..") + os.pathsep + os.environ.get("PYTHONPATH", ""))
    imp, run = [], []
    for _ in range(repeats):
        imp.append(_child([sys.executable, "-c", "import tensorflow"], env))
        run.append(_child(cmd, env))
    for p in (src, dst):
        if os.path.exists(p):
            os.remove(p)
    os.rmdir(tmp)
    return {"import_tensorflow_s": statistics.median(w for w, _ in imp),
            "upscale_process_s": statistics.median(w for w, _ in run),
            "upscale_process_peak_rss_mib": max(m for _, m in run),
            "import_runs_s": [w for w, _ in imp], "process_runs_s": [w for w, _ in run]}


def _check(label, value, limit):
    ok = value <= limit
    print(f"  {label:58s} {value:6.3f}  (target <= {limit}: {'met' if ok else 'NOT met'}, "
          f"{'margin' if ok else 'over by'} {abs(limit - value):.3f})")
    return {"value": value, "target": limit, "met": ok}


def _report_targets(med, dtypes, step_counts, default_dtype):
    """Prints the side-by-side ratios and the speed targets that this run measured."""
    ratios, checks = {}, {}
    print("\nagainst the original code (same image, same run):")
    for d in dtypes:
        for a in ("forward", *(f"MZSR({n})" for n in step_counts)):
            key = f"{d} {a} / original {a}"
            ratios[key] = med[f"ours {d} {a}"] / med[f"original {a}"]
            print(f"  ours {d:8s} {a:8s} / original = {ratios[key]:.3f}")
    print("\nspeed targets:")
    limit = TARGETS["default MZSR(10) / original MZSR(10)"]
    candidates = {default_dtype: f"default ({default_dtype})"}
    candidates.setdefault("bfloat16", "bfloat16 (candidate default)")
    for d, label in candidates.items():
        key = f"{d} MZSR(10) / original MZSR(10)"
        if key in ratios:
            checks[f"{label} MZSR(10) / original MZSR(10)"] = _check(f"{label} MZSR(10) / original MZSR(10)",
                                                                    ratios[key], limit)
    if "float32 MZSR(10) / original MZSR(10)" in ratios:
        checks["float32 MZSR(10) / original MZSR(10)"] = _check(
            "float32 MZSR(10) / original MZSR(10)", ratios["float32 MZSR(10) / original MZSR(10)"],
            TARGETS["float32 MZSR(10) / original MZSR(10)"])
    for d in dtypes:
        for n in (n for n in (1, 10) if n in step_counts):
            label = f"{d} MZSR({n}) / our {d} forward"
            checks[label] = _check(label, med[f"ours {d} MZSR({n})"] / med[f"ours {d} forward"],
                                   TARGETS[f"MZSR({n}) / our forward"])
    return ratios, checks


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--hr", help="HR image whose top-left 2·size square is blurred and subsampled into the LR "
                                 "(default: a synthetic image)")
    ap.add_argument("--size", type=int, default=256, help="LR side (default 256)")
    ap.add_argument("--repeats", type=int, default=7, help="timed rounds (median; default 7)")
    ap.add_argument("--warmups", type=int, default=2, help="untimed calls per case first (default 2; >= 1)")
    ap.add_argument("--steps", type=int, nargs="+", default=[1, 10], help="step counts to time (default 1 10)")
    ap.add_argument("--dtypes", nargs="+", choices=("float32", "bfloat16"), default=None,
                    help="our compute dtypes to time (default: float32, and bfloat16 where the CPU has bf16 "
                         "arithmetic; emulated bf16 gradients are tens of times slower)")
    ap.add_argument("--process-repeats", type=int, default=3,
                    help="whole-process runs of the upscale command and of `import tensorflow` (default 3; 0 skips)")
    ap.add_argument("--json", help="also write every figure to this JSON file")
    args = ap.parse_args(argv)
    dtypes = args.dtypes or (["float32", "bfloat16"] if native_bf16() else ["float32"])
    step_counts = sorted(set(args.steps) - {0})

    load_start = os.getloadavg()
    import keras

    from mzsr_tf import backend
    from mzsr_tf.speed import calibrate
    from mzsr_tf.speed.cpu import cpu_summary

    print(cpu_summary())
    path, source = calibrate.resolve()
    print(f"default convolution gradient path: {path} ({source}; {calibrate.cache_path(calibrate.machine_key())})")
    backend.conv_grad()

    from mzsr_tf.speed.precision import default_compute_dtype

    default_dtype = default_compute_dtype() or "float32"  # what a call with no compute_dtype runs here
    lr = _test_image(args.hr, args.size)
    cases, params, kernel = _cases(lr, dtypes, step_counts)
    print(f"LR {lr.shape[0]}x{lr.shape[1]} x{SCALE} ({KERNEL}, direct, {WEIGHTS}); keras {keras.__version__} "
          f"on {keras.backend.backend()}; {os.cpu_count()} CPUs, native bf16: {native_bf16()}; "
          f"load average at start {load_start[0]:.2f}")
    outputs, walls, cpus, peaks = _time_cases(cases, args.repeats, max(1, args.warmups))
    med = {k: statistics.median(v) for k, v in walls.items()}
    res = {"image": args.hr or "synthetic", "lr_shape": list(lr.shape), "repeats": args.repeats,
           "default_compute_dtype": default_dtype, "native_bf16": native_bf16(), "cases": {}}
    print(f"\n{'case':26s} {'median s':>9s} {'min':>7s} {'max':>7s} {'CPU s':>7s} {'peak RSS MiB':>13s}")
    for k in cases:
        res["cases"][k] = {"median_s": med[k], "runs_s": walls[k], "cpu_median_s": statistics.median(cpus[k]),
                           "peak_rss_mib": peaks[k]}
        print(f"{k:26s} {med[k]:9.3f} {min(walls[k]):7.3f} {max(walls[k]):7.3f} "
              f"{statistics.median(cpus[k]):7.3f} {peaks[k]:13.0f}")
    n_max = step_counts[-1] if step_counts else 0
    if n_max:
        res["max_abs_diff_vs_original"] = {
            d: float(np.abs(outputs[f"ours {d} MZSR({n_max})"] - outputs[f"original MZSR({n_max})"]).max())
            for d in dtypes}
        print(f"max |ours - original| after {n_max} steps (on [0, 1]): " +
              ", ".join(f"{d} {v:.2e}" for d, v in res["max_abs_diff_vs_original"].items()))
    res["ratios"], checks = _report_targets(med, dtypes, step_counts, default_dtype)

    print("\nfirst call on a never-seen image size (10 steps) vs the next call on it:")
    res["new_size"] = {}
    for d in dtypes:
        r = res["new_size"][d] = _new_size(params, kernel, args.size, d)
        print(f"  {d:8s} {r['shape'][0]}x{r['shape'][1]}: first {r['first_s']:.3f} s, warm {r['warm_s']:.3f} s "
              f"({r['first_over_warm']:.2f}x), new traces {r['new_traces']} "
              f"({'no retrace' if r['new_traces'] == 0 else 'RETRACED'})")

    warm_key = f"ours {default_dtype} MZSR(10)"
    if args.process_repeats > 0 and warm_key in med:
        print(f"\nwhole process: python -m mzsr_tf.upscale, one {lr.shape[0]}x{lr.shape[1]} PNG, 10 steps, "
              f"{default_dtype} (median of {args.process_repeats}):")
        p = res["process"] = _processes(lr, default_dtype, args.process_repeats)
        budget = med[warm_key] + p["import_tensorflow_s"]
        print(f"  import tensorflow {p['import_tensorflow_s']:.2f} s, upscale process {p['upscale_process_s']:.2f} s "
              f"(peak RSS {p['upscale_process_peak_rss_mib']:.0f} MiB), warm in-process MZSR(10) {med[warm_key]:.2f} s")
        checks["upscale process / (warm MZSR(10) + import tensorflow)"] = _check(
            "upscale process / (warm MZSR(10) + import tensorflow)", p["upscale_process_s"] / budget,
            TARGETS["upscale process / (warm MZSR(10) + import tensorflow)"])
    res["targets"] = checks
    res["load_average"] = {"start": list(load_start), "end": list(os.getloadavg())}
    print(f"\nload average: start {load_start[0]:.2f}, end {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs "
          "(other jobs inflate wall times alike for all cases; the ratios are the figures that count)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=2)
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
