"""Zero-shot adaptation: n gradient-descent steps of L1(f(ILR(son)), LR) on fast weights.

The same functions serve meta-training (called under the outer gradient, with
second-order terms kept) and test time (Algorithm 2).
"""
from keras import ops

from . import backend
from .degrade import degrade
from .model import forward
from .resize import imresize

# Reference step sizes by model (steps counted from 0): (first, then, for how many, after).
STEP_SIZES = {
    ("direct", 2): (0.02, 0.01, 3, 0.005),
    ("bicubic", 2): (0.01, 0.01, 2, 0.001),
    ("direct", 4): (0.01, 0.005, 4, 0.001),
    ("bicubic", 4): (0.01, 0.005, 4, 0.001),
    ("multi", 0): (0.01, 0.01, 2, 0.005),
}


def step_size_schedule(n, subsampling="direct", scale=2):
    """The reference test-time step size for each of ``n`` steps, as a list of floats."""
    first, then, count, after = STEP_SIZES.get((subsampling, scale), STEP_SIZES[("multi", 0)])
    return [first if i == 0 else then if i <= count else after for i in range(n)]


def l1_loss(params, x, y, compute_dtype=None):
    return ops.mean(ops.abs(forward(params, x, compute_dtype) - y))


def sgd_step(params, x, y, lr, first_order=False, compute_dtype=None):
    """One plain gradient step on L1(forward(params, x), y); returns (loss, new params).

    Args:
      lr: one step size, or a sequence with one per tensor (Meta-SGD style).
    """
    loss, grads = backend.value_and_grad(l1_loss, params, x, y, compute_dtype)
    if first_order:
        grads = [backend.stop_gradient(g) for g in grads]
    lrs = lr if isinstance(lr, (list, tuple)) else [lr] * len(params)
    return loss, [p - a * g for p, a, g in zip(params, lrs, grads)]


def adapt_trajectory(params, x, y, step_sizes, first_order=False, compute_dtype=None):
    """Runs len(step_sizes) gradient steps and returns every intermediate fast weight.

    Args:
      params: list of tensors (the initial weights θ).
      x: ILR input batch the inner loss sees.
      y: target batch (same spatial size as x).
      step_sizes: one step size per step (floats or scalar tensors, or per-tensor lists).
      first_order: drop second-order terms (the gradient is a constant to the outer loop).

    Returns:
      (losses, trajectory): the inner loss before each step, and [θ_1, ..., θ_n].
    """
    losses, traj = [], []
    for lr in step_sizes:
        loss, params = sgd_step(params, x, y, lr, first_order, compute_dtype)
        losses.append(loss)
        traj.append(params)
    return losses, traj


def adapt(params, x, y, step_sizes, first_order=False, compute_dtype=None):
    """The fast weights after len(step_sizes) gradient steps (θ itself for none)."""
    _, traj = adapt_trajectory(params, x, y, step_sizes, first_order, compute_dtype)
    return traj[-1] if traj else list(params)


def make_son(lr, scale, kernel=None, subsampling="direct"):
    """The 'LR son' of an LR image: the same degradation applied once more."""
    return degrade(lr, scale, kernel=kernel, subsampling=subsampling)


def _zero_shot(params, lr, kernel, step_sizes, scale, subsampling, compute_dtype=None):
    son = make_son(lr, scale, kernel, subsampling)
    son_ilr = imresize(son, float(scale), out_hw=(ops.shape(lr)[1], ops.shape(lr)[2]))
    fast = adapt(params, son_ilr, lr, step_sizes, compute_dtype=compute_dtype)
    ilr = imresize(lr, float(scale))
    return ops.clip(forward(fast, ilr, compute_dtype), 0.0, 1.0)


_compiled = {}


def _as_tensor(p):
    """A float32 tensor holding the value of ``p`` (tensor, array or variable)."""
    if backend.NAME == "tensorflow":
        p = backend.tf.convert_to_tensor(p)  # reads a variable; keras' convert passes it through
    return ops.cast(ops.convert_to_tensor(p), "float32")


def zero_shot_sr(params, lr, scale, kernel=None, subsampling="direct", step_sizes=(), compute_dtype=None):
    """Algorithm 2: adapt on (ILR(son) → LR), then super-resolve LR.

    Args:
      params: list of weight tensors (meta-learned θ).
      lr: float tensor [1, H, W, 3] in [0, 1].
      scale: integer scale.
      kernel: [k, k] blur kernel of the LR image, or None for no blur.
      subsampling: 'direct' or 'bicubic'.
      step_sizes: tuple of per-step sizes; its length is the number of steps.
      compute_dtype: None (float32) or 'bfloat16': convolutions of the
        adaptation and of the upscaling in bfloat16 with float32 weights,
        about 2x faster on CPUs with bf16 units (see ``model.forward``).

    Returns:
      SR tensor [1, s·H, s·W, 3] clipped to [0, 1].
    """
    step_sizes = tuple(float(a) for a in step_sizes)
    has_kernel = kernel is not None
    key = (scale, subsampling, step_sizes, has_kernel) + ((compute_dtype,) if compute_dtype else ())
    fn = _compiled.get(key)
    if fn is None:
        def run(params, lr, kernel):
            return _zero_shot(params, lr, kernel if has_kernel else None, step_sizes, scale, subsampling,
                              compute_dtype)

        fn = _compiled[key] = backend.compile_fn(run)
    k = ops.convert_to_tensor(kernel, "float32") if has_kernel else ops.zeros((1, 1))
    # Plain float32 tensors whatever the caller passes (get_params gives tf.Variables, users
    # NumPy arrays): each kind of argument would otherwise trace and compile the whole
    # adaptation graph once more, seconds per kind.
    params = [_as_tensor(p) for p in params]
    return fn(params, ops.convert_to_tensor(lr, "float32"), k)
