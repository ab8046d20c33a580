"""The network's convolution gradient: TensorFlow's own CPU kernels against ``backend.conv_same``'s.

Side by side in one process, interleaved round by round, median of ``--repeats``
after two warm-up calls each, on an LR image of ``--size``² (TensorFlow backend):

- one 64→64 3×3 layer: the kernel gradient (``Conv2DBackpropFilter`` against
  k² matrix products of shifted views) and the input gradient
  (``Conv2DBackpropInput`` against a convolution with the flipped kernel);
- one adaptation step of the whole network (loss and gradient, the shipped
  ``mzsr_direct_x2`` weights): the Keras model's gradient (TensorFlow's kernels)
  against the gradient of ``adapt.l1_loss`` (the package's path; Algorithm 2 takes n of them).

Also checks that both give the same gradients.

    python bench/conv_grad_speed.py [--size 256] [--repeats 7]
"""
import argparse
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import numpy as np  # noqa: E402


def timed(cases, repeats, warmups=2):
    """{name: median seconds} of zero-argument callables, interleaved round by round."""
    import tensorflow as tf

    run = lambda fn: tf.nest.map_structure(np.asarray, fn())  # noqa: E731  (waits for every output)
    for fn in cases.values():
        for _ in range(warmups):
            run(fn)
    times = {name: [] for name in cases}
    for _ in range(repeats):
        for name, fn in cases.items():
            t0 = time.perf_counter()
            run(fn)
            times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(v) for name, v in times.items()}


def layer_cases(size, rng):
    import tensorflow as tf

    from mzsr_tf import backend

    c = 64
    x, dy = (tf.constant(rng.standard_normal((1, size, size, c)), tf.float32) for _ in range(2))
    w = tf.constant(rng.standard_normal((3, 3, c, c)) * 0.05, tf.float32)
    strides = [1, 1, 1, 1]
    tf_kernel = tf.function(lambda: tf.raw_ops.Conv2DBackpropFilter(
        input=x, filter_sizes=w.shape, out_backprop=dy, strides=strides, padding="SAME"))
    tf_input = tf.function(lambda: tf.raw_ops.Conv2DBackpropInput(
        input_sizes=x.shape, filter=w, out_backprop=dy, strides=strides, padding="SAME"))

    @tf.function
    def ours():
        with tf.GradientTape() as tape:
            tape.watch([x, w])
            y = backend.conv_same(x, w)
        return tape.gradient(y, [x, w], output_gradients=dy)

    ours_kernel = tf.function(lambda: backend._kernel_grad(x, dy, w.shape))
    ours_input = tf.function(lambda: tf.nn.conv2d(dy, backend._flipped(w), 1, "SAME"))
    gx, gw = ours()
    want_w, want_x = tf_kernel(), tf_input()
    err = max(float(tf.reduce_max(tf.abs(gw - want_w)) / tf.reduce_max(tf.abs(want_w))),
              float(tf.reduce_max(tf.abs(gx - want_x)) / tf.reduce_max(tf.abs(want_x))))
    cases = {"kernel grad, TF": tf_kernel, "kernel grad, ours": ours_kernel,
             "input grad, TF": tf_input, "input grad, ours": ours_input}
    return cases, err


def step_cases(size, rng):
    import tensorflow as tf

    from mzsr_tf import backend
    from mzsr_tf.adapt import l1_loss
    from mzsr_tf.methods import load_params
    from mzsr_tf.model import build_model, set_params

    params, _ = load_params("mzsr_direct_x2", 2, "direct")
    model = build_model()
    set_params(model, params)
    x = tf.constant(rng.uniform(size=(1, size, size, 3)), tf.float32)
    y = tf.constant(rng.uniform(size=(1, size, size, 3)), tf.float32)

    @tf.function
    def keras_step():
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.abs(model(x) - y))
        return [loss] + tape.gradient(loss, model.trainable_variables)

    @tf.function
    def ours_step():
        loss, grads = backend.value_and_grad(l1_loss, params, x, y)
        return [loss] + grads

    a, b = keras_step(), ours_step()
    err = max(float(tf.reduce_max(tf.abs(u - v)) / (tf.reduce_max(tf.abs(u)) + 1e-12)) for u, v in zip(a, b))
    return {"adaptation step, TF kernels": keras_step, "adaptation step, ours": ours_step}, err


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", type=int, default=256, help="LR side (default 256)")
    ap.add_argument("--repeats", type=int, default=7, help="timed rounds (median; default 7)")
    args = ap.parse_args(argv)
    from mzsr_tf import backend

    if backend.NAME != "tensorflow":
        print("this benchmark compares TensorFlow kernels; run it with KERAS_BACKEND=tensorflow")
        return 2
    rng = np.random.default_rng(0)
    layers, layer_err = layer_cases(args.size, rng)
    steps, step_err = step_cases(args.size, rng)
    t = timed({**layers, **steps}, args.repeats)
    print(f"{args.size}x{args.size}, median of {args.repeats}, interleaved")
    for name, sec in t.items():
        print(f"  {name:32s} {sec * 1000:8.1f} ms")
    for what in ("kernel grad", "input grad", "adaptation step"):
        tf_name = f"{what}, TF" if what != "adaptation step" else f"{what}, TF kernels"
        print(f"  {what}: ours / TF = {t[f'{what}, ours'] / t[tf_name]:.2f}")
    print(f"  largest relative difference of the gradients: layer {layer_err:.1e}, network {step_err:.1e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
