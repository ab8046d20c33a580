"""Speed of the serving paths on this machine.

For one LR image (default 256×256, ×2): the loaded SavedModel's
``serving_default`` (adaptation in-graph, a ``tf.while_loop``) against the
Python API ``mzsr_tf.upscale`` at 1 and 10 steps, and ONNX Runtime against
TensorFlow for the feed-forward pass. Each case: one warm-up call (it also
compiles), then ``--repeats`` timed calls, the two sides of a comparison
interleaved so that load from other processes hits both alike; medians.

    python bench/serve_speed.py [--size 256] [--repeats 5] [--steps 1 10]
        [--weights NAME|PATH] [--json FILE]

Without ``--weights`` a seeded random network is used (the speed does not
depend on the weight values).
"""
import argparse
import json
import os
import statistics
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import numpy as np  # noqa: E402

GOAL = 1.05  # serving_default / Python API


def _image(size):
    """A size×size uint8 RGB test image: the packaged example tiled/cropped, else a synthetic one."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "mzsr_tf", "examples",
                        "astronaut_lr_g20_x2.png")
    try:
        from PIL import Image

        with Image.open(path) as im:
            a = np.asarray(im.convert("RGB"), np.uint8)
        reps = (-(-size // a.shape[0]), -(-size // a.shape[1]), 1)
        return np.ascontiguousarray(np.tile(a, reps)[:size, :size])
    except OSError:
        y, x = np.mgrid[0:size, 0:size].astype(np.float64)
        img = np.stack([128 + 100 * np.sin(x / 9), 128 + 100 * np.cos(y / 13), (x + y) * 255 / (2 * size)], -1)
        return np.clip(img, 0, 255).astype(np.uint8)


def _interleaved(fns, repeats):
    """Calls each function once (warm-up), then ``repeats`` rounds of all of them; per-function times."""
    warm = {}
    for name, fn in fns.items():
        t0 = time.perf_counter()
        fn()
        warm[name] = time.perf_counter() - t0
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return times, warm


def _fmt(ts):
    return f"{statistics.median(ts):7.3f} s (min {min(ts):.3f}, max {max(ts):.3f})"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", type=int, default=256, help="LR image side (default 256)")
    ap.add_argument("--repeats", type=int, default=5, help="timed runs per case (median; default 5)")
    ap.add_argument("--steps", type=int, nargs="+", default=[1, 10], help="adaptation steps to time (default 1 10)")
    ap.add_argument("--weights", default=None, help="weights name or .weights.h5 (default: seeded random network)")
    ap.add_argument("--json", default=None, help="also write the figures to this JSON file")
    args = ap.parse_args(argv)

    import keras
    import tensorflow as tf

    import mzsr_tf
    from mzsr_tf import serve as serving
    from mzsr_tf.kernels import named_kernel
    from mzsr_tf.model import build_model

    scale, subsampling = 2, "direct"
    tmp = tempfile.mkdtemp(prefix="serve_speed_")
    weights = args.weights
    if weights is None:
        keras.utils.set_random_seed(0)
        weights = os.path.join(tmp, "random.weights.h5")
        build_model().save_weights(weights)
    from mzsr_tf.weights import load_model

    params = [v.numpy() for v in load_model(weights, scale, subsampling).trainable_variables]
    image = _image(args.size)
    kernel = named_kernel("g2.0")
    model_dir = os.path.join(tmp, "saved_model")
    t0 = time.perf_counter()
    serving.export_saved_model(model_dir, params, scale=scale, subsampling=subsampling,
                               max_steps=max(100, max(args.steps)))
    export_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    loaded = tf.saved_model.load(model_dir)
    load_s = time.perf_counter() - t0
    sig = loaded.signatures["serving_default"]
    print(f"{args.size}x{args.size} LR x{scale} ({subsampling}), kernel g2.0 15x15, TF {tf.__version__}, "
          f"{os.cpu_count()} CPUs; export {export_s:.1f} s, load {load_s:.1f} s; "
          f"median of {args.repeats} after a warm-up, interleaved")
    figures = {"size": args.size, "scale": scale, "repeats": args.repeats, "adapt": {}, "feed_forward": {}}

    print("\nadapt and upscale (uint8 in, uint8 out)")
    ok = True
    for n in args.steps:
        def python_api(n=n):
            return mzsr_tf.upscale(image, scale=scale, kernel=kernel, steps=n, subsampling=subsampling,
                                   weights=weights)

        def saved_model(n=n):
            return sig(image=tf.constant(image[None]), kernel=tf.constant(kernel),
                       steps=tf.constant(n, tf.int32))["sr"].numpy()

        diff = np.abs(python_api().astype(int) - saved_model()[0].astype(int)).max()
        times, warm = _interleaved({"python": python_api, "serving": saved_model}, args.repeats)
        py, sv = statistics.median(times["python"]), statistics.median(times["serving"])
        ratio = sv / py
        ok &= ratio <= GOAL
        print(f"  steps {n:2d}: Python API {_fmt(times['python'])}   SavedModel serving_default "
              f"{_fmt(times['serving'])}   ratio {ratio:.3f} (goal <= {GOAL}: {'met' if ratio <= GOAL else 'NOT met'})"
              f"   max |diff| {diff} level(s); warm-up {warm['python']:.1f} / {warm['serving']:.1f} s")
        figures["adapt"][n] = {"python_s": py, "serving_s": sv, "ratio": ratio, "max_abs_diff": int(diff),
                               "python_all": times["python"], "serving_all": times["serving"]}

    print("\nfeed-forward pass (float32 LR in [0, 1] -> SR, resize included)")
    lr = image[None].astype(np.float32) / 255.0
    consts = [tf.constant(p) for p in params]
    tf_ff = tf.function(lambda x: serving.feed_forward(consts, x, scale), autograph=False)
    onnx_path = os.path.join(tmp, "mzsr.onnx")
    serving.export_onnx(params, onnx_path, scale=scale)
    providers = serving.onnx_providers()
    session = serving.onnx_session(onnx_path, providers)
    diff = float(np.abs(serving.onnx_upscale(session, lr) - tf_ff(tf.constant(lr)).numpy()).max())
    up_sig = loaded.signatures["upscale"]
    times, _ = _interleaved({
        "tensorflow": lambda: tf_ff(tf.constant(lr)).numpy(),
        "onnxruntime": lambda: serving.onnx_upscale(session, lr),
        "upscale_signature": lambda: up_sig(image=tf.constant(image[None]))["sr"].numpy(),
    }, args.repeats)
    tf_s, ort_s = statistics.median(times["tensorflow"]), statistics.median(times["onnxruntime"])
    print(f"  TensorFlow tf.function      {_fmt(times['tensorflow'])}")
    print(f"  ONNX Runtime ({session.get_providers()[0]}) {_fmt(times['onnxruntime'])}   "
          f"ORT / TF = {ort_s / tf_s:.3f}   max |diff| {diff:.2e}")
    print(f"  SavedModel upscale (uint8)  {_fmt(times['upscale_signature'])}")
    figures["feed_forward"] = {"tensorflow_s": tf_s, "onnxruntime_s": ort_s, "ratio": ort_s / tf_s,
                               "upscale_signature_s": statistics.median(times["upscale_signature"]),
                               "max_abs_diff": diff, "provider": session.get_providers()[0]}
    print(f"\nin-graph adaptation no slower than the Python path (ratio <= {GOAL}): {'yes' if ok else 'NO'}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(figures, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
