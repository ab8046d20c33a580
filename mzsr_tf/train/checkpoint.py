"""One checkpoint format both backends read: a NumPy ``.npz``.

It holds the stage, step, model weights, optimizer state, the data position
and the resolved config (YAML). Writes are atomic (temp file + rename), so a
``kill -9`` at any moment leaves the previous checkpoint intact.
"""
import os

import numpy as np
from keras import ops


def _np(x):
    return np.asarray(ops.convert_to_numpy(x))


def save(path, *, stage, step, params, opt_state, extra=None, config_yaml="", clock=(0.0, 0.0)):
    """Writes a checkpoint atomically.

    Args:
      path: target ``.npz`` path.
      stage: 'pretrain' or 'meta'.
      step: number of completed steps (the data position: batches are a pure
        function of (seed, step), so this is the whole data state).
      params: list of model tensors.
      opt_state: Adam state dict {'m', 'v', 't'}.
      extra: dict of additional named lists of tensors (e.g. learnable step sizes).
      config_yaml: the resolved config.
      clock: (CPU seconds, wall seconds) spent on this stage so far, over all sessions.
    """
    arrays = {"stage": np.asarray(stage), "step": np.asarray(step, np.int64), "config": np.asarray(config_yaml),
              "clock": np.asarray(clock, np.float64)}
    for i, p in enumerate(params):
        arrays[f"param/{i}"] = _np(p)
    for i, (m, v) in enumerate(zip(opt_state["m"], opt_state["v"])):
        arrays[f"adam_m/{i}"] = _np(m)
        arrays[f"adam_v/{i}"] = _np(v)
    arrays["adam_t"] = _np(opt_state["t"])
    for name, values in (extra or {}).items():
        for i, v in enumerate(values):
            arrays[f"extra/{name}/{i}"] = _np(v)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "wb") as f:
        np.savez(f, **arrays)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def load(path):
    """Reads a checkpoint into plain NumPy: dict with stage, step, params, opt_state, extra, config."""
    with np.load(path, allow_pickle=False) as z:
        files = set(z.files)

        def seq(prefix):
            out, i = [], 0
            while f"{prefix}/{i}" in files:
                out.append(z[f"{prefix}/{i}"])
                i += 1
            return out

        extra = {}
        for key in files:
            if key.startswith("extra/"):
                extra.setdefault(key.split("/")[1], None)
        return {
            "stage": str(z["stage"]),
            "step": int(z["step"]),
            "config": str(z["config"]),
            "clock": tuple(float(c) for c in z["clock"]) if "clock" in files else (0.0, 0.0),
            "params": seq("param"),
            "opt_state": {"m": seq("adam_m"), "v": seq("adam_v"), "t": z["adam_t"]},
            "extra": {name: seq(f"extra/{name}") for name in extra},
        }
