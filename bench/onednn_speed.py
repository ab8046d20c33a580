"""oneDNN on or off: zero-shot SR and meta-training speed, side by side, and the outputs they give.

TensorFlow reads ``TF_ENABLE_ONEDNN_OPTS`` once, at import, and leaves oneDNN's
graph rewrites off by default on CPUs without AVX-512 VNNI/BF16 or AMX. This
script therefore runs one child process per setting, alternating off/on for
``--rounds`` rounds so load drifts hit both alike. Each child times, on the
same 256×256 LR (g2.0, direct ×2, shipped ``mzsr_direct_x2``):

- our forward pass and MZSR(10) (son and resizes included);
- the original code's MZSR(10) (``original_metatest.py``), as a yardstick that
  runs under the same setting;
- one second-order meta-iteration of the ``cpu`` preset (synthetic patches);

reporting wall and CPU seconds. The parent prints medians, the on/off ratios,
our MZSR(10) with oneDNN on against the original code with TensorFlow's
default (off), and the largest output difference between the two settings.

    python bench/onednn_speed.py [--rounds 2] [--repeats 1] [--meta-steps 2]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def _timed(fn, repeats):
    """(median wall s, median CPU s) of ``repeats`` calls after one untimed call; also the last output."""
    out = fn()
    walls, cpus = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    return statistics.median(walls), statistics.median(cpus), out


def child(args):
    """Runs in a process whose TensorFlow read the setting; prints one JSON line of timings."""
    sys.path[:0] = [HERE, ROOT]
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import numpy as np
    from keras import ops

    import adapt_speed
    from mzsr_tf.adapt import step_size_schedule, upscale_sr, zero_shot_sr
    from mzsr_tf.data.sources import ImagePool
    from mzsr_tf.kernels import named_kernel
    from mzsr_tf.methods import load_params
    from mzsr_tf.model import build_model, get_params
    from mzsr_tf.train import config as config_mod
    from mzsr_tf.train.stages import Meta
    from original_metatest import OriginalMetaTest

    lr = adapt_speed._test_image(args.hr, 256)
    params, _ = load_params(adapt_speed.WEIGHTS, 2, "direct")
    kernel = named_kernel(adapt_speed.KERNEL)
    steps = step_size_schedule(10, "direct", 2)
    original = OriginalMetaTest([ops.convert_to_numpy(p) for p in params], 2, kernel)
    res = {}
    res["forward"] = _timed(lambda: ops.convert_to_numpy(upscale_sr(params, lr[None], 2, "float32")), args.repeats)
    res["MZSR(10)"] = _timed(
        lambda: ops.convert_to_numpy(zero_shot_sr(params, lr[None], 2, kernel, "direct", steps, "float32"))[0],
        args.repeats)
    res["original MZSR(10)"] = _timed(lambda: original(lr, steps), args.repeats)
    np.save(args.save, res["MZSR(10)"][2])

    cfg = config_mod.preset("cpu")
    rng = np.random.default_rng(0)
    pool = ImagePool([(rng.random((160, 160, 3)) * 255).astype(np.uint8) for _ in range(8)])
    stage = Meta(cfg, pool, [], get_params(build_model()))
    state, batches = stage.init(), stage.batches(0)
    walls, cpus = [], []
    for i in range(args.meta_steps + 1):
        batch = next(batches)
        t0, c0 = time.perf_counter(), time.process_time()
        state, metrics = stage.step(state, batch, i)
        float(np.asarray(list(metrics.values())[0]))
        if i:  # the first call traces and compiles
            walls.append(time.perf_counter() - t0)
            cpus.append(time.process_time() - c0)
    res["meta iteration"] = (statistics.median(walls), statistics.median(cpus), None)
    print("RESULT " + json.dumps({k: v[:2] for k, v in res.items()}), flush=True)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--hr", help="HR image (its top-left 512² is degraded into the LR; default synthetic)")
    ap.add_argument("--rounds", type=int, default=2, help="off/on child pairs (default 2)")
    ap.add_argument("--repeats", type=int, default=1, help="timed calls per case in each child (default 1)")
    ap.add_argument("--meta-steps", type=int, default=2, help="timed meta-iterations per child (default 2)")
    ap.add_argument("--json", help="also write the figures to this JSON file")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--save", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        return child(args)

    import numpy as np

    runs = {"0": [], "1": []}
    outputs = {}
    print(f"{os.cpu_count()} CPUs, load average at start {os.getloadavg()[0]:.2f}")
    for r in range(args.rounds):
        for setting in ("0", "1"):
            save = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"onednn_{setting}_{os.getpid()}.npy")
            cmd = [sys.executable, os.path.abspath(__file__), "--child", "--save", save, "--repeats",
                   str(args.repeats), "--meta-steps", str(args.meta_steps)] + (["--hr", args.hr] if args.hr else [])
            env = dict(os.environ, TF_ENABLE_ONEDNN_OPTS=setting)
            out = subprocess.run(cmd, env=env, capture_output=True, text=True)
            line = [s for s in out.stdout.splitlines() if s.startswith("RESULT ")]
            if out.returncode or not line:
                raise SystemExit(f"child (oneDNN {setting}) failed:\n{out.stderr[-3000:]}")
            runs[setting].append(json.loads(line[0][7:]))
            outputs[setting] = np.load(save)
            os.remove(save)
            print(f"  round {r + 1}, oneDNN {setting}: " + ", ".join(
                f"{k} {v[0]:.2f} s" for k, v in runs[setting][-1].items()) +
                f" (load {os.getloadavg()[0]:.1f})", flush=True)

    med = {s: {k: [statistics.median(run[k][i] for run in runs[s]) for i in (0, 1)] for k in runs[s][0]}
           for s in runs}
    print(f"\n{'case':20s} {'off wall':>9s} {'on wall':>9s} {'on/off':>7s} {'off CPU':>9s} {'on CPU':>9s} {'on/off':>7s}")
    for k in med["0"]:
        (w0, c0), (w1, c1) = med["0"][k], med["1"][k]
        print(f"{k:20s} {w0:9.2f} {w1:9.2f} {w1 / w0:7.3f} {c0:9.2f} {c1:9.2f} {c1 / c0:7.3f}")
    ours_on, orig_off = med["1"]["MZSR(10)"], med["0"]["original MZSR(10)"]
    diff = float(np.abs(outputs["0"] - outputs["1"]).max())
    print(f"\nours MZSR(10) with oneDNN on / original MZSR(10) with TensorFlow's default (off): "
          f"wall {ours_on[0] / orig_off[0]:.3f}, CPU {ours_on[1] / orig_off[1]:.3f}")
    print(f"MZSR(10) / forward with oneDNN on: wall {ours_on[0] / med['1']['forward'][0]:.2f}")
    print(f"max |SR(on) - SR(off)| after 10 steps (on [0, 1]): {diff:.2e}")
    print(f"load average at end {os.getloadavg()[0]:.2f} (ratios are the figures that count)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"runs": runs, "medians": med, "max_abs_diff": diff}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
