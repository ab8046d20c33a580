"""Algorithm 2, once: son → ILR(son) → n gradient steps on the fast weights → upscale.

The inner loop serves two callers. Meta-training runs it unrolled (a Python
list of step sizes, second-order terms kept under the outer gradient); test
time runs it as a loop op whose step count and step sizes are tensors, so one
compiled graph per (scale, subsampling, dtype) serves every schedule and every
image size. Serving, tuning, Figure 3, the self-ensemble and ZSSR call these
functions instead of composing the pipeline themselves.

A kernel-aware network gets the code of the kernel (:mod:`mzsr_tf.kernel_code`)
as constant maps after the ILR, in the son task and in the upscale alike: the
son is degraded with the same kernel, so one code serves both.
"""
from keras import ops

from . import backend
from .degrade import degrade
from .kernel_code import grid_size, kernel_code, with_code
from .model import forward
from .resize import imresize

# Reference test-time step sizes by model (steps counted from 0): (first, then, for how many, after).
STEP_SIZES = {
    ("direct", 2): (0.02, 0.01, 3, 0.005),
    ("bicubic", 2): (0.01, 0.01, 2, 0.001),
    ("direct", 4): (0.01, 0.005, 4, 0.001),
    ("bicubic", 4): (0.01, 0.005, 4, 0.001),
    ("multi", 0): (0.01, 0.01, 2, 0.005),
}


def step_size_schedule(n, subsampling="direct", scale=2, rule=None):
    """The test-time step size for each of ``n`` steps, as a list of floats.

    Args:
      rule: (first, then, count, after) that came with the weights (their card's
        ``step_sizes``); None: the reference table for (subsampling, scale).
    """
    first, then, count, after = rule or STEP_SIZES.get((subsampling, scale), STEP_SIZES[("multi", 0)])
    return [first if i == 0 else then if i <= count else after for i in range(n)]


def l1_loss(params, x, y, compute_dtype=None):
    """Mean absolute error of ``forward(params, x)`` against ``y``."""
    return ops.mean(ops.abs(forward(params, x, compute_dtype) - y))


def sgd_step(params, x, y, step_size, *, loss=l1_loss, first_order=False, compute_dtype=None):
    """One plain gradient step on ``loss(params, x, y)``; returns (loss value, new params).

    Args:
      step_size: one step size, or a sequence with one per tensor (Meta-SGD style).
      loss: ``loss(params, x, y, compute_dtype)`` to descend.
      first_order: treat the gradient as a constant for an outer derivative.
    """
    value, grads = backend.value_and_grad(loss, params, x, y, compute_dtype)
    if first_order:
        grads = [backend.stop_gradient(g) for g in grads]
    sizes = step_size if isinstance(step_size, (list, tuple)) else [step_size] * len(params)
    return value, [p - a * g for p, a, g in zip(params, sizes, grads)]


def adapt_trajectory(params, x, y, step_sizes, *, loss=l1_loss, first_order=False, compute_dtype=None):
    """The unrolled inner loop: every intermediate fast weight, for meta-training's multi-step loss.

    Args:
      params: list of tensors (the initial weights θ).
      x: input batch the inner loss sees (ILR of the son, or D_tr's ILR patches).
      y: target batch of the same spatial size.
      step_sizes: Python sequence, one step size (or per-tensor list) per step.

    Returns:
      (losses, trajectory): the inner loss before each step, and [θ_1, ..., θ_n].
    """
    losses, traj = [], []
    for size in step_sizes:
        value, params = sgd_step(params, x, y, size, loss=loss, first_order=first_order, compute_dtype=compute_dtype)
        losses.append(value)
        traj.append(params)
    return losses, traj


def adapt(params, x, y, step_sizes, *, n_steps=None, loss=l1_loss, first_order=False, compute_dtype=None):
    """The fast weights after the inner loop.

    Args:
      params: list of tensors θ.
      x, y: the pair the loss fits (ILR(son) → LR at test time).
      step_sizes: a Python sequence (the loop is unrolled, one step per entry),
        or with ``n_steps`` a 1-D tensor of at least ``n_steps`` entries.
      n_steps: None (unrolled) or an int32 scalar tensor: the steps then run in
        a loop op (``tf.while_loop`` / ``lax.fori_loop``) that reads its step
        size from ``step_sizes[i]``, so the graph does not depend on n.
      loss: the inner loss, ``loss(params, x, y, compute_dtype)``.
      first_order: drop second-order terms.
    """
    if n_steps is None:
        _, traj = adapt_trajectory(params, x, y, step_sizes, loss=loss, first_order=first_order,
                                   compute_dtype=compute_dtype)
        return traj[-1] if traj else list(params)

    def body(i, fast):
        return sgd_step(fast, x, y, step_sizes[i], loss=loss, first_order=first_order, compute_dtype=compute_dtype)[1]

    return backend.fori_loop(n_steps, body, list(params))


def son_input(lr, scale, kernel=None, subsampling="direct", code=None):
    """ILR(son): the LR image degraded once more by the same kernel and subsampling, resized back to LR size.

    Args:
      lr: float [N, H, W, C] in [0, 1].
      kernel: [k, k] tensor, or None for no blur.
      code: the kernel's code [t] for a kernel-aware network (appended as maps), or None.
    """
    son = degrade(lr, scale, kernel=kernel, subsampling=subsampling)
    return with_code(imresize(son, float(scale), out_hw=(ops.shape(lr)[1], ops.shape(lr)[2])), code)


def upscale_with(params, lr, scale, compute_dtype=None, code=None):
    """SR = clip(f(ILR(lr), code), 0, 1) with the given (fast) weights."""
    return ops.clip(forward(params, with_code(imresize(lr, float(scale)), code), compute_dtype), 0.0, 1.0)


def adapted(params, lr, kernel, step_sizes, n_steps, scale, subsampling, compute_dtype=None, code=None):
    """Algorithm 2's adaptation on one image, in loop form: the fast weights (traceable)."""
    x = son_input(lr, scale, kernel, subsampling, code)
    return adapt(params, x, lr, step_sizes, n_steps=n_steps, compute_dtype=compute_dtype)


def zero_shot(params, lr, kernel, step_sizes, n_steps, scale, subsampling, compute_dtype=None, code=None):
    """All of Algorithm 2 (traceable): adapt on (ILR(son) → LR), then upscale LR."""
    fast = adapted(params, lr, kernel, step_sizes, n_steps, scale, subsampling, compute_dtype, code)
    return upscale_with(fast, lr, scale, compute_dtype, code)


def _as_tensor(p):
    """A float32 tensor holding the value of ``p`` (tensor, array or variable)."""
    if backend.NAME == "tensorflow":
        p = backend.tf.convert_to_tensor(p)  # reads a variable; keras' convert passes it through
    return ops.cast(ops.convert_to_tensor(p), "float32")


def _arguments(params, lr, kernel, step_sizes):
    """Plain float32 tensors whatever the caller passes (a new kind of argument would retrace).

    No kernel is the 1×1 identity kernel, so blurred and unblurred images share a graph.
    """
    sizes = [float(a) for a in step_sizes]
    kernel = [[1.0]] if kernel is None else kernel
    return ([_as_tensor(p) for p in params], ops.convert_to_tensor(lr, "float32"),
            ops.convert_to_tensor(kernel, "float32"), ops.convert_to_tensor(sizes + [0.0], "float32"),
            ops.convert_to_tensor(len(sizes), "int32"))


def _compiled(fn, scale, subsampling, compute_dtype, kernel_pca=None):
    """``fn`` compiled; with a kernel basis it takes (mean, basis) too and projects the kernel in the graph."""
    size = kernel_pca and grid_size(kernel_pca)
    key = (fn.__name__, int(scale), subsampling, compute_dtype or "float32") + ((size,) if size else ())
    compiled = backend.cached_compile(key, lambda: lambda p, x, k, a, n, *pca: fn(
        p, x, k, a, n, int(scale), subsampling, compute_dtype, kernel_code(k, *pca, size) if pca else None))
    pca = [] if kernel_pca is None else [ops.convert_to_tensor(b, "float32") for b in kernel_pca]
    return lambda *args: compiled(*args, *pca)


def zero_shot_sr(params, lr, scale, kernel=None, subsampling="direct", step_sizes=(), compute_dtype=None,
                 kernel_pca=None):
    """Algorithm 2: adapt on (ILR(son) → LR), then super-resolve LR.

    Compiled once per (scale, subsampling, compute dtype): the schedule and the
    image size are run-time inputs.

    Args:
      params: list of weight tensors (meta-learned θ).
      lr: float tensor [1, H, W, 3] in [0, 1].
      scale: integer scale.
      kernel: [k, k] blur kernel of the LR image, or None for no blur.
      subsampling: 'direct' or 'bicubic'.
      step_sizes: per-step sizes; its length is the number of steps.
      compute_dtype: None (float32) or 'bfloat16' convolutions (float32 weights and sums).
      kernel_pca: (mean, basis) of a kernel-aware network (:mod:`mzsr_tf.kernel_code`), else None.

    Returns:
      SR tensor [1, s·H, s·W, 3] clipped to [0, 1].
    """
    fn = _compiled(zero_shot, scale, subsampling, compute_dtype, kernel_pca)
    return fn(*_arguments(params, lr, kernel, step_sizes))


def adapted_params(params, lr, scale, kernel=None, subsampling="direct", step_sizes=(), compute_dtype=None,
                   kernel_pca=None):
    """The fast weights after Algorithm 2's steps (for callers that upscale several variants)."""
    fn = _compiled(adapted, scale, subsampling, compute_dtype, kernel_pca)
    return list(fn(*_arguments(params, lr, kernel, step_sizes)))


def upscale_sr(params, lr, scale, compute_dtype=None, code=None):
    """Compiled :func:`upscale_with` (one graph per scale and dtype, any image size).

    Args:
      code: the kernel's code [t] for a kernel-aware network (``kernel_code.code_for``), else None.
    """
    key = ("upscale_with", int(scale), compute_dtype or "float32") + (() if code is None else ("code",))
    fn = backend.cached_compile(key, lambda: lambda p, x, *c: upscale_with(p, x, int(scale), compute_dtype, *c))
    codes = [] if code is None else [ops.convert_to_tensor(code, "float32")]
    return fn([_as_tensor(p) for p in params], ops.convert_to_tensor(lr, "float32"), *codes)
