"""Speed of zero-shot SR on this machine: forward pass, MZSR(1), MZSR(10).

Times the compiled ``zero_shot_sr`` (son + ILR + n adaptation steps + forward)
on one random LR image, median of ``--repeats`` runs after a warm-up call
(which also compiles), and prints the ratios to the 0-step forward pass, the
peak memory, and a side-by-side line with the official MZSR code measured on
the same machine (REFERENCE.md, "Speed facts").

    python bench/adapt_speed.py [--size 256] [--scale 2] [--repeats 5]
"""
import argparse
import contextlib
import os
import resource
import signal
import statistics
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import numpy as np  # noqa: E402

# Official MZSR meta-test (TF1 graph) on these machines, 256×256 LR ×2 (REFERENCE.md).
OFFICIAL = {"forward": 0.27, "MZSR(1)": 0.56, "MZSR(10)": 2.84}
GOALS = {"MZSR(1)": 2.2, "MZSR(10)": 10.0}  # ratio to our own forward pass


def _max_rss_mib():
    # ru_maxrss is in KiB on Linux (bytes on macOS).
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return r / (1024.0 * 1024.0) if sys.platform == "darwin" else r / 1024.0


def _tf_peak_mib():
    try:
        import tensorflow as tf

        info = tf.config.experimental.get_memory_info("CPU:0")
        return info["peak"] / 2**20
    except Exception as e:  # CPU devices do not track allocations in most builds
        return f"n/a ({type(e).__name__})"


@contextlib.contextmanager
def _paused(pids, limit_s=55):
    """SIGSTOPs ``pids`` (other jobs sharing the CPU) while timing; always SIGCONTs them.

    A detached watchdog resumes them after ``limit_s`` even if this process dies.
    """
    if not pids:
        yield
        return
    ids = " ".join(str(p) for p in pids)
    dog = subprocess.Popen(["sh", "-c", f"sleep {limit_s}; kill -CONT {ids}"], start_new_session=True)
    try:
        for p in pids:
            os.kill(p, signal.SIGSTOP)
        yield
    finally:
        for p in pids:
            try:
                os.kill(p, signal.SIGCONT)
            except ProcessLookupError:
                pass
        dog.kill()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", type=int, default=256, help="LR image side (default 256)")
    ap.add_argument("--scale", type=int, default=2, help="SR scale (default 2)")
    ap.add_argument("--repeats", type=int, default=5, help="timed runs per case (median; default 5)")
    ap.add_argument("--subsampling", default="direct", choices=("direct", "bicubic"))
    ap.add_argument("--compute-dtype", default=None, choices=("float32", "bfloat16"),
                    help="convolution dtype passed to zero_shot_sr (default float32; bfloat16 changes results)")
    ap.add_argument("--pause-pids", default="",
                    help="comma-separated pids of other CPU jobs to SIGSTOP during each timed loop (resumed after "
                         "each case, at most ~55 s at a time) for cleaner timings on a shared machine")
    args = ap.parse_args(argv)
    pids = [int(p) for p in args.pause_pids.split(",") if p.strip()]

    import keras
    from keras import ops

    from mzsr_tf.adapt import step_size_schedule, zero_shot_sr
    from mzsr_tf.kernels import named_kernel
    from mzsr_tf.model import build_model, get_params

    keras.utils.set_random_seed(0)
    params = get_params(build_model())
    lr = np.random.default_rng(0).random((1, args.size, args.size, 3)).astype(np.float32)
    kernel = named_kernel("g2.0")
    rss_before = _max_rss_mib()

    dtype_kw = {"compute_dtype": args.compute_dtype} if args.compute_dtype not in (None, "float32") else {}
    cases = [("forward", 0), ("MZSR(1)", 1), ("MZSR(10)", 10)]
    times, cpu = {}, {}
    for name, n in cases:
        steps = tuple(step_size_schedule(n, args.subsampling, args.scale))

        def run():
            out = zero_shot_sr(params, lr, args.scale, kernel=kernel, subsampling=args.subsampling,
                               step_sizes=steps, **dtype_kw)
            return ops.convert_to_numpy(out)

        t0 = time.perf_counter()
        out = run()  # warm-up: traces and compiles
        warm = time.perf_counter() - t0
        assert out.shape == (1, args.size * args.scale, args.size * args.scale, 3)
        ts, cs = [], []
        with _paused(pids):
            for _ in range(args.repeats):
                t0, c0 = time.perf_counter(), time.process_time()
                run()
                ts.append(time.perf_counter() - t0)
                cs.append(time.process_time() - c0)
        times[name] = statistics.median(ts)
        cpu[name] = statistics.median(cs)
        print(
            f"{name:9s} {times[name]:7.3f} s  (median of {args.repeats}; min {min(ts):.3f}, max {max(ts):.3f}; "
            f"CPU time {cpu[name]:.3f} s; first call with compile {warm:.2f} s)"
        )

    base = times["forward"]
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"\n{args.size}x{args.size} LR x{args.scale} ({args.subsampling}, {args.compute_dtype or 'float32'}), keras backend {keras.backend.backend()}, "
          f"{os.cpu_count()} CPUs, load average {load:.1f} at the end")
    for name in ("MZSR(1)", "MZSR(10)"):
        ratio = times[name] / base
        goal = GOALS[name]
        print(f"{name:9s} / forward = {ratio:5.2f}x  (goal <= {goal}x: {'met' if ratio <= goal else 'NOT met'}); "
              f"in CPU time {cpu[name] / cpu['forward']:5.2f}x")
    tf_peak = _tf_peak_mib()
    tf_peak = tf_peak if isinstance(tf_peak, str) else f"{tf_peak:.0f} MiB"
    print(f"peak memory: max RSS {_max_rss_mib():.0f} MiB (after setup {rss_before:.0f} MiB); TF-reported CPU peak: {tf_peak}")
    if args.size == 256 and args.scale == 2:
        parts = []
        for name, _ in cases:
            parts.append(f"{name} {OFFICIAL[name]:.2f} s vs ours {times[name]:.3f} s (official/ours {OFFICIAL[name] / times[name]:.2f})")
        print("official MZSR code on this machine (REFERENCE.md): " + "; ".join(parts))
        if load > 1.5 * (os.cpu_count() or 1):
            print(f"note: load average {load:.1f} on {os.cpu_count()} CPUs: other jobs share the cores, so wall "
                  "times are inflated; CPU time (work done by this process) is the load-robust figure")
    else:
        print("official MZSR figures (REFERENCE.md) are for 256x256 x2 only: forward 0.27 s, MZSR(1) 0.56 s, MZSR(10) 2.84 s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
