"""``python -m mzsr_tf.batch`` on the DirectRunner: tiny generated images, real Beam, real SavedModel."""
import json
import os

import numpy as np
import pytest

pytest.importorskip("apache_beam")

from PIL import Image  # noqa: E402

import mzsr_tf  # noqa: E402
from mzsr_tf.batch.command import main  # noqa: E402
from mzsr_tf.io import read_image, to_uint8  # noqa: E402
from mzsr_tf.kernels import named_kernel, random_kernel_np  # noqa: E402

STEPS = 2
MULTI = ["--direct_running_mode=multi_processing", "--direct_num_workers=2"]


def _image(rng, h, w):
    y, x = np.mgrid[0:h, 0:w]
    base = np.stack([x * 9, y * 7, (x + y) * 5], axis=-1).astype(np.float64)
    return np.clip(base + rng.normal(0, 12, base.shape), 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def collection(tmp_path_factory):
    """Input folder (nested, one 16-bit grey PNG, one corrupt PNG) and a kernel per image stem."""
    root = tmp_path_factory.mktemp("batch")
    src, kdir = root / "in", root / "kernels"
    (src / "sub").mkdir(parents=True)
    kdir.mkdir()
    rng = np.random.default_rng(3)
    Image.fromarray(_image(rng, 20, 24)).save(src / "a.png")
    Image.fromarray(_image(rng, 24, 18)).save(src / "sub" / "b.png")
    grey16 = (np.linspace(0, 65535, 20 * 20).reshape(20, 20) + rng.normal(0, 900, (20, 20)))
    Image.fromarray(np.clip(grey16, 0, 65535).astype(np.uint16)).save(src / "deep.png")
    (src / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"not really a png")
    kernels = {"a": named_kernel("g2.0"), "b": named_kernel("g0.2"),
               "deep": random_kernel_np(2, np.random.default_rng(1)), "broken": named_kernel("g2.0")}
    for name, k in kernels.items():
        np.save(kdir / f"{name}.npy", k)
    return {"src": str(src), "kernels": str(kdir), "k": kernels, "root": root}


def _run(capsys, args):
    code = main(args)
    out = capsys.readouterr()
    return code, out.out, out.err


def _counts(text):
    words = text.split()
    return {k: int(words[words.index(k) + 1]) for k in ("images", "failures", "skipped")}


def _read_png(path):
    """The PNG's samples at their stored depth (Pillow reads 16-bit RGB as 8-bit)."""
    import tensorflow as tf

    return tf.io.decode_png(open(path, "rb").read(), channels=3, dtype=tf.uint16).numpy() if \
        _is_16bit(path) else np.asarray(Image.open(path))


def _is_16bit(path):
    with Image.open(path) as im:
        return "16" in str(im.tile[0].args)


def _tree(folder):
    found = {}
    for d, _, names in os.walk(folder):
        for n in names:
            p = os.path.join(d, n)
            found[os.path.relpath(p, folder)] = (os.stat(p).st_mtime_ns, open(p, "rb").read())
    return found


@pytest.fixture(scope="module")
def first_run(collection, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("out") / "x2")
    code = main(["--input", collection["src"], "--output", out, "--kernels", collection["kernels"],
                 "--steps", str(STEPS)])
    return code, out


def test_outputs_match_upscale_and_corrupt_file_goes_to_dead_letter(collection, first_run):
    code, out = first_run
    assert code == 1  # one file failed
    assert sorted(_tree(out)) == ["a.png", "deep.png", "failures.jsonl", os.path.join("sub", "b.png")]
    for rel, stem in (("a.png", "a"), (os.path.join("sub", "b.png"), "b"), ("deep.png", "deep")):
        lr = to_uint8(read_image(os.path.join(collection["src"], rel))[0])
        want = mzsr_tf.upscale(lr, scale=2, kernel=collection["k"][stem], steps=STEPS)
        got = _read_png(os.path.join(out, rel))
        if stem == "deep":  # 16-bit in, 16-bit out (8-bit precision: the SavedModel is uint8)
            assert got.dtype == np.uint16 and np.all(got % 257 == 0)
            got = got // 257
        assert got.shape == want.shape
        assert np.abs(got.astype(int) - want.astype(int)).max() <= 1
    lines = [json.loads(x) for x in open(os.path.join(out, "failures.jsonl")).read().splitlines()]
    assert len(lines) == 1 and lines[0]["path"].endswith("broken.png")
    assert "broken.png: corrupt" in lines[0]["reason"]


def test_second_run_writes_nothing_new(collection, first_run, capsys):
    _, out = first_run
    before = _tree(out)
    code, text, _ = _run(capsys, ["--input", collection["src"], "--output", out, "--kernels",
                                  collection["kernels"], "--steps", str(STEPS)])
    assert code == 1
    assert _counts(text) == {"images": 0, "failures": 1, "skipped": 3}
    after = _tree(out)
    assert {k: v for k, v in after.items() if k != "failures.jsonl"} == {
        k: v for k, v in before.items() if k != "failures.jsonl"}
    assert after["failures.jsonl"][1] == before["failures.jsonl"][1]  # rewritten for this run, same content


def test_multi_processing_gives_the_same_outputs(collection, first_run, tmp_path, capsys):
    _, out = first_run
    code, text, _ = _run(capsys, ["--input", collection["src"], "--output", str(tmp_path), "--kernels",
                                  collection["kernels"], "--steps", str(STEPS), *MULTI])
    assert code == 1, text
    assert _counts(text) == {"images": 3, "failures": 1, "skipped": 0}, text
    want, got = _tree(out), _tree(str(tmp_path))
    assert sorted(got) == sorted(want)
    for rel in want:
        if rel.endswith(".png"):
            a, b = _read_png(os.path.join(out, rel)), _read_png(os.path.join(str(tmp_path), rel))
            assert a.dtype == b.dtype and a.shape == b.shape
            assert np.abs(a.astype(int) - b.astype(int)).max() <= (257 if a.dtype == np.uint16 else 1), rel
        else:
            assert got[rel][1] == want[rel][1]


def test_no_kernel_single_file_matches_upscale(collection, tmp_path, capsys):
    src = os.path.join(collection["src"], "a.png")
    code, text, _ = _run(capsys, ["--input", src, "--output", str(tmp_path), "--steps", str(STEPS)])
    assert code == 0 and _counts(text)["images"] == 1
    lr = np.asarray(Image.open(src))
    want = mzsr_tf.upscale(lr, scale=2, kernel=None, steps=STEPS)
    got = np.asarray(Image.open(tmp_path / "a.png"))
    assert np.abs(got.astype(int) - want.astype(int)).max() <= 1


@pytest.mark.parametrize("args, message", [
    (["--steps", "101"], "--steps must be between 0 and 100"),
    (["--kernel", "g2.0", "--kernels", "x"], "not allowed with argument"),
    (["--kernel", "no_such_kernel.npy"], "kernel file not found"),
    (["--scale", "3"], "invalid choice"),
    (["--direct_num_workers=two"], "invalid int value"),
    (["stray"], "unexpected argument"),
])
def test_bad_arguments_one_error_line_exit_2(collection, tmp_path, capsys, args, message):
    code, _, err = _run(capsys, ["--input", collection["src"], "--output", str(tmp_path / "o"), *args])
    assert code == 2
    errors = [x for x in err.splitlines() if x.startswith("error:")]
    assert len(errors) == 1 and message in errors[0] and "Traceback" not in err
    assert not os.path.exists(tmp_path / "o")


def test_missing_input_and_kernel_folder(tmp_path, capsys):
    code, _, err = _run(capsys, ["--input", str(tmp_path / "none" / "*.png"), "--output", str(tmp_path / "o")])
    assert code == 2 and "no files match" in err
    (tmp_path / "k").mkdir()
    Image.fromarray(np.zeros((20, 20, 3), np.uint8)).save(tmp_path / "x.png")
    code, _, err = _run(capsys, ["--input", str(tmp_path / "x.png"), "--output", str(tmp_path / "o"),
                                 "--kernels", str(tmp_path / "k")])
    assert code == 2 and "no kernel files" in err


def test_exported_model_with_one_kernel(collection, weights_file, tmp_path, capsys):
    from mzsr_tf.serve import export_saved_model
    from mzsr_tf.weights import load_model

    model_dir = str(tmp_path / "model")
    export_saved_model(model_dir, [v.numpy() for v in load_model(weights_file, 2, "direct").trainable_variables],
                       scale=2, subsampling="direct")
    src = os.path.join(collection["src"], "sub", "*.png")
    code, text, _ = _run(capsys, ["--input", src, "--output", str(tmp_path / "o"), "--model", model_dir,
                                  "--kernel", "g2.0", "--steps", str(STEPS)])
    assert code == 0 and _counts(text)["images"] == 1
    lr = np.asarray(Image.open(os.path.join(collection["src"], "sub", "b.png")))
    want = mzsr_tf.upscale(lr, scale=2, kernel="g2.0", steps=STEPS, weights=weights_file)
    got = np.asarray(Image.open(tmp_path / "o" / "b.png"))  # relative to the glob's folder
    assert np.abs(got.astype(int) - want.astype(int)).max() <= 1
    code, _, err = _run(capsys, ["--input", src, "--output", str(tmp_path / "o4"), "--model", model_dir,
                                 "--scale", "4"])
    assert code == 2 and "exported for x2 direct, not x4 direct" in err
