"""Scenario construction and the ``evaluate`` command on tiny synthetic images (CPU, no shared data)."""
import json
import math

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from mzsr_tf import evaluate, methods, scenarios
from mzsr_tf.errors import InputError
from mzsr_tf.kernels import named_kernel
from mzsr_tf.metrics import psnr, ssim


def smooth_image(h, w, seed=0):
    """A natural-ish uint8 RGB image (smoothed noise) so bicubic SR is meaningful."""
    x = np.random.default_rng(seed).uniform(0, 255, (h, w, 3))
    x = ndimage.gaussian_filter(x, (2, 2, 0))
    x = (x - x.min()) / (x.max() - x.min()) * 255
    return np.round(x).astype(np.uint8)


# --- scenarios -------------------------------------------------------------


def test_paper_scenarios_parse():
    got = {n: scenarios.get_scenario(n) for n in scenarios.PAPER_SCENARIOS}
    assert (got["bicubic"].scale, got["bicubic"].kernel_name, got["bicubic"].subsampling) == (2, None, "bicubic")
    assert (got["gb1.3"].kernel_name, got["gb1.3"].subsampling) == ("g1.3", "bicubic")
    assert (got["gani"].scale, got["gani"].subsampling) == (2, "direct")
    assert (got["g2.0x4"].scale, got["g2.0x4"].kernel_name, got["g2.0x4"].subsampling) == (4, "g2.0", "direct")
    assert got["bicubic"].kernel() is None
    np.testing.assert_array_equal(got["gani"].kernel(), named_kernel("gani", 15))
    assert got["g0.2"].kernel(21).shape == (21, 21)
    assert scenarios.get_scenario("ganix3").scale == 3


@pytest.mark.parametrize("name", ["g3.0", "gani x4", "g2.0x5", "", "bicubicx"])
def test_unknown_scenario(name):
    with pytest.raises(InputError, match="unknown scenario"):
        scenarios.get_scenario(name)


@pytest.mark.parametrize("name,hr_shape,lr_shape", [
    ("g2.0", (35, 38), (17, 19)),
    ("bicubic", (35, 38), (17, 19)),
    ("gb1.3", (35, 38), (17, 19)),
    ("g2.0x4", (35, 38), (8, 9)),
])
def test_make_lr_shapes_and_mod_crop(name, hr_shape, lr_shape):
    hr = smooth_image(*hr_shape)
    hr_c, lr = scenarios.make_lr(hr, name)
    s = scenarios.get_scenario(name).scale
    assert lr.dtype == np.uint8 and lr.shape == lr_shape + (3,)
    assert hr_c.shape == (lr_shape[0] * s, lr_shape[1] * s, 3)
    np.testing.assert_array_equal(hr_c, hr[: hr_c.shape[0], : hr_c.shape[1]])  # top-left kept


@pytest.mark.parametrize("name", ["g0.2", "gani", "g2.0x4"])
def test_direct_subsampling_keeps_top_left_of_blurred(name):
    sc = scenarios.get_scenario(name)
    hr = smooth_image(24, 28, seed=1)
    _, lr = scenarios.make_lr(hr, sc)
    k = sc.kernel().astype(np.float64)
    blurred = np.stack([ndimage.correlate(hr[..., c] / 255.0, k, mode="reflect") for c in range(3)], -1)
    ref = np.round(blurred[:: sc.scale, :: sc.scale] * 255.0)
    diff = np.abs(lr.astype(int) - ref)
    assert diff.max() <= 1 and np.mean(diff == 0) > 0.99  # float32 vs float64 only at .5 ties
    # an offset of one HR pixel would be a different image
    shifted = np.round(blurred[1 :: sc.scale, 1 :: sc.scale] * 255.0)
    assert np.mean(np.abs(lr.astype(int) - shifted[: lr.shape[0], : lr.shape[1]]) == 0) < 0.9


def test_bicubic_scenario_constant_image_stays_constant():
    hr = np.full((20, 22, 3), 77, np.uint8)
    for name in ("bicubic", "gb1.3", "g2.0x4"):
        _, lr = scenarios.make_lr(hr, name)
        assert np.all(lr == 77)


def test_make_lr_rejects_bad_input():
    with pytest.raises(InputError):
        scenarios.make_lr(np.zeros((8, 8), np.uint8), "g2.0")
    with pytest.raises(InputError):
        scenarios.make_lr(np.zeros((3, 3, 3), np.uint8), "g2.0x4")


# --- evaluate command ------------------------------------------------------


@pytest.fixture
def hr_dir(tmp_path):
    d = tmp_path / "hr"
    d.mkdir()
    Image.fromarray(smooth_image(40, 36, seed=2)).save(d / "a.png")
    Image.fromarray(smooth_image(32, 34, seed=3)[..., 0]).save(d / "b.png")  # grayscale
    return d


def run_main(argv, capsys):
    rc = evaluate.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


def test_evaluate_bicubic_writes_json(hr_dir, tmp_path, capsys):
    js = tmp_path / "r.json"
    rc, out, err = run_main(
        ["--hr-dir", hr_dir, "--scenario", "bicubic", "g2.0x4", "--method", "bicubic", "--json", js], capsys
    )
    assert rc == 0, err
    assert "a.png" in out and "b.png" in out and "average" in out
    rep = json.loads(js.read_text())
    assert rep["images"] == ["a.png", "b.png"]
    col = rep["scenarios"]["g2.0x4"]["columns"]["bicubic"]
    assert rep["scenarios"]["g2.0x4"]["scale"] == 4 and col["steps"] is None
    # the numbers are those of the pipeline written out by hand
    from keras import ops

    from mzsr_tf.resize import imresize

    hr = np.asarray(Image.open(hr_dir / "a.png").convert("RGB"))
    hr_c, lr = scenarios.make_lr(hr, "g2.0x4")
    sr = scenarios.to_uint8(ops.convert_to_numpy(imresize(lr[None] / 255.0, 4.0))[0])
    assert col["images"]["a.png"]["psnr"] == pytest.approx(psnr(sr, hr_c, 4), abs=1e-9)
    assert col["images"]["a.png"]["ssim"] == pytest.approx(ssim(sr, hr_c, 4), abs=1e-9)
    vals = [v["psnr"] for v in col["images"].values()]
    assert col["mean"]["psnr"] == pytest.approx(np.mean(vals))
    assert col["mean"]["seconds"] > 0

    # refuses to overwrite, then overwrites when asked
    rc, _, err = run_main(["--hr-dir", hr_dir, "--scenario", "bicubic", "--method", "bicubic", "--json", js], capsys)
    assert rc == 2 and "--overwrite" in err and len(err.strip().splitlines()) == 1
    rc, _, _ = run_main(
        ["--hr-dir", hr_dir, "--scenario", "gani", "--method", "bicubic", "--json", js, "--overwrite", "--limit", "1"],
        capsys,
    )
    assert rc == 0
    rep = json.loads(js.read_text())
    assert list(rep["scenarios"]) == ["gani"] and rep["images"] == ["a.png"]


@pytest.mark.parametrize("argv,msg", [
    (["--scenario", "g3.0"], "unknown scenario"),
    (["--method", "srcnn"], "unknown method"),
    (["--steps", "-1"], "--steps"),
    (["--kernel-size", "14"], "--kernel-size"),
])
def test_bad_arguments_one_line(hr_dir, capsys, argv, msg):
    base = {"--scenario": ["g2.0"], "--method": ["bicubic"]}
    for i in range(0, len(argv), 2):
        base[argv[i]] = [argv[i + 1]]
    args = ["--hr-dir", hr_dir] + [x for k, v in base.items() for x in [k, *v]]
    rc, _, err = run_main(args, capsys)
    assert rc == 2 and msg in err
    assert err.startswith("error:") and len(err.strip().splitlines()) == 1


def test_missing_and_empty_dir(tmp_path, capsys):
    rc, _, err = run_main(["--hr-dir", tmp_path / "nope", "--scenario", "g2.0", "--method", "bicubic"], capsys)
    assert rc == 2 and "no such folder" in err and len(err.strip().splitlines()) == 1
    (tmp_path / "empty").mkdir()
    rc, _, err = run_main(["--hr-dir", tmp_path / "empty", "--scenario", "g2.0", "--method", "bicubic"], capsys)
    assert rc == 2 and "no image files" in err


def test_non_image_files_skipped_nonzero_exit(hr_dir, tmp_path, capsys):
    (hr_dir / "notes.txt").write_text("not an image")
    (hr_dir / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    js = tmp_path / "r.json"
    rc, out, err = run_main(["--hr-dir", hr_dir, "--scenario", "g2.0", "--method", "bicubic", "--json", js], capsys)
    assert rc == 1
    assert "notes.txt" in err and "broken.png" in err and "skipped" in err
    assert "a.png" in out and "b.png" in out  # the good images are still measured
    assert sorted(json.loads(js.read_text())["skipped"]) == ["broken.png", "notes.txt"]
    # a folder of non-images only: one error line
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "x.txt").write_text("x")
    rc, _, err = run_main(["--hr-dir", bad, "--scenario", "g2.0", "--method", "bicubic"], capsys)
    assert rc == 2 and "no readable images" in err


def test_too_small_image_skipped(tmp_path, capsys):
    d = tmp_path / "hr"
    d.mkdir()
    Image.fromarray(smooth_image(32, 32)).save(d / "ok.png")
    Image.fromarray(smooth_image(16, 16)).save(d / "tiny.png")
    rc, out, err = run_main(["--hr-dir", d, "--scenario", "g2.0x4", "--method", "bicubic"], capsys)
    assert rc == 1 and "tiny.png" in err and "too small" in err and "ok.png" in out


def test_registered_method_gets_columns(hr_dir, capsys):
    calls = []

    def nearest(lr, options):
        calls.append(options.steps)
        return np.repeat(np.repeat(lr, options.scale, 0), options.scale, 1)

    methods.register("nearest_test", nearest, uses_steps=True)
    try:
        rc, out, _ = run_main(
            ["--hr-dir", hr_dir, "--scenario", "g2.0", "--method", "bicubic", "nearest_test", "--steps", "0", "3"],
            capsys,
        )
    finally:
        del methods.REGISTRY["nearest_test"]
    assert rc == 0
    assert "nearest_test(0)" in out and "nearest_test(3)" in out and "bicubic" in out
    assert sorted(calls) == [0, 0, 3, 3]


def test_mzsr_with_random_weights(tmp_path, capsys):
    from mzsr_tf.model import build_model

    w = tmp_path / "rand.weights.h5"
    build_model().save_weights(str(w))
    d = tmp_path / "hr"
    d.mkdir()
    Image.fromarray(smooth_image(28, 30)).save(d / "a.png")
    js = tmp_path / "m.json"
    rc, out, err = run_main(
        ["--hr-dir", d, "--scenario", "g2.0", "--method", "mzsr", "--steps", "0", "1", "--weights", w, "--json", js],
        capsys,
    )
    assert rc == 0, err
    cols = json.loads(js.read_text())["scenarios"]["g2.0"]["columns"]
    assert set(cols) == {"mzsr(0)", "mzsr(1)"}
    assert cols["mzsr(1)"]["weights"] == "rand.weights.h5"
    assert all(math.isfinite(c["mean"]["psnr"]) for c in cols.values())


def test_mzsr_without_shipped_weights_is_one_line(hr_dir, capsys, monkeypatch):
    import mzsr_tf.weights as weights

    monkeypatch.setattr(weights, "index", lambda: {})
    rc, _, err = run_main(["--hr-dir", hr_dir, "--scenario", "g2.0", "--method", "mzsr"], capsys)
    assert rc == 2 and "no shipped weights" in err and len(err.strip().splitlines()) == 1


def test_grayscale_measured_on_gray_level(hr_dir, tmp_path, capsys):
    from keras import ops

    from mzsr_tf.resize import imresize

    hr = np.asarray(Image.open(hr_dir / "b.png").convert("RGB"))
    hr_c, lr = scenarios.make_lr(hr, "g2.0")
    sr = scenarios.to_uint8(ops.convert_to_numpy(imresize(lr[None] / 255.0, 2.0))[0])
    on_gray, on_y = psnr(sr[..., 0], hr_c[..., 0], 2), psnr(sr, hr_c, 2)
    assert on_gray < on_y - 1.0  # Y of a gray replica scales errors by 219/255 (+1.32 dB)
    for flag, expected in (([], on_gray), (["--gray-as-rgb"], on_y)):
        js = tmp_path / f"g{len(flag)}.json"
        rc, _, err = run_main(["--hr-dir", hr_dir, "--scenario", "g2.0", "--method", "bicubic", "--json", js, *flag], capsys)
        assert rc == 0, err
        rep = json.loads(js.read_text())
        assert rep["gray_images"] == ["b.png"]
        got = rep["scenarios"]["g2.0"]["columns"]["bicubic"]["images"]["b.png"]["psnr"]
        assert got == pytest.approx(expected, abs=1e-9)
