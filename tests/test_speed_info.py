"""``mzsr-tf info``, the CPU facts it reads, the default precision rule, and the ONNX provider choice."""
import json

import numpy as np
import pytest

from mzsr_tf import backend
from mzsr_tf.errors import InputError
from mzsr_tf.speed import calibrate, cpu, precision

CPUINFO = """processor\t: 0
vendor_id\t: AuthenticAMD
model name\t: AMD EPYC 9R14 96-Core Processor
flags\t\t: fpu sse avx avx2 fma avx512f avx512_vnni avx512_bf16
processor\t: 1
model name\t: AMD EPYC 9R14 96-Core Processor
flags\t\t: fpu sse avx avx2 fma avx512f avx512_vnni avx512_bf16
"""
AVX2_ONLY = "model name\t: Intel(R) Xeon(R) CPU\nflags\t\t: fpu sse avx avx2 fma\n"


def test_cpu_model_and_flags_from_cpuinfo():
    assert cpu.cpu_model(CPUINFO) == "AMD EPYC 9R14 96-Core Processor"
    assert {"avx2", "avx512f", "avx512_bf16"} <= cpu.cpu_flags(CPUINFO)
    assert cpu.native_bf16(cpu.cpu_flags(CPUINFO))
    assert not cpu.native_bf16(cpu.cpu_flags(AVX2_ONLY))
    assert cpu.native_bf16({"amx_tile", "amx_bf16"})
    assert cpu.cpu_flags("") == set() and cpu.cpu_model("")  # no /proc/cpuinfo: a name from platform


def test_precision_default_is_bfloat16_only_where_native():
    assert precision.default_compute_dtype(cpu.cpu_flags(CPUINFO), environ={}) == "bfloat16"
    assert precision.default_compute_dtype(cpu.cpu_flags(AVX2_ONLY), environ={}) is None
    assert "emulated" in precision.describe(cpu.cpu_flags(AVX2_ONLY), environ={})
    assert precision.describe(cpu.cpu_flags(CPUINFO), environ={}).startswith("bfloat16 by default")


@pytest.mark.parametrize("value, native, emulated", [("float32", None, None), ("bfloat16", "bfloat16", "bfloat16"),
                                                     ("AUTO", "bfloat16", None), ("", "bfloat16", None)])
def test_precision_environment_overrides_the_cpu_rule(value, native, emulated):
    env = {precision.ENV_PRECISION: value}
    assert precision.default_compute_dtype(cpu.cpu_flags(CPUINFO), env) == native
    assert precision.default_compute_dtype(cpu.cpu_flags(AVX2_ONLY), env) == emulated


def test_bad_precision_value_is_one_input_error():
    with pytest.raises(InputError, match="MZSR_TF_PRECISION must be one of float32, bfloat16 or auto, got 'half'"):
        precision.default_compute_dtype(environ={precision.ENV_PRECISION: "half"})


def test_default_precision_reaches_the_method_and_an_explicit_dtype_wins(monkeypatch):
    """methods' mzsr takes the default when Options.compute_dtype is None: bf16 output differs, float32 matches."""
    from mzsr_tf import methods

    rng = np.random.default_rng(2)
    lr = np.clip(np.kron(rng.random((5, 5, 3)), np.ones((6, 6, 1))), 0, 1).astype(np.float32)
    run = lambda dtype: methods.get("mzsr").run(lr, methods.Options(steps=1, compute_dtype=dtype))  # noqa: E731
    monkeypatch.setenv(precision.ENV_PRECISION, "float32")
    f32 = run(None)
    np.testing.assert_array_equal(run("float32"), f32)
    monkeypatch.setenv(precision.ENV_PRECISION, "bfloat16")
    bf16 = run(None)
    np.testing.assert_array_equal(run("bfloat16"), bf16)
    assert 0 < np.abs(bf16 - f32).max() < 0.02
    np.testing.assert_array_equal(run("float32"), f32)  # an explicit dtype beats the environment
    monkeypatch.setenv(precision.ENV_PRECISION, "half")
    with pytest.raises(InputError, match="MZSR_TF_PRECISION"):
        run(None)


def test_bfloat16_forward_reads_the_float32_ilr():
    """A first layer of differences sees detail below bfloat16's step at 0.5 (2^-9): it must run in float32."""
    from mzsr_tf.model import forward

    rng = np.random.default_rng(4)
    x = (0.5 + 1e-3 * rng.standard_normal((1, 8, 9, 3))).astype(np.float32)
    w = np.zeros((3, 3, 3, 3), np.float32)
    for c in range(3):
        w[1, 1, c, c], w[1, 0, c, c] = 1.0, -1.0  # x[j] - x[j-1]: about 1e-3, far below the ILR's bf16 step
    params = [w, np.zeros(3, np.float32)]
    f32, bf16 = (np.asarray(forward(params, x, d)) for d in (None, "bfloat16"))
    # Inside (column 0 sees the zero padding: x itself, ~0.5) only the differences' own rounding remains.
    assert np.abs(bf16 - f32)[:, :, 1:].max() < 2e-5
    assert not np.array_equal(bf16, f32)


@pytest.fixture
def cache(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.delenv(calibrate.ENV_CONV_GRAD, raising=False)
    monkeypatch.delenv(precision.ENV_PRECISION, raising=False)
    return tmp_path


@pytest.mark.skipif(backend.NAME != "tensorflow", reason="the gradient paths are TensorFlow's")
def test_info_prints_cpu_versions_and_the_cached_choice(cache, capsys):
    import keras
    import tensorflow as tf

    from mzsr_tf.cli import main

    key = calibrate.machine_key()
    record = {"version": calibrate.VERSION, "key": key, "choice": "custom", "side": 256, "channels": 64,
              "timings_ms": {"tf": [61.0, 60.0, 62.0], "custom": [48.5, 47.0, 49.0]}, "seconds": 1.2, "load": 0.3,
              "busy": False, "measured_at": "2026-01-02T03:04:05+00:00"}
    calibrate.save(calibrate.cache_path(key), record)
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert f"cpu: {cpu.cpu_model()}" in out
    for feature in ("avx2", "avx512f", "avx512_bf16", "amx_bf16"):
        assert f"{feature} {'yes' if feature in cpu.cpu_flags() else 'no'}" in out
    assert ("bfloat16: native" in out) == cpu.native_bf16()
    assert f"tensorflow: {tf.__version__}" in out and f"keras: {keras.__version__}" in out
    assert "conv gradient path: custom (cached)" in out
    assert "tf 61.0 ms median (best 60.0, 3 runs), custom 48.5 ms median (best 47.0, 3 runs)" in out
    assert calibrate.cache_path(key) in out
    assert f"precision: {'bfloat16' if cpu.native_bf16() else 'float32'} by default" in out


@pytest.mark.skipif(backend.NAME != "tensorflow", reason="the gradient paths are TensorFlow's")
def test_info_without_cache_and_with_environment(cache, capsys, monkeypatch):
    from mzsr_tf.speed.info import main

    assert main([]) == 0
    assert "not calibrated yet" in capsys.readouterr().out
    assert not list(cache.glob("mzsr-tf/*.json"))  # info itself measures nothing
    monkeypatch.setenv(calibrate.ENV_CONV_GRAD, "tf")
    assert main([]) == 0
    assert "conv gradient path: tf (set by MZSR_TF_CONV_GRAD)" in capsys.readouterr().out
    monkeypatch.setenv(calibrate.ENV_CONV_GRAD, "quick")
    assert main([]) == 2
    captured = capsys.readouterr()
    assert captured.err.strip() == "error: MZSR_TF_CONV_GRAD must be one of tf, custom or auto, got 'quick'"


@pytest.mark.skipif(backend.NAME != "tensorflow", reason="the gradient paths are TensorFlow's")
def test_info_calibrate_measures_and_caches(cache, capsys):
    from mzsr_tf.speed.info import main

    assert main(["--calibrate"]) == 0
    out = capsys.readouterr().out
    files = list(cache.glob("mzsr-tf/conv_grad-*.json"))
    assert len(files) == 1
    record = json.loads(files[0].read_text())
    assert f"conv gradient path: {record['choice']} (measured now)" in out
    assert "calibration: one 64->64 3x3 layer's gradients on 256x256" in out


# ------------------------------------------------------------------ ONNX Runtime's execution provider


def test_onnx_provider_choice_prefers_cuda_and_always_keeps_cpu():
    from mzsr_tf.serve.onnx import onnx_providers

    gpu = ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]
    assert onnx_providers(gpu) == ["CUDAExecutionProvider", "CPUExecutionProvider"]
    assert onnx_providers(["CPUExecutionProvider"]) == ["CPUExecutionProvider"]
    assert onnx_providers(["AzureExecutionProvider", "CPUExecutionProvider"]) == ["CPUExecutionProvider"]


def test_onnx_session_says_which_provider_runs_it(tmp_path, caplog):
    """A real onnxruntime session on this machine: the provider it reports is the one the choice put first."""
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    from onnx import TensorProto, helper

    from mzsr_tf.serve.onnx import onnx_providers, onnx_session, session_provider

    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "relu",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])])
    path = tmp_path / "relu.onnx"
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    onnx.save(model, str(path))
    with caplog.at_level("INFO", logger="mzsr_tf"):
        session = onnx_session(path)
    want = onnx_providers(ort.get_available_providers())[0]
    assert session_provider(session) == want
    assert f"onnxruntime runs {path} on {want}" in caplog.text
    np.testing.assert_array_equal(session.run(None, {"x": np.array([-1.0, 2.0], np.float32)})[0], [0.0, 2.0])
