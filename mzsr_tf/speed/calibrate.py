"""The convolution gradient path of the adaptation step, chosen by measurement on this machine.

Two paths compute the same gradients (:func:`mzsr_tf.backend.conv_same`):
``tf``, TensorFlow's own ``Conv2DBackpropInput``/``Conv2DBackpropFilter``
kernels (oneDNN where TensorFlow enables it), and ``custom``, the input
gradient as a convolution with the flipped kernel and the kernel gradient as
k² matrix products. Which is faster depends on the CPU: on an AVX2-only CPU
``custom`` took 0.5x (kernel) and 0.3x (input gradient) of TensorFlow's time,
on an AVX-512 EPYC with oneDNN 1.38x and 1.20x. So the first adaptation on a
machine times both on one 64→64 layer of a 256×256 image (about 1 s) and
caches the faster, per CPU model, core count, TensorFlow version and oneDNN
setting, in ``$XDG_CACHE_HOME/mzsr-tf`` (``~/.cache/mzsr-tf``).

Precedence: :func:`mzsr_tf.backend.set_conv_grad` from Python, then the
environment variable ``MZSR_TF_CONV_GRAD`` (``tf``, ``custom`` or ``auto``),
then the cache, then a new measurement. XLA (``jit_compile=True``) was timed
too and left out: 2x slower than either path on the EPYC (see docs/speed.md).
"""
import datetime
import hashlib
import json
import os
import tempfile
import time

from . import cpu, env_setting

ENV_CONV_GRAD = "MZSR_TF_CONV_GRAD"
CANDIDATES = ("tf", "custom")
SIDE = 256  # where the paths part: at 128-192 px they tie on the EPYC, at 256 TF's kernels win by 20 %
CHANNELS = 64  # the network's hidden width: 6 of its 8 layers, 98 % of its arithmetic
BUDGET_S = 1.5  # no new round after this (traces and first calls included); a quiet machine ends near 1.5 s
MIN_ROUNDS, MAX_ROUNDS = 2, 7
# Within this fraction TF's kernels are kept: their graph traces 3-5x faster than the
# custom gradient's (k² matrix products per layer), and batches use them anyway.
TIE = 0.03
VERSION = 1  # of the cache record; a record of another version is measured again


def env_choice(environ=None):
    """The path ``MZSR_TF_CONV_GRAD`` names, or None for 'auto' / unset; InputError for any other value."""
    return env_setting(ENV_CONV_GRAD, CANDIDATES, environ)


def cache_dir(environ=None):
    """``$XDG_CACHE_HOME/mzsr-tf``, else ``~/.cache/mzsr-tf`` (the XDG base directory rule)."""
    environ = os.environ if environ is None else environ
    base = environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "mzsr-tf")


def machine_key():
    """What the measurement holds for: CPU model, cores, TensorFlow version, oneDNN setting."""
    import tensorflow as tf

    return {"cpu": cpu.cpu_model(), "cores": cpu.core_count(), "tensorflow": tf.__version__,
            "onednn": os.environ.get("TF_ENABLE_ONEDNN_OPTS", "default")}


def cache_path(key, environ=None):
    """The cache file for one machine key (a hash of it, so any CPU name makes a valid file name)."""
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    return os.path.join(cache_dir(environ), f"conv_grad-{digest}.json")


def load(path, key):
    """The cached record for ``key``, or None when missing, unreadable, corrupt or for another key."""
    try:
        with open(path) as f:
            record = json.load(f)
    except (OSError, ValueError):
        return None
    ok = (isinstance(record, dict) and record.get("version") == VERSION and record.get("key") == key
          and record.get("choice") in CANDIDATES)
    return record if ok else None


def save(path, record):
    """Writes the record atomically (a crash mid-write leaves the old file); False if it cannot be written."""
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), suffix=".tmp")
        with os.fdopen(fd, "w") as f:
            json.dump(record, f, indent=1)
        os.replace(tmp, path)
        return True
    except OSError:  # a read-only home: the choice still holds for this process
        return False


def choose(timings, tie=TIE):
    """The candidate with the smallest best time; ``tf`` unless another beats it by more than ``tie``.

    Args:
      timings: {candidate: [seconds of each timed run]}; the minimum of each
        list counts (the run least disturbed by other work on the machine).
      tie: fraction within which ``tf`` is kept.
    """
    best = {name: min(ts) for name, ts in timings.items() if ts}
    if not best:
        raise ValueError("no timings to choose from")
    fastest = min(best, key=best.get)
    if "tf" in best and best[fastest] >= best["tf"] * (1.0 - tie):
        return "tf"
    return fastest


def _layer_gradients(side, channels, seed=0):
    """{candidate: zero-argument compiled function}: one layer's input and kernel gradients."""
    import numpy as np
    import tensorflow as tf

    from .. import backend

    rng = np.random.default_rng(seed)
    x, dy = (tf.constant(rng.standard_normal((1, side, side, channels)), tf.float32) for _ in range(2))
    w = tf.constant(rng.standard_normal((3, 3, channels, channels)) * 0.05, tf.float32)
    # Shapes open as in the adaptation's graph (backend.cached_compile), where the path applies.
    spec = [tf.TensorSpec([None] * 4), tf.TensorSpec(w.shape), tf.TensorSpec([None] * 4)]
    fns = {}
    for name in CANDIDATES:
        with backend.conv_grad_forced(name):
            def grads(a, k, g):
                with tf.GradientTape() as tape:
                    tape.watch([a, k])
                    y = backend.conv_same(a, k)
                return tape.gradient(y, [a, k], output_gradients=g)

            fn = tf.function(grads, input_signature=spec)
            fn.get_concrete_function()  # traced now, inside the forced path
        fns[name] = (lambda f: lambda: [t.numpy() for t in f(x, w, dy)])(fn)
    return fns


def measure(side=SIDE, channels=CHANNELS, budget_s=BUDGET_S):
    """Times every candidate, interleaved round by round, until ``budget_s`` (at least MIN_ROUNDS rounds).

    Returns:
      {candidate: [seconds per run]}, the untimed first call of each excluded.
    """
    start = time.perf_counter()
    fns = _layer_gradients(side, channels)
    for fn in fns.values():
        fn()
    timings = {name: [] for name in fns}
    for r in range(MAX_ROUNDS):
        if r >= MIN_ROUNDS and time.perf_counter() - start > budget_s:
            break
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            timings[name].append(time.perf_counter() - t0)
    return timings


def load_average():
    """The 1-minute load average, or None where the system does not report one."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return None


def busy(load):
    """More runnable work than cores: timings then say more about the neighbours than about the CPU."""
    return load is not None and load > cpu.core_count()


def calibrate(path=None, key=None):
    """Measures, chooses, caches; returns the record (choice, timings in ms, key, load, when, how long)."""
    key = key or machine_key()
    t0 = time.perf_counter()
    timings = measure()
    load_now = load_average()
    record = {"version": VERSION, "key": key, "choice": choose(timings), "side": SIDE, "channels": CHANNELS,
              "timings_ms": {k: [round(1000 * t, 2) for t in v] for k, v in timings.items()},
              "seconds": round(time.perf_counter() - t0, 3), "load": load_now, "busy": busy(load_now),
              "measured_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}
    record["cached"] = save(path or cache_path(key), record)
    return record


def resolve(measure_if_missing=True, environ=None, load_now=None):
    """(choice, source) by precedence: the environment, the cache, a new measurement.

    A choice measured on a busy machine (load above the core count) is used
    until a process starts on a quiet one, which measures again: on a busy
    machine fewer rounds fit in the budget and the neighbours' bursts land on
    one candidate's runs more than the other's.

    Args:
      measure_if_missing: calibrate when nothing is cached; else fall back to ``tf``.
      environ: a mapping in place of ``os.environ`` (tests).
      load_now: the load average to judge a busy record by (read when None).

    Returns:
      (path name, one of 'environment', 'cache', 'measured', 'fallback').
    """
    forced = env_choice(environ)
    if forced:
        return forced, "environment"
    key = machine_key()
    path = cache_path(key, environ)
    record = load(path, key)
    quiet_now = not busy(load_average() if load_now is None else load_now)
    if record and not (record.get("busy") and quiet_now and measure_if_missing):
        return record["choice"], "cache"
    if not measure_if_missing:
        return "tf", "fallback"
    return calibrate(path, key)["choice"], "measured"


def cached_record(environ=None):
    """The cached record for this machine, or None (for ``mzsr-tf info``; measures nothing)."""
    key = machine_key()
    return load(cache_path(key, environ), key)
