"""Op-by-op profile of one adaptation step (L1 loss, gradient, SGD update) and the GFLOP/s its convolutions reach.

Traces a compiled step of :func:`mzsr_tf.adapt.sgd_step` on an LR-sized input
with the TF profiler, sums the host time of every op by type, and divides the
convolutions' arithmetic (2·H·W·9·c_in·c_out per conv, forward, input and
filter gradients) by their measured time (in float32 the gradients are
``backend.conv_same``'s: matrix products and convolutions, see ``conv_role``).

    python bench/profile_step.py [--size 256] [--steps 5] [--compute-dtype bfloat16] [--json out.json]
"""
import argparse
import collections
import glob
import json
import os
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import numpy as np  # noqa: E402



def conv_role(kind, custom_grad):
    """'forward', 'input' or 'filter' for an op type of the step's convolutions, else None.

    Args:
      custom_grad: the step runs ``backend.conv_same``'s gradient (float32 under TF): its
        kernel gradients are MatMul ops and its input gradients plain Conv2D ops, while
        the forward convolutions are fused with their bias (and ReLU).
    """
    if custom_grad:
        return {"MatMul": "filter", "Conv2D": "input", "_FusedConv2D": "forward"}.get(kind)
    if "Conv2D" not in kind:
        return None
    return "filter" if "BackpropFilter" in kind else "input" if "BackpropInput" in kind else "forward"


def conv_flops(params, h, w):
    """(forward, input-gradient, filter-gradient) FLOP of the network's convolutions on an h×w image.

    The first layer's input gradient is not needed (the image is not a weight), so it is left out.
    """
    macs = [int(np.prod(params[2 * i].shape)) * h * w for i in range(len(params) // 2)]
    return 2 * sum(macs), 2 * sum(macs[1:]), 2 * sum(macs)


def op_times(logdir):
    """{(op name, op type): total microseconds} from the host plane of the trace in ``logdir``."""
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    totals = collections.Counter()
    for path in glob.glob(os.path.join(logdir, "**", "*.xplane.pb"), recursive=True):
        space = xplane_pb2.XSpace()
        with open(path, "rb") as f:
            space.ParseFromString(f.read())
        for plane in space.planes:
            if not plane.name.startswith("/host:CPU"):
                continue
            names = {k: m.name for k, m in plane.event_metadata.items()}
            for line in plane.lines:
                for ev in line.events:
                    name = names.get(ev.metadata_id, "")
                    # Op executions are traced as "name:Type"; everything else is runtime bookkeeping.
                    if ":" in name and "::" not in name and ": " not in name and "#" not in name:
                        op, kind = name.rsplit(":", 1)
                        totals[(op, kind)] += ev.duration_ps / 1e6
    return totals


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", type=int, default=256, help="LR side: the step runs on an image of this size")
    ap.add_argument("--steps", type=int, default=5, help="traced steps (after two warm-up steps)")
    ap.add_argument("--compute-dtype", default="float32", choices=("float32", "bfloat16"))
    ap.add_argument("--top", type=int, default=15, help="rows of the op-type and op tables")
    ap.add_argument("--json", help="also write the tables as JSON")
    args = ap.parse_args(argv)

    import tensorflow as tf

    from mzsr_tf import backend
    from mzsr_tf.adapt import sgd_step
    from mzsr_tf.methods import load_params

    params, _ = load_params("mzsr_direct_x2", 2, "direct")
    rng = np.random.default_rng(0)
    x = tf.constant(rng.random((1, args.size, args.size, 3)), tf.float32)
    y = tf.constant(rng.random((1, args.size, args.size, 3)), tf.float32)
    dtype = None if args.compute_dtype == "float32" else args.compute_dtype
    step = backend.compile_fn(lambda p, a, b: sgd_step(p, a, b, 0.01, compute_dtype=dtype)[1])
    for _ in range(2):
        [t.numpy() for t in step(params, x, y)]
    logdir = tempfile.mkdtemp(prefix="profile_step_")
    tf.profiler.experimental.start(logdir)
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(args.steps):
        [t.numpy() for t in step(params, x, y)]
    wall, cpu = (time.perf_counter() - t0) / args.steps, (time.process_time() - c0) / args.steps
    tf.profiler.experimental.stop()

    times = op_times(logdir)
    by_type = collections.Counter()
    for (_, kind), us in times.items():
        by_type[kind] += us
    total = sum(by_type.values())
    print(f"one adaptation step, {args.size}x{args.size}, {args.compute_dtype}: {total / args.steps / 1e3:.1f} ms "
          f"of op time per step (sum over ops, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f})")
    print(f"\n{'op type':28s} {'ms/step':>9s} {'share':>7s}")
    for kind, us in by_type.most_common(args.top):
        print(f"{kind:28s} {us / args.steps / 1e3:9.2f} {us / total:7.1%}")
    print(f"\n{'op':60s} {'ms/step':>9s}")
    for (op, kind), us in times.most_common(args.top):
        print(f"{(op + ':' + kind)[:60]:60s} {us / args.steps / 1e3:9.2f}")

    fwd, bin_, bfil = conv_flops(params, args.size, args.size)
    flop = fwd + bin_ + bfil
    role_us = collections.Counter()
    custom_grad = dtype is None  # float32 under TF: backend.conv_same's gradient
    for kind, us in by_type.items():
        if conv_role(kind, custom_grad):
            role_us[conv_role(kind, custom_grad)] += us
    conv_s = sum(role_us.values()) / args.steps / 1e6
    print(f"\nconvolutions: {flop / 1e9:.1f} GFLOP per step (forward {fwd / 1e9:.1f}, input grad {bin_ / 1e9:.1f}, "
          f"filter grad {bfil / 1e9:.1f}) in {conv_s * 1e3:.0f} ms of op time = {flop / conv_s / 1e9:.1f} GFLOP/s")
    for role, f in (("forward", fwd), ("input", bin_), ("filter", bfil)):
        if role_us[role]:
            print(f"  {role:8s} {f / (role_us[role] / args.steps / 1e6) / 1e9:7.1f} GFLOP/s")
    # Wall-clock op times count the time other jobs hold the cores; CPU seconds of this process do not.
    print(f"per step: wall {wall:.3f} s, CPU {cpu:.3f} s (all threads): {flop / cpu / 1e9:.1f} GFLOP per CPU-second "
          "(all ops charged to the convolutions, so a lower bound per core)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"size": args.size, "compute_dtype": args.compute_dtype, "steps": args.steps,
                       "ms_per_step_by_type": {k: v / args.steps / 1e3 for k, v in by_type.items()},
                       "ms_per_step_by_op": {f"{o}:{k}": v / args.steps / 1e3 for (o, k), v in times.items()},
                       "conv_gflop_per_step": flop / 1e9, "conv_gflops": flop / conv_s / 1e9,
                       "wall_s_per_step": wall, "cpu_s_per_step": cpu, "gflop_per_cpu_s": flop / cpu / 1e9}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
