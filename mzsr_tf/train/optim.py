"""Functional Adam: state is plain tensors, so it checkpoints as arrays under any backend."""
from keras import ops


def adam_init(params):
    zeros = [ops.zeros_like(p) for p in params]
    return {"m": zeros, "v": [ops.zeros_like(p) for p in params], "t": ops.zeros((), "float32")}


def adam_update(params, grads, state, rate, b1=0.9, b2=0.999, eps=1e-8):
    """One Adam step; returns (new params, new state). ``rate`` (the learning rate) may be a tensor."""
    t = state["t"] + 1.0
    m = [b1 * m + (1.0 - b1) * g for m, g in zip(state["m"], grads)]
    v = [b2 * v + (1.0 - b2) * g * g for v, g in zip(state["v"], grads)]
    corr = rate * ops.sqrt(1.0 - b2**t) / (1.0 - b1**t)
    new = [p - corr * mi / (ops.sqrt(vi) + eps) for p, mi, vi in zip(params, m, v)]
    return new, {"m": m, "v": v, "t": t}
