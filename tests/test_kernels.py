"""Eq. 3 Gaussian kernels: golden values, λ as variances, rotation convention, p(k)."""
import math
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
import pytest
from keras import ops

from mzsr_tf.kernels import NAMED, gaussian_kernel, named_kernel, random_kernel, random_kernel_np


def _np(t):
    return np.asarray(ops.convert_to_numpy(t), np.float64)


def _moments(k):
    """Mean and covariance of a kernel in (x = column, y = row) coordinates from its centre."""
    n = k.shape[0]
    r = np.arange(n) - (n - 1) / 2.0
    x, y = np.meshgrid(r, r)  # x varies along columns, y along rows
    mx, my = (k * x).sum(), (k * y).sum()
    cxx = (k * (x - mx) ** 2).sum()
    cyy = (k * (y - my) ** 2).sum()
    cxy = (k * (x - mx) * (y - my)).sum()
    return (mx, my), np.array([[cxx, cxy], [cxy, cyy]])


def test_centre_of_width_2_kernel_is_one_over_4pi():
    """λ=2 isotropic on 21×21: centre = 1/Σ exp(-r²/4) ≈ 1/(2π·σ²) = 1/(4π) = 0.0795775.

    The discrete sum of exp(-r²/(2σ²)) over the integers equals √(2πσ²) up to a Poisson-summation
    error ~2·exp(-2π²σ²) ≈ 1e-17 and a truncation error exp(-100/4) ≈ 1e-11, so float32
    rounding dominates: tolerance 1e-5 relative.
    """
    k = _np(gaussian_kernel(2.0, 2.0, 0.0, size=21))
    assert k.shape == (21, 21)
    assert k.argmax() == 10 * 21 + 10
    np.testing.assert_allclose(k[10, 10], 1.0 / (4.0 * math.pi), rtol=1e-5)
    # Had λ been a standard deviation (σ² = 4) the centre would be 1/(8π): clearly different.
    assert abs(k[10, 10] - 1.0 / (8.0 * math.pi)) > 0.03


@pytest.mark.parametrize("params", [(2.0, 2.0, 0.0), (0.2, 0.2, 0.0), (4.0, 1.0, -0.5), (5.0, 1.5, 2.0)])
@pytest.mark.parametrize("size", [15, 21])
def test_sums_to_one_and_nonnegative(params, size):
    k = _np(gaussian_kernel(*params, size=size))
    assert k.shape == (size, size)
    assert np.all(k >= 0)
    np.testing.assert_allclose(k.sum(), 1.0, atol=1e-6)


@pytest.mark.parametrize("lam", [1.0, 2.0, 3.5, 5.0])
def test_lambda_is_the_variance(lam):
    """On a wide grid the second moment per axis equals λ (not λ²).

    Sampling a Gaussian on the integers biases its variance by ~8π²σ²·exp(-2π²σ²)·σ² (Poisson
    summation): 2e-7 relative at λ=1 but 2e-3 at λ=0.5, hence λ ≥ 1 at rtol 1e-4.
    """
    k = _np(gaussian_kernel(lam, lam, 0.0, size=41))
    (mx, my), cov = _moments(k)
    assert abs(mx) < 1e-6 and abs(my) < 1e-6
    np.testing.assert_allclose(np.diag(cov), [lam, lam], rtol=1e-4)
    assert abs(cov[0, 1]) < 1e-6


def test_anisotropic_theta_zero_long_axis_along_columns():
    k = _np(gaussian_kernel(4.0, 1.0, 0.0, size=31))
    _, cov = _moments(k)
    # Θ = 0: λ1 = 4 along x (varies along a row, across columns), λ2 = 1 along y.
    np.testing.assert_allclose(cov, [[4.0, 0.0], [0.0, 1.0]], atol=1e-4)
    c = 15
    assert k[c, c + 2] > k[c + 2, c]  # wider across columns than down rows
    np.testing.assert_allclose(k, k[::-1, :], atol=1e-7)  # axis-aligned: mirror symmetric
    np.testing.assert_allclose(k, k[:, ::-1], atol=1e-7)


def test_anisotropic_theta_half_pi_long_axis_along_rows():
    k = _np(gaussian_kernel(4.0, 1.0, math.pi / 2, size=31))
    _, cov = _moments(k)
    np.testing.assert_allclose(cov, [[1.0, 0.0], [0.0, 4.0]], atol=1e-4)
    k0 = _np(gaussian_kernel(4.0, 1.0, 0.0, size=31))
    np.testing.assert_allclose(k, k0.T, atol=1e-7)


@pytest.mark.parametrize("theta", [-0.5, 0.3, 1.0, 2.5])
def test_covariance_is_rotated_diag(theta):
    """Σ = R(Θ) diag(λ1, λ2) R(Θ)ᵀ in (x = column, y = row) coordinates."""
    l1, l2 = 4.0, 1.0
    k = _np(gaussian_kernel(l1, l2, theta, size=41))
    _, cov = _moments(k)
    c, s = math.cos(theta), math.sin(theta)
    r = np.array([[c, -s], [s, c]])
    want = r @ np.diag([l1, l2]) @ r.T
    np.testing.assert_allclose(cov, want, atol=2e-4)
    # Eigenvalues are the λ regardless of Θ.
    np.testing.assert_allclose(np.sort(np.linalg.eigvalsh(cov)), [l2, l1], atol=2e-4)


@pytest.mark.parametrize("theta", [-0.5, 0.0, 0.7, math.pi / 2, 2.9])
def test_symmetric_under_180_degree_rotation(theta):
    k = _np(gaussian_kernel(3.0, 1.2, theta, size=15))
    np.testing.assert_allclose(k, k[::-1, ::-1], atol=1e-7)


def test_theta_period_pi():
    a = _np(gaussian_kernel(4.0, 1.0, 0.4, size=15))
    b = _np(gaussian_kernel(4.0, 1.0, 0.4 + math.pi, size=15))
    np.testing.assert_allclose(a, b, atol=1e-6)


def test_named_kernels():
    assert set(NAMED) >= {"g0.2", "g2.0", "g1.3", "gani"}
    assert NAMED["gani"] == (4.0, 1.0, -0.5)
    for name in NAMED:
        k = named_kernel(name)
        assert k.dtype == np.float32 and k.shape == (15, 15)
        np.testing.assert_allclose(k.sum(), 1.0, atol=1e-6)
    np.testing.assert_allclose(named_kernel("g2.0", size=21)[10, 10], 1 / (4 * math.pi), rtol=1e-5)
    # g0.2 is nearly a delta: separable, 1-D weights ∝ exp(-j²/(2·0.2)) = exp(-2.5 j²), so
    # centre = 1/(1 + 2e^{-2.5} + 2e^{-10} + ...)² = 1/(1 + 0.164170 + 0.000091)² = 1/1.164261² = 0.737733
    k = named_kernel("g0.2")
    np.testing.assert_allclose(k[7, 7], 0.737733, rtol=1e-5)


def test_random_kernel_distribution_and_seeding():
    scale = 2
    ks = []
    for seed in range(20):
        k, (l1, l2, th) = random_kernel(scale, seed)
        l1, l2, th = float(_np(l1)), float(_np(l2)), float(_np(th))
        assert 1.0 <= l2 <= l1 <= 2.5 * scale
        assert 0.0 <= th < math.pi
        k = _np(k)
        assert k.shape == (15, 15)
        np.testing.assert_allclose(k.sum(), 1.0, atol=1e-6)
        np.testing.assert_allclose(k, _np(gaussian_kernel(l1, l2, th)), atol=1e-6)
        ks.append(k)
    # Same seed → same kernel; different seeds → different kernels.
    np.testing.assert_array_equal(_np(random_kernel(scale, 3)[0]), ks[3])
    assert not np.allclose(ks[0], ks[1])


def test_random_kernel_np():
    rng = np.random.default_rng(0)
    for _ in range(20):
        k = random_kernel_np(4, rng)
        assert k.dtype == np.float32 and k.shape == (15, 15)
        np.testing.assert_allclose(k.sum(), 1.0, atol=1e-6)
        _, cov = _moments(k.astype(np.float64))
        ev = np.linalg.eigvalsh(cov)
        # Variances in [1, 10] (a 15×15 grid truncates the widest ones slightly).
        assert ev[0] > 0.9 and ev[1] < 10.0 + 1e-3
    a = random_kernel_np(2, np.random.default_rng(5))
    b = random_kernel_np(2, np.random.default_rng(5))
    np.testing.assert_array_equal(a, b)
