"""The serving SavedModel: export command, signatures, round trip in a fresh process,
saved_model_cli, the TF Serving client's requests, and bad requests.

One small model (random weights, 24×24 images) is exported once per module.
"""
import base64
import importlib.util
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import tensorflow as tf  # noqa: E402

from mzsr_tf import export, serve as serving  # noqa: E402
from mzsr_tf.adapt import step_size_schedule, zero_shot_sr  # noqa: E402
from mzsr_tf.degrade import degrade  # noqa: E402
from mzsr_tf.kernels import named_kernel  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MAX_STEPS = 12
MAX_PIXELS = 64 * 64
KERNEL = named_kernel("g2.0", 7)
ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")


def _client():
    spec = importlib.util.spec_from_file_location("mzsr_serving_client", os.path.join(ROOT, "export", "client.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


client = _client()


def _psnr(a, b):
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return 10 * np.log10(255.0**2 / mse)


@pytest.fixture(scope="module")
def hr():
    """A 48×48 HR test image (smooth shapes, seeded noise)."""
    y, x = np.mgrid[0:48, 0:48].astype(np.float64)
    img = np.stack([128 + 90 * np.sin(x / 5.0), 128 + 90 * np.cos(y / 7.0), 2.5 * (x + y)], -1)
    img += np.random.default_rng(1).normal(0, 6, img.shape)
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def lr(hr):
    """The HR image degraded with g^d_2.0 ×2: uint8 [1, 24, 24, 3]."""
    out = degrade(hr[None].astype(np.float32) / 255.0, 2, KERNEL, "direct", round_uint8=True)
    return np.round(np.asarray(out) * 255.0).astype(np.uint8)


@pytest.fixture(scope="module")
def exported(tmp_path_factory, weights_file):
    out = tmp_path_factory.mktemp("serving") / "mzsr" / "1"
    onnx_path = out.parent.parent / "mzsr.onnx"
    rc = export.main(["--out", str(out), "--weights", weights_file, "--max-steps", str(MAX_STEPS),
                      "--max-pixels", str(MAX_PIXELS), "--onnx", str(onnx_path)])
    assert rc == 0
    return str(out), str(onnx_path)


@pytest.fixture(scope="module")
def loaded(exported):
    return tf.saved_model.load(exported[0])


@pytest.fixture(scope="module")
def params(weights_file):
    from mzsr_tf.weights import load_model

    return [v.numpy() for v in load_model(weights_file).trainable_variables]


def _python_path(params, lr_uint8, steps, kernel=KERNEL):
    """The Python path: adapt.zero_shot_sr with the same weights, kernel and step sizes, uint8."""
    sr = zero_shot_sr(params, lr_uint8.astype(np.float32) / 255.0, 2, kernel, "direct",
                      step_size_schedule(steps, "direct", 2))
    return np.round(np.clip(np.asarray(sr), 0, 1) * 255.0).astype(np.uint8)


def _call(sig, **inputs):
    return sig(**{k: tf.constant(v) for k, v in inputs.items()})


# ------------------------------------------------------------------ export


def test_export_writes_savedmodel_metadata_and_onnx(exported, processes):
    out, onnx_path = exported
    assert os.path.isfile(os.path.join(out, "saved_model.pb"))
    assert os.path.isfile(onnx_path)
    meta = serving.read_metadata(out)
    assert meta["scale"] == 2 and meta["subsampling"] == "direct"
    assert meta["max_steps"] == MAX_STEPS and meta["max_pixels"] == MAX_PIXELS and meta["min_side"] == 16
    assert meta["step_sizes"] == pytest.approx(step_size_schedule(MAX_STEPS, "direct", 2))
    assert meta["weights"] == "w.weights.h5"
    assert sorted(meta["signatures"]) == sorted(serving.SIGNATURE_NAMES)


def test_export_refuses_bad_arguments(tmp_path, weights_file, capsys):
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "x").write_text("x")
    assert export.main(["--out", str(busy), "--weights", weights_file]) == 2
    assert "not empty" in capsys.readouterr().err
    assert export.main(["--out", str(tmp_path / "a"), "--weights", str(tmp_path / "missing.weights.h5")]) == 2
    assert "not found" in capsys.readouterr().err
    assert export.main(["--out", str(tmp_path / "b"), "--weights", weights_file, "--opset", "13"]) == 2
    assert "opset" in capsys.readouterr().err
    assert export.main(["--out", str(tmp_path / "c"), "--weights", weights_file, "--max-steps", "-1"]) == 2
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_signature_names_and_shapes(loaded):
    sigs = loaded.signatures
    assert set(serving.SIGNATURE_NAMES) <= set(sigs)

    def spec(name):
        _, kw = sigs[name].structured_input_signature
        return {k: (v.dtype, v.shape.as_list()) for k, v in kw.items()}

    def outs(name):
        return {k: (v.dtype, v.shape.as_list()) for k, v in sigs[name].structured_outputs.items()}

    image = (tf.uint8, [1, None, None, 3])
    assert spec("serving_default") == {"image": image, "kernel": (tf.float32, [None, None]),
                                       "steps": (tf.int32, [])}
    assert spec("upscale") == {"image": image}
    assert spec("adapt_encoded") == {"image_bytes": (tf.string, []), "kernel": (tf.float32, [None, None]),
                                     "steps": (tf.int32, [])}
    assert spec("upscale_encoded") == {"image_bytes": (tf.string, [])}
    for name in ("serving_default", "upscale"):
        assert outs(name) == {"sr": (tf.uint8, [1, None, None, 3])}
    for name in ("adapt_encoded", "upscale_encoded"):
        assert outs(name) == {"sr_png_bytes": (tf.string, [])}
    meta = json.loads(loaded.metadata_json.numpy().decode())
    assert meta["max_steps"] == MAX_STEPS


# -------------------------------------------------------------- round trip

FRESH = textwrap.dedent(
    """
    import sys, numpy as np, tensorflow as tf
    model_dir, lr_path, k_path, out_path = sys.argv[1:5]
    m = tf.saved_model.load(model_dir)
    lr, k = np.load(lr_path), np.load(k_path)
    out = {}
    for steps in (0, 3):
        out[f"adapt{steps}"] = m.signatures["serving_default"](
            image=tf.constant(lr), kernel=tf.constant(k), steps=tf.constant(steps, tf.int32))["sr"].numpy()
    out["upscale"] = m.signatures["upscale"](image=tf.constant(lr))["sr"].numpy()
    png = tf.io.encode_png(lr[0])
    out["encoded3"] = tf.io.decode_png(m.signatures["adapt_encoded"](
        image_bytes=png, kernel=tf.constant(k), steps=tf.constant(3, tf.int32))["sr_png_bytes"]).numpy()
    out["mzsr_tf_imported"] = np.array(any(n == "mzsr_tf" or n.startswith("mzsr_tf.") for n in sys.modules))
    np.savez(out_path, **out)
    """
)


@pytest.fixture(scope="module")
def processes(exported, lr, tmp_path_factory):
    """Starts, side by side, the processes that only import TensorFlow: the fresh-process
    round trip, ``saved_model_cli show --all`` and ``saved_model_cli run``."""
    d = tmp_path_factory.mktemp("processes")
    np.save(d / "image.npy", lr)
    np.save(d / "kernel.npy", KERNEL)
    np.save(d / "steps.npy", np.int32(2))
    (d / "fresh.py").write_text(FRESH)
    cli = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")
    commands = {
        "fresh": [sys.executable, str(d / "fresh.py"), exported[0], str(d / "image.npy"), str(d / "kernel.npy"),
                  str(d / "out.npz")],
        "show": [cli, "show", "--dir", exported[0], "--all"],
        "run": [cli, "run", "--dir", exported[0], "--tag_set", "serve", "--signature_def", "serving_default",
                "--inputs", f"image={d / 'image.npy'};kernel={d / 'kernel.npy'};steps={d / 'steps.npy'}",
                "--outdir", str(d / "cli")],
    }
    if not os.path.exists(cli):
        commands.pop("show"), commands.pop("run")
    procs = {k: subprocess.Popen(c, env=ENV, cwd=str(d), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for k, c in commands.items()}
    results = {}

    def result(name):
        if name not in procs:
            pytest.skip("saved_model_cli not installed next to this Python")
        if name not in results:
            out, err = procs[name].communicate(timeout=600)
            results[name] = (procs[name].returncode, out, err)
        return results[name]

    result.dir = d
    yield result
    for p in procs.values():
        if p.poll() is None:
            p.kill()
            p.wait()


def test_round_trip_in_a_fresh_tensorflow_only_process(processes, params, lr, hr):
    rc, _, err = processes("fresh")
    assert rc == 0, err[-3000:]
    got = np.load(processes.dir / "out.npz")
    assert not bool(got["mzsr_tf_imported"])
    for steps in (0, 3):
        served, ref = got[f"adapt{steps}"], _python_path(params, lr, steps)
        assert served.shape == ref.shape == (1, 48, 48, 3) and served.dtype == np.uint8
        assert np.abs(served.astype(int) - ref.astype(int)).max() <= 1
        assert abs(_psnr(served[0], hr) - _psnr(ref[0], hr)) < 0.01
    np.testing.assert_array_equal(got["upscale"], got["adapt0"])
    np.testing.assert_array_equal(got["encoded3"], got["adapt3"][0])


def test_same_result_as_the_python_api(loaded, weights_file, lr, hr):
    import mzsr_tf

    ref = mzsr_tf.upscale(lr[0], scale=2, kernel=KERNEL, steps=3, subsampling="direct", weights=weights_file)
    served = _call(loaded.signatures["serving_default"], image=lr, kernel=KERNEL, steps=np.int32(3))["sr"].numpy()
    assert np.abs(served[0].astype(int) - ref.astype(int)).max() <= 1
    assert abs(_psnr(served[0], hr) - _psnr(ref, hr)) < 0.01


def test_saved_model_cli_show_all_lists_the_signatures(processes):
    rc, out, err = processes("show")
    assert rc == 0, err[-2000:]
    for name in serving.SIGNATURE_NAMES:
        assert f"signature_def['{name}']" in out
    default = out[out.index("signature_def['serving_default']"):]
    default = default[:default.index("Method name is")]
    assert "inputs['image']" in default and "DT_UINT8" in default and "shape: (1, -1, -1, 3)" in default
    assert "inputs['kernel']" in default and "shape: (-1, -1)" in default
    assert "inputs['steps']" in default and "DT_INT32" in default and "outputs['sr']" in default


def test_saved_model_cli_run_serving_default(processes, params, lr):
    rc, _, err = processes("run")
    assert rc == 0, err[-2000:]
    sr = np.load(processes.dir / "cli" / "sr.npy")
    assert np.abs(sr.astype(int) - _python_path(params, lr, 2).astype(int)).max() <= 1


# ------------------------------------------------------------------ client


def _as_tf_serving_would(body, signature):
    """A REST body -> the tensors TF Serving feeds: JSON values cast to the signature's dtypes,
    {"b64": ...} decoded to bytes (columnar "inputs" format)."""
    _, specs = signature.structured_input_signature
    feeds = {}
    for name, value in body["inputs"].items():
        spec = specs[name]
        if spec.dtype == tf.string:
            feeds[name] = tf.constant(base64.b64decode(value["b64"]))
        else:
            feeds[name] = tf.constant(np.asarray(value, spec.dtype.as_numpy_dtype))
    return feeds


def _tf_serving_json_response(outputs):
    """What TF Serving writes back: strings named *_bytes as {"b64": ...}; one output without its name."""
    enc = {}
    for name, t in outputs.items():
        v = t.numpy()
        if t.dtype == tf.string and name.endswith("_bytes"):
            enc[name] = {"b64": base64.b64encode(v).decode("ascii")}
        else:
            enc[name] = v.tolist()
    return json.dumps({"outputs": next(iter(enc.values())) if len(enc) == 1 else enc})


@pytest.mark.parametrize("adapt", [True, False])
def test_rest_request_of_the_client_runs_on_the_signature(loaded, lr, tmp_path, adapt):
    png = tf.io.encode_png(lr[0]).numpy()
    body = json.loads(json.dumps(client.rest_request(png, KERNEL, steps=2, adapt=adapt)))  # over the wire
    sig = loaded.signatures[body["signature_name"]]
    sr_png = client.parse_rest_response(_tf_serving_json_response(sig(**_as_tf_serving_would(body, sig))))
    got = tf.io.decode_png(sr_png).numpy()
    if adapt:
        want = _call(loaded.signatures["serving_default"], image=lr, kernel=KERNEL, steps=np.int32(2))["sr"]
    else:
        want = _call(loaded.signatures["upscale"], image=lr)["sr"]
    np.testing.assert_array_equal(got, want.numpy()[0])
    assert client.rest_url("localhost:8501", "mzsr") == "http://localhost:8501/v1/models/mzsr:predict"
    with pytest.raises(RuntimeError, match="mzsr: steps"):
        client.parse_rest_response({"error": "mzsr: steps must be in 0..12"})


@pytest.mark.parametrize("adapt", [True, False])
def test_grpc_request_of_the_client_runs_on_the_signature(loaded, lr, adapt):
    from tensorflow_serving.apis import predict_pb2

    req = client.grpc_request(lr, KERNEL, steps=2, adapt=adapt, model="mzsr", version=1)
    req = predict_pb2.PredictRequest.FromString(req.SerializeToString())  # over the wire
    assert req.model_spec.name == "mzsr" and req.model_spec.version.value == 1
    sig = loaded.signatures[req.model_spec.signature_name]
    outputs = sig(**{k: tf.constant(tf.make_ndarray(v)) for k, v in req.inputs.items()})
    resp = predict_pb2.PredictResponse()
    for k, v in outputs.items():
        resp.outputs[k].CopyFrom(tf.make_tensor_proto(v.numpy()))
    got = client.parse_grpc_response(predict_pb2.PredictResponse.FromString(resp.SerializeToString()))
    if adapt:
        want = _call(loaded.signatures["serving_default"], image=lr, kernel=KERNEL, steps=np.int32(2))["sr"]
    else:
        want = _call(loaded.signatures["upscale"], image=lr)["sr"]
    np.testing.assert_array_equal(got, want.numpy())


def test_client_main_reports_an_unreachable_server(tmp_path, lr, capsys):
    from PIL import Image

    path = tmp_path / "lr.png"
    Image.fromarray(lr[0]).save(path)
    rc = client.main([str(path), "--out", str(tmp_path / "sr.png"), "--rest", "http://127.0.0.1:9", "--timeout", "5"])
    assert rc != 0 and "error" in capsys.readouterr().err
    assert not (tmp_path / "sr.png").exists()


# ------------------------------------------------------------ bad requests

GOOD = dict(image=np.zeros((1, 24, 24, 3), np.uint8), kernel=KERNEL, steps=np.int32(2))
BAD = {
    "image float32": (dict(image=np.zeros((1, 24, 24, 3), np.float32)), "expected to be a uint8"),
    "image batch of 2": (dict(image=np.zeros((2, 24, 24, 3), np.uint8)), r"mzsr: image must be uint8 \[1, H, W, 3\]"),
    "image RGBA": (dict(image=np.zeros((1, 24, 24, 4), np.uint8)), r"mzsr: image must be uint8 \[1, H, W, 3\]"),
    "image rank 3": (dict(image=np.zeros((24, 24, 3), np.uint8)), r"mzsr: image must be uint8 \[1, H, W, 3\]"),
    "image rank 5": (dict(image=np.zeros((1, 24, 24, 3, 1), np.uint8)), r"mzsr: image must be uint8 \[1, H, W, 3\]"),
    "image too small": (dict(image=np.zeros((1, 12, 40, 3), np.uint8)), "mzsr: image too small"),
    "image empty": (dict(image=np.zeros((1, 0, 24, 3), np.uint8)), "mzsr: image too small"),
    "image too large": (dict(image=np.zeros((1, 65, 64, 3), np.uint8)), "mzsr: image too large"),
    "kernel float64": (dict(kernel=KERNEL.astype(np.float64)), "expected to be a float"),
    "kernel NaN": (dict(kernel=np.where(KERNEL > 0.05, np.nan, KERNEL).astype(np.float32)), "mzsr: kernel has NaN"),
    "kernel Inf": (dict(kernel=np.full((3, 3), np.inf, np.float32)), "mzsr: kernel has NaN or Inf"),
    "kernel negative": (dict(kernel=np.array([[-0.5, 1.5]], np.float32)), "mzsr: kernel has negative"),
    "kernel sum 0.5": (dict(kernel=KERNEL * 0.5), "mzsr: kernel must sum to ~1"),
    "kernel zero": (dict(kernel=np.zeros((3, 3), np.float32)), "mzsr: kernel must sum to ~1"),
    "kernel larger than image": (dict(kernel=named_kernel("g2.0", 31)), "mzsr: kernel is larger than the image"),
    "kernel 65x65": (dict(image=np.zeros((1, 64, 64, 3), np.uint8), kernel=np.full((65, 65), 1 / 65**2, np.float32)),
                     "mzsr: kernel sides must be in 1..64"),
    "kernel empty": (dict(kernel=np.zeros((0, 0), np.float32)), "mzsr: kernel sides must be in 1..64"),
    "kernel 1-D": (dict(kernel=np.full((3,), 1 / 3, np.float32)), "mzsr: kernel must be a 2-D"),
    "kernel 3-D": (dict(kernel=np.full((1, 3, 3), 1 / 9, np.float32)), "mzsr: kernel must be a 2-D"),
    "steps negative": (dict(steps=np.int32(-1)), r"mzsr: steps must be in 0\.\.12"),
    "steps above max": (dict(steps=np.int32(MAX_STEPS + 1)), r"mzsr: steps must be in 0\.\.12"),
    "steps vector": (dict(steps=np.array([3], np.int32)), "mzsr: steps must be an int32 scalar"),
    "steps int64": (dict(steps=np.int64(3)), "expected to be a int32"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_request_is_invalid_argument(loaded, case):
    change, message = BAD[case]
    inputs = dict(GOOD, **change)
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        _call(loaded.signatures["serving_default"], **inputs)


def test_bad_requests_to_the_other_signatures(loaded, lr):
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"mzsr: image must be uint8 \[1, H, W, 3\]"):
        _call(loaded.signatures["upscale"], image=np.zeros((1, 24, 24, 4), np.uint8))
    with pytest.raises(tf.errors.InvalidArgumentError, match="mzsr: image too large"):
        _call(loaded.signatures["upscale"], image=np.zeros((1, 80, 80, 3), np.uint8))
    enc = loaded.signatures["adapt_encoded"]
    png = tf.io.encode_png(lr[0]).numpy()
    with pytest.raises(tf.errors.InvalidArgumentError, match="Unknown image file format"):
        _call(enc, image_bytes=b"not an image", kernel=KERNEL, steps=np.int32(1))
    with pytest.raises(tf.errors.InvalidArgumentError, match="mzsr: image_bytes must be one encoded image"):
        _call(enc, image_bytes=np.array([png, png]), kernel=KERNEL, steps=np.int32(1))
    with pytest.raises(tf.errors.InvalidArgumentError, match="mzsr: steps must be in"):
        _call(enc, image_bytes=png, kernel=KERNEL, steps=np.int32(-3))
    with pytest.raises(tf.errors.InvalidArgumentError, match="mzsr: kernel has negative"):
        _call(enc, image_bytes=png, kernel=-KERNEL, steps=np.int32(1))
    with pytest.raises(tf.errors.InvalidArgumentError, match="mzsr: image too small"):
        tiny = tf.io.encode_png(np.zeros((8, 8, 3), np.uint8)).numpy()
        _call(loaded.signatures["upscale_encoded"], image_bytes=tiny)
    # The model still serves after the bad requests.
    out = _call(loaded.signatures["serving_default"], image=lr, kernel=KERNEL, steps=np.int32(1))["sr"]
    assert out.shape == (1, 48, 48, 3)


def test_session_loader_like_tf_serving(exported, loaded, lr):
    """TF Serving loads a SavedModel into a session and feeds the signature's tensor names."""
    with tf.Graph().as_default(), tf.compat.v1.Session() as sess:
        meta = tf.compat.v1.saved_model.loader.load(sess, ["serve"], exported[0])
        sig = meta.signature_def["serving_default"]
        assert sig.method_name == "tensorflow/serving/predict"
        feeds = {sig.inputs["image"].name: lr, sig.inputs["kernel"].name: KERNEL, sig.inputs["steps"].name: 2}
        got = sess.run(sig.outputs["sr"].name, feeds)
        with pytest.raises(tf.errors.InvalidArgumentError, match=r"mzsr: steps must be in 0\.\.12"):
            sess.run(sig.outputs["sr"].name, dict(feeds, **{sig.inputs["steps"].name: MAX_STEPS + 1}))
        with pytest.raises(tf.errors.InvalidArgumentError, match="mzsr: kernel has NaN"):
            sess.run(sig.outputs["sr"].name, dict(feeds, **{sig.inputs["kernel"].name: KERNEL * np.nan}))
    want = _call(loaded.signatures["serving_default"], image=lr, kernel=KERNEL, steps=np.int32(2))["sr"].numpy()
    np.testing.assert_array_equal(got, want)


def test_no_blur_kernel_is_the_python_path_without_kernel(loaded, params, lr):
    served = _call(loaded.signatures["serving_default"], image=lr, kernel=np.ones((1, 1), np.float32),
                   steps=np.int32(2))["sr"].numpy()
    ref = _python_path(params, lr, 2, kernel=None)
    assert np.abs(served.astype(int) - ref.astype(int)).max() <= 1


def test_onnx_file_from_the_export_command(exported, params, lr):
    out = serving.onnx_upscale(serving.onnx_session(exported[1], ["CPUExecutionProvider"]),
                               lr.astype(np.float32) / 255.0)
    ref = serving.feed_forward(params, lr.astype(np.float32) / 255.0, 2).numpy()
    assert out.shape == (1, 48, 48, 3)
    assert np.abs(out - ref).max() <= 1e-4
