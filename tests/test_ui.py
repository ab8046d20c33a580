"""The page (mzsr_tf.ui): its request function, its guards, and the real Gradio server.

Real components throughout: the package's readers and writers, ``mzsr_tf.upscale``,
a Gradio server on a free port and ``gradio_client`` talking to it over HTTP.
Images are tiny and runs take one adaptation step, so the module stays fast.
"""
import os
import socket
import threading

import numpy as np
import pytest

import gradio as gr
from mzsr_tf import upscale
from mzsr_tf.errors import InputError
from mzsr_tf.io import read_array, write_array
from mzsr_tf.ui import core
from mzsr_tf.ui.page import App


def _image(seed, h=32, w=40):
    """A smooth uint8 RGB image with seeded texture: different seeds give clearly different images."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    base = np.stack([x * 5 + seed * 40, y * 6, (x + y) * 3], axis=-1) % 256
    return np.clip(base + rng.normal(0, 12, base.shape), 0, 255).astype(np.uint8)


@pytest.fixture
def uploads(tmp_path):
    """A folder standing in for Gradio's upload cache, and an App that reads only from it."""
    root = tmp_path / "uploads"
    root.mkdir()
    return root, App(upload_root=str(root))


def _save(folder, name, a):
    path = str(folder / name)
    write_array(path, a)
    return path


def test_process_is_the_api_and_keeps_8_bit(tmp_path):
    a = _image(0)
    path = _save(tmp_path, "photo.png", a)
    r = core.process(path, "photo.png", scale=2, steps=1, out_dir=str(tmp_path))
    assert r.sr.shape == (64, 80, 3) and r.sr.dtype == np.uint8
    np.testing.assert_array_equal(r.sr, upscale(a, scale=2, steps=1, weights=r.weights))  # no second pipeline
    np.testing.assert_array_equal(r.bicubic, upscale(a, scale=2, method="bicubic"))
    assert r.weights == "pretrain_x2" and r.seconds > 0 and r.kernel is None
    assert os.path.basename(r.path) == "photo_x2.png"
    np.testing.assert_array_equal(read_array(r.path)[0], r.sr)
    assert r.view_sr.dtype == np.uint8 and r.view_sr.shape == (64, 80, 3)
    text = core.summary(r, 2, 1, "photo.png")
    assert "→ 80×64 uint8" in text and "**pretrain_x2**" in text  # width × height, as the command says sizes


def test_16_bit_png_stays_16_bit_and_npy_stays_npy(tmp_path):
    a16 = (_image(1)[..., 0].astype(np.uint16) * 257 + 3)  # gray, values no 8-bit image holds
    r = core.process(_save(tmp_path, "scan.png", a16), "scan.png", scale=2, steps=1, kernel_choice="g2.0",
                     out_dir=str(tmp_path))
    back, _ = read_array(r.path)
    assert r.path.endswith("scan_x2.png") and back.dtype == np.uint16 and back.shape == (64, 80)
    np.testing.assert_array_equal(back, r.sr)
    assert r.kernel_label == "paper kernel g2.0, 15×15" and r.weights == "kernel_aware_direct_x2"
    data = np.random.default_rng(2).normal(5.0, 3.0, (32, 40, 5)).astype(np.float32)
    r = core.process(_save(tmp_path, "fields.npy", data), "fields.npy", scale=2, steps=1, out_dir=str(tmp_path))
    back = np.load(r.path)
    assert r.path.endswith("fields_x2.npy") and back.dtype == np.float32 and back.shape == (64, 80, 5)
    assert any("min–max" in n for n in r.notes)  # a data array's mapping is reported


def test_estimate_and_uploaded_kernels_are_the_kernels_used(tmp_path):
    a = _image(3)
    path = _save(tmp_path, "a.png", a)
    r = core.process(path, "a.png", scale=2, steps=0, kernel_choice=core.ESTIMATE, out_dir=str(tmp_path))
    assert r.kernel.shape == (15, 15) and r.kernel_label.startswith("estimated")
    assert any(n.startswith("estimated kernel") for n in r.notes)
    np.testing.assert_array_equal(r.sr, upscale(a, scale=2, steps=0, kernel="estimate"))
    k = np.outer([1, 2, 1], [1, 2, 1]).astype(np.float64) / 16 * 1.05  # sums to 1.05: renormalised, said
    (tmp_path / "k").mkdir()  # the first result is a_x2.png in tmp_path already
    kp = str(tmp_path / "k.npy")
    np.save(kp, k)
    r = core.process(path, "a.png", scale=2, steps=0, kernel_choice=core.UPLOADED, kernel_path=kp,
                     kernel_name="mine.npy", out_dir=str(tmp_path / "k"))
    np.testing.assert_allclose(r.kernel, k / k.sum(), rtol=1e-6)
    assert any("mine.npy" in n and "normalised" in n for n in r.notes)
    assert not any(kp in n for n in r.notes)  # server paths never shown
    pic = core.kernel_picture(r.kernel)
    assert pic.dtype == np.uint8 and pic.shape == (150, 150, 3) and pic[75, 75].sum() > pic[0, 0].sum()


def _command_error(capsys, tmp_path, path, *extra):
    from mzsr_tf.commands.upscale import main

    assert main([path, str(tmp_path / "cmd_out.png"), *extra]) == 2
    return capsys.readouterr().err.strip().splitlines()[-1].removeprefix("error: ")


def test_errors_are_the_commands_with_the_users_names(tmp_path, capsys):
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 40)
    with pytest.raises(InputError) as e:
        core.process(str(bad), "holiday.png")
    assert str(e.value) == _command_error(capsys, tmp_path, str(bad)).replace(str(bad), "holiday.png")
    good = _save(tmp_path, "g.png", _image(0))
    kbad = str(tmp_path / "kbad.npy")
    np.save(kbad, -np.ones((3, 3)))
    with pytest.raises(InputError) as e:
        core.process(good, "g.png", kernel_choice=core.UPLOADED, kernel_path=kbad, kernel_name="k.npy")
    assert str(e.value) == _command_error(capsys, tmp_path, good, "--kernel", kbad).replace(kbad, "k.npy")
    tiny = _save(tmp_path, "tiny.png", _image(0, 8, 8))
    with pytest.raises(InputError) as e:
        core.process(tiny, "tiny.png", scale=4)
    assert str(e.value) == _command_error(capsys, tmp_path, tiny, "--scale", "4").replace(tiny, "tiny.png")
    with pytest.raises(InputError, match="steps must be between 0 and 100"):
        core.process(good, "g.png", steps=101)


def test_limits_refuse_before_decoding(tmp_path):
    junk = tmp_path / "huge.png"
    junk.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 4096)  # corrupt: decoding it would say so
    with pytest.raises(InputError, match=r"huge.png: file is 4.1 kB, more than the 1.0 kB this page takes"):
        core.process(str(junk), "huge.png", limits=core.Limits(max_upload_bytes=1000))
    big = _save(tmp_path, "big.png", _image(0, 64, 64))
    with pytest.raises(InputError, match=r"big.png: image is 64×64 pixels .* more than the 0.0 MP this page"):
        core.process(big, "big.png", limits=core.Limits(max_pixels=4000))


def test_page_reads_only_uploads(uploads, tmp_path):
    root, app = uploads
    outside = _save(tmp_path, "secret.png", _image(0))
    for path in (outside, "/etc/passwd", str(root / ".." / "secret.png"), str(root)):
        with pytest.raises(InputError, match="not a file uploaded to this page"):
            app.uploaded(path)
        with pytest.raises(gr.Error, match="not a file uploaded to this page"):
            app.run(path, 2, "none", None, 1, "default", "default", False, progress=None)
    inside = _save(root, "ok.png", _image(0))
    assert app.uploaded({"path": inside}) == (os.path.realpath(inside), "ok.png")
    with pytest.raises(gr.Error, match="no image: drop an image"):
        app.run(None, 2, "none", None, 1, "default", "default", False, progress=None)


def test_concurrent_requests_get_their_own_results(uploads):
    root, app = uploads
    paths = [_save(root, f"img{i}.png", _image(10 + i)) for i in range(2)]
    serial = [app._run(p, 2, "g2.0", None, 1, "default", "default", False) for p in paths]
    results, barrier = [None, None], threading.Barrier(2)

    def request(i):
        barrier.wait()  # both enter TensorFlow together
        results[i] = app._run(paths[i], 2, "g2.0", None, 1, "default", "default", False)

    threads = [threading.Thread(target=request, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i in range(2):
        (_, sr), _, status, path = results[i]
        assert f"img{i}.png" in status and os.path.basename(path) == f"img{i}_x2.png"
        assert path != serial[i][3]  # each request writes its own folder
        diff_own = np.abs(read_array(path)[0].astype(int) - read_array(serial[i][3])[0].astype(int)).max()
        diff_other = np.abs(read_array(path)[0].astype(int) - read_array(serial[1 - i][3])[0].astype(int)).max()
        assert diff_own <= 1 and diff_other > 50, (diff_own, diff_other)


def test_weights_load_once_per_process(uploads):
    from mzsr_tf import methods

    root, app = uploads
    path = _save(root, "w.png", _image(4))
    app._run(path, 2, "g0.2", None, 1, "default", "default", False)
    before = dict(methods._PARAMS)
    app._run(path, 2, "g0.2", None, 1, "default", "default", False)
    assert methods._PARAMS.keys() == before.keys() and all(methods._PARAMS[k] is v for k, v in before.items())


def test_warm_up_loads_the_default_weights():
    from mzsr_tf import methods

    assert core.warm_up() > 0
    assert any(os.path.basename(key[0]).startswith("pretrain_x2.") for key in methods._PARAMS)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_real_server_two_clients_at_once(tmp_path):
    """The launched page over HTTP: two clients at once, each gets its own image; errors arrive as one line."""
    import httpx
    from gradio_client import Client, handle_file
    from PIL import Image

    from mzsr_tf.ui import build

    demo = build(core.Limits(max_upload_bytes=1 << 20))
    _, url, _ = demo.launch(server_name="127.0.0.1", server_port=_free_port(), prevent_thread_lock=True,
                            quiet=True, max_file_size=1 << 20)
    try:
        assert url.startswith("http://127.0.0.1:")
        images = [_image(20 + i, 32, 48) for i in range(2)]
        paths = [_save(tmp_path, f"c{i}.png", a) for i, a in enumerate(images)]
        clients = [Client(url, verbose=False) for _ in range(2)]
        args = (2, "none", None, 1, "default", "default", False)
        jobs = [c.submit(handle_file(p), *args, api_name="/upscale") for c, p in zip(clients, paths)]
        for a, job in zip(images, jobs):
            (bic, sr), _, status, download = job.result(timeout=300)
            want = upscale(a, scale=2, steps=1, weights="pretrain_x2")
            got = np.asarray(Image.open(download))
            assert got.shape == (64, 96, 3) and np.abs(got.astype(int) - want).max() <= 1
            np.testing.assert_array_equal(np.asarray(Image.open(sr).convert("RGB")), got)
            assert "pretrain_x2" in status and "s** (1 step(s))" in status
        bad = tmp_path / "oops.png"
        bad.write_bytes(b"not an image at all")
        with pytest.raises(Exception) as e:
            clients[0].predict(handle_file(str(bad)), *args, api_name="/upscale")
        assert str(e.value) == "oops.png: not an image (or a format Pillow cannot read)"
        # over HTTP as any program could send it: a large upload is refused while it arrives,
        # and a server path in a request is never read
        assert httpx.post(url + "gradio_api/upload", files={"files": ("big.npy", b"\0" * (2 << 20))}).status_code == 413
        fake = {"path": "/etc/passwd", "meta": {"_type": "gradio.FileData"}}
        r = httpx.post(url + "gradio_api/call/upscale", json={"data": [fake, *args]})
        with httpx.stream("GET", url + f"gradio_api/call/upscale/{r.json()['event_id']}", timeout=60) as events:
            reply = "".join(events.iter_text())
        assert "event: error" in reply and "root:" not in reply
    finally:
        demo.close()


def test_command_line(capsys):
    from mzsr_tf.cli import main

    assert main(["ui", "--help"]) == 0 and "--host" in capsys.readouterr().out
    assert main(["ui", "--port", "0"]) == 2 and "must be at least 1" in capsys.readouterr().err
    assert main(["--help"]) == 0 and "ui " in capsys.readouterr().out
