"""MATLAB-style bicubic imresize: hand-computed weights, mirroring, sizes, invariants."""
import math
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
import pytest
from keras import ops

from mzsr_tf.resize import cubic, imresize, output_size, resize_matrix


# ---------------------------------------------------------------------------
# An independent, deliberately naive transcription of MATLAB's imresize
# (contributions(): kernel a=-0.5, width 4, stretched by 1/scale when
# downscaling, u = x/scale + 0.5(1 - 1/scale), left = floor(u - width/2),
# P = ceil(width) + 2 taps, weights normalised per row, out-of-range indices
# mirrored through aux = [1..n, n..1]).  Pure Python, float64, 1-based.
# ---------------------------------------------------------------------------
def _keys(t):
    t = abs(t)
    if t <= 1:
        return 1.5 * t**3 - 2.5 * t**2 + 1
    if t <= 2:
        return -0.5 * t**3 + 2.5 * t**2 - 4 * t + 2
    return 0.0


def _naive_matrix(n_in, n_out, scale):
    aa = scale < 1
    width = 4.0 / scale if aa else 4.0
    taps = math.ceil(width) + 2
    aux = list(range(1, n_in + 1)) + list(range(n_in, 0, -1))
    m = np.zeros((n_out, n_in))
    for x in range(1, n_out + 1):
        u = x / scale + 0.5 * (1 - 1 / scale)
        left = math.floor(u - width / 2)
        idx = [left + p for p in range(taps)]
        w = [scale * _keys(scale * (u - j)) if aa else _keys(u - j) for j in idx]
        tot = sum(w)
        for j, wj in zip(idx, w):
            m[x - 1, aux[(j - 1) % (2 * n_in)] - 1] += wj / tot
    return m


def _np(t):
    return np.asarray(ops.convert_to_numpy(t), np.float64)


def test_cubic_kernel_values():
    # Keys a=-0.5: k(0)=1, k(±1)=k(±2)=0, k(0.5)=1.5/8-2.5/4+1=0.5625, k(1.5)=-0.5·3.375+2.5·2.25-6+2=-0.0625
    t = ops.convert_to_tensor(np.array([0, 0.5, -0.5, 1, 1.5, -1.5, 2, 2.5, -3], np.float32))
    np.testing.assert_allclose(_np(cubic(t)), [1, 0.5625, 0.5625, 0, -0.0625, -0.0625, 0, 0, 0], atol=1e-7)


def test_upscale_x2_hand_computed_weights():
    """Length-4 signal ×2: every weight below is worked out by hand.

    Output pixel x=1 (1-based): u = 1/2 + 0.5·(1-1/2) = 0.75, left = floor(0.75-2) = -2,
    taps j = -2..3, distances u-j = 2.75, 1.75, 0.75, -0.25, -1.25, -2.25:
      k(1.75)  = -0.5·5.359375 + 2.5·3.0625 - 7 + 2 = -0.0234375
      k(0.75)  = 1.5·0.421875 - 2.5·0.5625 + 1      =  0.2265625
      k(0.25)  = 1.5·0.015625 - 2.5·0.0625 + 1      =  0.8671875
      k(1.25)  = -0.5·1.953125 + 2.5·1.5625 - 5 + 2 = -0.0703125   (sum = 1, no renormalisation)
    Mirroring aux = [1 2 3 4 4 3 2 1]: j=-1 → aux(mod(-2,8)+1)=aux(7)=2, j=0 → aux(8)=1.
    So out[0] = (0.2265625 + 0.8671875)·s[0] + (-0.0234375 - 0.0703125)·s[1]
              = 1.09375·s[0] - 0.09375·s[1].
    x=2: u = 1.25, j=0..3 with weights -0.0703125, 0.8671875, 0.2265625, -0.0234375, j=0 → s[0]:
      out[1] = 0.796875·s[0] + 0.2265625·s[1] - 0.0234375·s[2].
    """
    m = _np(resize_matrix(4, 8, 2.0))
    np.testing.assert_allclose(m[0], [1.09375, -0.09375, 0, 0], atol=1e-7)
    np.testing.assert_allclose(m[1], [0.796875, 0.2265625, -0.0234375, 0], atol=1e-7)
    # Symmetry of the mapping: the last rows mirror the first ones.
    np.testing.assert_allclose(m[7], m[0][::-1], atol=1e-7)
    np.testing.assert_allclose(m[6], m[1][::-1], atol=1e-7)
    np.testing.assert_allclose(m, _naive_matrix(4, 8, 2.0), atol=1e-6)

    # Ramp s = [0, 1, 2, 3]: out[0] = -0.09375, out[1] = 0.2265625 - 0.046875 = 0.1796875;
    # x=3 (u = 1.75, taps j=0..3 → s0, s0, s1, s2): 0.8671875·1 - 0.0703125·2 = 0.7265625
    # (the mirror bends the ramp); x=4 (u = 2.25, taps j=1..4 → s0..s3):
    # 0.8671875·1 + 0.2265625·2 - 0.0234375·3 = 1.25, the ramp value (u-1 = 1.25).
    s = np.array([0, 1, 2, 3], np.float32)
    img = np.broadcast_to(s[None, None, :, None], (1, 1, 4, 1))
    out = _np(imresize(img, 2))[0, 0, :, 0]
    assert out.shape == (8,)
    np.testing.assert_allclose(out[:4], [-0.09375, 0.1796875, 0.7265625, 1.25], atol=1e-6)


def test_downscale_half_hand_computed_weights():
    """Length-6 signal ×1/2 (antialiased): kernel stretched to width 8, 10 taps.

    x=1: u = 1/0.5 + 0.5·(1-2) = 1.5, left = floor(1.5-4) = -3, j = -3..6,
    w_j = 0.5·k(0.5·(u-j)) for u-j = 4.5, 3.5, ..., -4.5 →
      0.5·[0, -0.0234375, -0.0703125, 0.2265625, 0.8671875, 0.8671875, 0.2265625, -0.0703125, -0.0234375, 0]
      (these sum to 0.5·2 = 1, so normalisation changes nothing)
    aux = [1..6, 6..1]: j=-2 → 3, j=-1 → 2, j=0 → 1 (1-based), hence (0-based)
      out[0] = (0.11328125+0.43359375)·s0 + (-0.03515625+0.43359375)·s1
             + (-0.01171875+0.11328125)·s2 - 0.03515625·s3 - 0.01171875·s4
             = 0.546875·s0 + 0.3984375·s1 + 0.1015625·s2 - 0.03515625·s3 - 0.01171875·s4.
    Ramp 0..5: out[0] = 0.3984375 + 0.203125 - 0.10546875 - 0.046875 = 0.44921875;
    out[1]: u = 3.5, taps j=0..7 → s0, s0, s1, ..., s5, s5 with the symmetric weights:
      0.11328125·1 + 0.43359375·(2+3) + 0.11328125·4 - 0.03515625·5 - 0.01171875·5 = 2.5.
    """
    m = _np(resize_matrix(6, 3, 0.5))
    np.testing.assert_allclose(m[0], [0.546875, 0.3984375, 0.1015625, -0.03515625, -0.01171875, 0], atol=1e-7)
    np.testing.assert_allclose(m, _naive_matrix(6, 3, 0.5), atol=1e-6)
    s = np.arange(6, dtype=np.float32)
    out = _np(imresize(s[None, :, None, None], 0.5))[0, :, 0, 0]
    assert out.shape == (3,)
    np.testing.assert_allclose(out, [0.44921875, 2.5, 5 - 0.44921875], atol=1e-6)


@pytest.mark.parametrize(
    "n_in,scale",
    [(4, 2.0), (5, 2.0), (6, 0.5), (5, 0.5), (7, 4.0), (9, 0.25), (13, 0.25), (6, 3.0), (10, 1 / 3), (8, 0.75)],
)
def test_matrix_matches_naive_matlab(n_in, scale):
    n_out = output_size(n_in, scale)
    np.testing.assert_allclose(_np(resize_matrix(n_in, n_out, scale)), _naive_matrix(n_in, n_out, scale), atol=1e-6)


@pytest.mark.parametrize(
    "n,scale,expected",
    # ceil(n·scale): 5·0.5=2.5→3, 7·0.25=1.75→2, 5·3=15, 10·(1/3)=3.33→4, 6·0.5=3, 9·2=18
    [(5, 0.5, 3), (7, 0.25, 2), (5, 3.0, 15), (10, 1 / 3, 4), (6, 0.5, 3), (9, 2.0, 18)],
)
def test_output_size_is_ceil(n, scale, expected):
    assert output_size(n, scale) == expected
    assert int(_np(output_size(ops.convert_to_tensor(n), scale))) == expected
    x = np.zeros((1, n, n + 1, 2), np.float32)
    assert tuple(imresize(x, scale).shape) == (1, expected, output_size(n + 1, scale), 2)


@pytest.mark.parametrize("scale", [2, 4, 0.5, 0.25, 3])
def test_constant_image_stays_constant(scale):
    x = np.full((1, 9, 7, 3), 0.37, np.float32)
    y = _np(imresize(x, scale))
    np.testing.assert_allclose(y, 0.37, atol=1e-6)


@pytest.mark.parametrize("scale", [2.0, 4.0, 0.5, 0.25])
def test_impulse_sum_scales_with_area(scale):
    """An interior impulse spreads with total weight scale per axis.

    Upscaling: the cubic kernel is a partition of unity, and the output samples sit at spacing
    1/scale in input units, so an input sample receives total weight `scale` per axis.
    Downscaling: rows are normalised and the stretched kernel sums to 1, so an input sample
    receives total weight `scale` per axis too. Hence sum(out) = scale² · sum(in).
    """
    n = 32
    x = np.zeros((1, n, n, 1), np.float32)
    x[0, 16, 15, 0] = 1.0
    y = _np(imresize(x, scale))
    np.testing.assert_allclose(y.sum(), scale * scale, rtol=1e-5)


def test_boundary_mirroring_on_image_edge():
    """Near the edge the taps fold back symmetrically (edge pixel repeated), not zero/clamp padded."""
    x = np.zeros((1, 4, 1, 1), np.float32)
    x[0, 0, 0, 0] = 1.0  # impulse on the first row
    y = _np(imresize(x, 2.0, out_hw=(8, 1)))[0, :, 0, 0]
    # out[0]: taps j=0 (0.2265625, mirrored onto row 1) + j=1 (0.8671875) = 1.09375 (zero pad: 0.8671875)
    # out[2]: u=1.75, taps j=0 (-0.0234375) and j=1 (0.2265625) both on row 1 → 0.203125
    np.testing.assert_allclose(y[:3], [1.09375, 0.796875, 0.203125], atol=1e-6)
    np.testing.assert_allclose(y, _naive_matrix(4, 8, 2.0)[:, 0], atol=1e-6)
    # Impulse on the second row: out[0] gets j=-1 (mirrored to row 2, -0.0234375) and j=2
    # (-0.0703125) → -0.09375; clamping j=-1 to row 1 would give -0.0703125 instead.
    x = np.zeros((1, 4, 1, 1), np.float32)
    x[0, 1, 0, 0] = 1.0
    y = _np(imresize(x, 2.0))[0, :, 0, 0]
    assert abs(y[0] - (-0.09375)) < 1e-6


def test_2d_is_separable_and_channels_independent():
    rng = np.random.default_rng(1)
    x = rng.random((2, 6, 5, 3)).astype(np.float32)
    for scale in (2.0, 0.5):
        ho, wo = output_size(6, scale), output_size(5, scale)
        mh, mw = _naive_matrix(6, ho, scale), _naive_matrix(5, wo, scale)
        want = np.einsum("ih,nhwc,jw->nijc", mh, x.astype(np.float64), mw)
        np.testing.assert_allclose(_np(imresize(x, scale)), want, atol=1e-5)


def test_out_hw_override():
    x = np.random.default_rng(2).random((1, 5, 5, 1)).astype(np.float32)
    y = _np(imresize(x, 2.0, out_hw=(10, 9)))
    assert y.shape == (1, 10, 9, 1)
    want = np.einsum("ih,nhwc,jw->nijc", _naive_matrix(5, 10, 2.0), x, _naive_matrix(5, 9, 2.0))
    np.testing.assert_allclose(y, want, atol=1e-5)


def test_up_then_down_nearly_identity_on_smooth_signal():
    t = np.linspace(0, 1, 16, dtype=np.float32)
    x = np.sin(2 * np.pi * t)[None, :, None, None] * np.ones((1, 1, 16, 1), np.float32)
    y = _np(imresize(imresize(x, 2.0), 0.5))
    np.testing.assert_allclose(y[:, 2:-2, 2:-2], x[:, 2:-2, 2:-2], atol=2e-2)
