"""The gradient-path calibration: its choice rule, its cache, its overrides, and that every path computes the same."""
import json
import os

import numpy as np
import pytest

from mzsr_tf import backend
from mzsr_tf.errors import InputError
from mzsr_tf.speed import calibrate

pytestmark = pytest.mark.skipif(backend.NAME != "tensorflow", reason="the gradient paths are TensorFlow's")


@pytest.fixture
def clean(monkeypatch, tmp_path):
    """An empty cache directory, no environment override, and the backend's choice reset before and after."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.delenv(calibrate.ENV_CONV_GRAD, raising=False)
    backend.set_conv_grad(None)
    yield tmp_path
    backend.set_conv_grad(None)


def _record(choice, key=None):
    return {"version": calibrate.VERSION, "key": key or calibrate.machine_key(), "choice": choice,
            "timings_ms": {"tf": [50.0, 51.0], "custom": [62.0, 61.5]}, "side": 256, "channels": 64,
            "seconds": 0.9, "measured_at": "2026-01-01T00:00:00+00:00"}


# ------------------------------------------------------------------ the choice rule, on fake timings


@pytest.mark.parametrize("timings, want", [
    ({"tf": [0.050, 0.060], "custom": [0.040, 0.070]}, "custom"),  # 20 % faster at best
    ({"tf": [0.050], "custom": [0.0490]}, "tf"),  # 2 %: within the tie, TF's kernels stay
    ({"tf": [0.050, 0.400], "custom": [0.060, 0.060]}, "tf"),  # one disturbed run does not decide
    ({"tf": [0.100, 0.100], "custom": [0.120, 0.050]}, "custom"),  # the best run counts, not the mean
    ({"custom": [0.2]}, "custom"),
])
def test_choose_takes_the_clearly_fastest_best_run(timings, want):
    assert calibrate.choose(timings) == want


def test_choose_tie_is_a_fraction_of_tfs_time():
    timings = {"tf": [1.0], "custom": [0.95]}
    assert calibrate.choose(timings, tie=0.03) == "custom"
    assert calibrate.choose(timings, tie=0.10) == "tf"


def test_choose_refuses_no_timings():
    with pytest.raises(ValueError):
        calibrate.choose({"tf": [], "custom": []})


# ------------------------------------------------------------------ overrides and the cache


@pytest.mark.parametrize("value, want", [("tf", "tf"), ("CUSTOM", "custom"), (" custom ", "custom"),
                                         ("auto", None), ("", None)])
def test_env_choice_reads_the_variable(value, want):
    assert calibrate.env_choice({calibrate.ENV_CONV_GRAD: value}) == want
    assert calibrate.env_choice({}) is None


def test_bad_env_value_is_one_input_error():
    with pytest.raises(InputError, match="MZSR_TF_CONV_GRAD must be one of tf, custom or auto, got 'fast'"):
        calibrate.env_choice({calibrate.ENV_CONV_GRAD: "fast"})


def test_cache_dir_follows_xdg():
    assert calibrate.cache_dir({"XDG_CACHE_HOME": "/x/cache"}) == "/x/cache/mzsr-tf"
    assert calibrate.cache_dir({}) == os.path.join(os.path.expanduser("~"), ".cache", "mzsr-tf")


def test_cache_key_names_cpu_cores_tensorflow_and_onednn(monkeypatch):
    import tensorflow as tf

    key = calibrate.machine_key()
    assert key["tensorflow"] == tf.__version__ and key["cores"] >= 1 and key["cpu"]
    other = dict(key, cores=key["cores"] + 1)
    assert calibrate.cache_path(key) != calibrate.cache_path(other)
    monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", "0")
    assert calibrate.machine_key()["onednn"] == "0"


def test_cache_round_trip_and_rejections(clean):
    key = calibrate.machine_key()
    path = calibrate.cache_path(key)
    assert calibrate.load(path, key) is None  # nothing yet
    assert calibrate.save(path, _record("custom", key))
    assert calibrate.load(path, key)["choice"] == "custom"
    assert calibrate.load(path, dict(key, tensorflow="0.0")) is None  # another TF version measures again
    for bad in ("{not json", json.dumps([1, 2]), json.dumps(dict(_record("custom", key), choice="fastest")),
                json.dumps(dict(_record("custom", key), version=calibrate.VERSION + 1))):
        with open(path, "w") as f:
            f.write(bad)
        assert calibrate.load(path, key) is None


def test_corrupt_cache_is_measured_again_and_rewritten(clean):
    """A real (short) calibration replaces a corrupt file; the next resolve reads the new record."""
    key = calibrate.machine_key()
    path = calibrate.cache_path(key)
    os.makedirs(os.path.dirname(path))
    with open(path, "w") as f:
        f.write("\x00garbage")
    choice, source = calibrate.resolve()
    assert source == "measured" and choice in calibrate.CANDIDATES
    record = calibrate.load(path, key)
    assert record["choice"] == choice
    assert set(record["timings_ms"]) == set(calibrate.CANDIDATES)
    assert all(len(v) >= calibrate.MIN_ROUNDS for v in record["timings_ms"].values())
    assert calibrate.resolve() == (choice, "cache")


def test_unwritable_cache_still_chooses(clean):
    blocker = clean / "mzsr-tf"
    blocker.write_text("a file where the folder should be")
    assert not calibrate.save(calibrate.cache_path(calibrate.machine_key()), _record("tf"))


def test_precedence_forced_set_environment_cache(clean, monkeypatch):
    key = calibrate.machine_key()
    calibrate.save(calibrate.cache_path(key), _record("custom", key))
    assert calibrate.resolve(measure_if_missing=False) == ("custom", "cache")
    assert backend.conv_grad() == "custom"
    monkeypatch.setenv(calibrate.ENV_CONV_GRAD, "tf")
    backend.set_conv_grad(None)  # forget the resolved choice: the environment now beats the cache
    assert calibrate.resolve() == ("tf", "environment") and backend.conv_grad() == "tf"
    backend.set_conv_grad("custom")  # Python beats the environment
    assert backend.conv_grad() == "custom"
    with backend.conv_grad_forced("tf"):
        assert backend.conv_grad() == "tf"
    assert backend.conv_grad() == "custom"


def test_no_cache_without_measuring_falls_back_to_tf(clean):
    assert calibrate.resolve(measure_if_missing=False) == ("tf", "fallback")


def test_set_conv_grad_refuses_unknown_paths(clean):
    with pytest.raises(InputError, match="conv grad path"):
        backend.set_conv_grad("xla")


def test_bad_env_value_at_the_command_line_is_one_line(clean, monkeypatch, capsys, png_file, tmp_path):
    from mzsr_tf.cli import main

    monkeypatch.setenv(calibrate.ENV_CONV_GRAD, "fastest")
    code = main(["upscale", png_file, str(tmp_path / "sr.png"), "--steps", "1", "--kernel", "g2.0"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.strip() == ("error: MZSR_TF_CONV_GRAD must be one of tf, custom or auto, got 'fastest'")


# ------------------------------------------------------------------ every path computes the same


def _graph_ops(fn, *args):
    """Op types of a traced function, the bodies of its loops and gradients included."""
    graph = fn.get_concrete_function(*args).graph.as_graph_def()
    ops = {n.op for n in graph.node}
    for f in graph.library.function:
        ops |= {n.op for n in f.node_def}
    return ops


def test_every_path_adapts_to_the_same_output(clean):
    """Algorithm 2 (3 steps, the shipped weights) on one image under each path: equal to 1e-5, and the paths differ."""
    import tensorflow as tf

    from mzsr_tf import adapt
    from mzsr_tf.kernels import named_kernel
    from mzsr_tf.methods import load_params

    params, _ = load_params("mzsr_direct_x2", 2, "direct")
    rng = np.random.default_rng(5)
    lr = np.clip(np.kron(rng.random((6, 5, 3)), np.ones((6, 6, 1))) + rng.normal(0, 0.02, (36, 30, 3)), 0, 1)
    lr = lr[None].astype(np.float32)
    sizes = [0.02, 0.01, 0.01]
    out, graph_ops = {}, {}
    for path in calibrate.CANDIDATES:
        backend.set_conv_grad(path)
        out[path] = np.asarray(adapt.zero_shot_sr(params, lr, 2, named_kernel("g2.0"), "direct", sizes))
        step = tf.function(lambda p, x, y: adapt.sgd_step(p, x, y, 0.01)[1])
        spec = ([tf.TensorSpec(p.shape) for p in params], tf.TensorSpec([None] * 4), tf.TensorSpec([None] * 4))
        graph_ops[path] = _graph_ops(step, *spec)
    assert "Conv2DBackpropFilter" in graph_ops["tf"] and "Conv2DBackpropFilter" not in graph_ops["custom"]
    assert "MatMul" in graph_ops["custom"]
    assert np.abs(out["tf"] - out["custom"]).max() < 1e-5
    assert np.abs(out["tf"] - lr.repeat(2, 1).repeat(2, 2)).max() > 1e-2  # a real SR image, not a copy


def test_calibration_candidates_compute_the_same_gradients(clean):
    fns = calibrate._layer_gradients(24, 8)
    got = {name: fn() for name, fn in fns.items()}
    for a, b in zip(got["tf"], got["custom"]):
        assert np.abs(a - b).max() <= 1e-5 * max(1.0, np.abs(a).max())


@pytest.mark.parametrize("busy_record, load_now, want", [(True, 0.0, "measured"), (True, 1e6, "cache"),
                                                         (False, 0.0, "cache")])
def test_busy_measurement_is_redone_on_a_quiet_machine(clean, busy_record, load_now, want):
    key = calibrate.machine_key()
    path = calibrate.cache_path(key)
    calibrate.save(path, dict(_record("custom", key), busy=busy_record))
    assert calibrate.resolve(load_now=load_now)[1] == want
    if want == "measured":
        assert "load" in calibrate.load(path, key)


def test_busy_means_more_load_than_cores():
    from mzsr_tf.speed import cpu

    n = cpu.core_count()
    assert calibrate.busy(n + 0.5) and not calibrate.busy(n - 0.5) and not calibrate.busy(None)


def test_first_trace_inside_a_graph_calibrates_and_keeps_its_gradient(clean):
    """Resolving while another function is being traced (SavedModel export) leaves that trace's gradient intact."""
    import tensorflow as tf

    @tf.function(input_signature=[tf.TensorSpec([None] * 4), tf.TensorSpec([3, 3, 2, 3])])
    def grad(x, w):
        with tf.GradientTape() as tape:
            tape.watch(w)
            loss = tf.reduce_sum(backend.conv_same(x, w) ** 2)
        return tape.gradient(loss, w)

    x, w = tf.ones([1, 6, 5, 2]), tf.fill([3, 3, 2, 3], 0.1)
    got = grad(x, w)
    assert calibrate.cached_record() is not None  # measured inside the trace, in its own thread
    with tf.GradientTape() as tape:
        tape.watch(w)
        loss = tf.reduce_sum(tf.nn.conv2d(x, w, 1, "SAME") ** 2)
    np.testing.assert_allclose(got, tape.gradient(loss, w), rtol=1e-5)
