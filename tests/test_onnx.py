"""ONNX export of the feed-forward pass (tf2onnx, opset >= 17) and parity with TensorFlow."""
import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from mzsr_tf import serve as serving  # noqa: E402

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
pytest.importorskip("tf2onnx")


@pytest.fixture(scope="module")
def params(weights_file):
    from mzsr_tf.weights import load_model

    return [v.numpy() for v in load_model(weights_file).trainable_variables]


@pytest.fixture(scope="module")
def lr_to_sr(params, tmp_path_factory):
    path = tmp_path_factory.mktemp("onnx") / "mzsr_x2.onnx"
    info = serving.export_onnx(params, path, scale=2)
    return str(path), info


def _lr(h, w, seed=0):
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.stack([0.5 + 0.4 * np.sin(x / 3.0), 0.5 + 0.4 * np.cos(y / 4.0), (x + y) / (h + w)], -1)
    img += np.random.default_rng(seed).normal(0, 0.03, img.shape).astype(np.float32)
    return np.clip(img, 0, 1)[None].astype(np.float32)


def test_onnx_model_has_opset_17_and_dynamic_image_input(lr_to_sr):
    path, info = lr_to_sr
    model = onnx.load(path)
    onnx.checker.check_model(model)
    opset = {o.domain: o.version for o in model.opset_import}
    assert opset.get("", opset.get("ai.onnx")) >= 17
    assert info["inputs"] == ["lr"] and info["outputs"] == ["sr"]  # the weights are constants, not inputs
    dims = model.graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_value == 1 and dims[3].dim_value == 3
    assert not dims[1].dim_value and not dims[2].dim_value  # H and W are dynamic


@pytest.mark.parametrize("hw", [(24, 24), (17, 30)])
def test_onnxruntime_matches_tensorflow(lr_to_sr, params, hw):
    session = serving.onnx_session(lr_to_sr[0], ["CPUExecutionProvider"])
    lr = _lr(*hw)
    got = serving.onnx_upscale(session, lr)
    want = serving.feed_forward(params, lr, 2).numpy()
    assert got.shape == (1, 2 * hw[0], 2 * hw[1], 3)
    assert got.min() >= 0.0 and got.max() <= 1.0
    assert np.abs(got - want).max() <= 1e-4


def test_network_only_export_matches_forward(params, tmp_path):
    from mzsr_tf.model import forward

    path = tmp_path / "net.onnx"
    info = serving.export_onnx(params, path, network_only=True)
    assert info["inputs"] == ["ilr"]
    ilr = _lr(20, 20, seed=3)
    got = serving.onnx_upscale(serving.onnx_session(path, ["CPUExecutionProvider"]), ilr)
    want = np.asarray(forward(params, ilr))
    assert np.abs(got - want).max() <= 1e-4


def test_providers_prefer_cuda_and_keep_cpu():
    providers = serving.onnx_providers()
    assert providers[-1] == "CPUExecutionProvider"
    if "CUDAExecutionProvider" in ort.get_available_providers():
        assert providers[0] == "CUDAExecutionProvider"


def test_opset_below_17_is_refused(params, tmp_path):
    with pytest.raises(ValueError, match="opset"):
        serving.export_onnx(params, tmp_path / "x.onnx", opset=13)
    assert not (tmp_path / "x.onnx").exists()
