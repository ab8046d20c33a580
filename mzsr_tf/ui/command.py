"""``mzsr-tf ui`` / ``python -m mzsr_tf.ui``: start the page on this machine.

    mzsr-tf ui [--port 7860] [--host 127.0.0.1] [--max-upload-mb 50] [--max-pixels N] [--concurrency 2]
               [--no-warm-up]

It listens on 127.0.0.1 (this machine only) unless ``--host`` says otherwise.
"""
import argparse
import sys
import threading

from ..cli import ArgumentParser, guarded
from ..errors import InputError
from . import core


def _positive(text):
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {n}")
    return n


def build_parser():
    """The argument parser of ``mzsr-tf ui``."""
    p = ArgumentParser(prog="mzsr-tf ui", description="A local web page to upscale images with MZSR (needs the [ui] extra: "
                "pip install -e \".[ui]\").")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1: this machine only; 0.0.0.0 opens it to the network)")
    p.add_argument("--port", type=_positive, default=7860, help="port (default 7860)")
    p.add_argument("--max-upload-mb", type=_positive, default=core.DEFAULT_MAX_UPLOAD_BYTES // 1_000_000, metavar="MB",
                   help="largest upload in MB, refused before it is decoded (default %(default)s)")
    p.add_argument("--max-pixels", type=_positive, default=core.DEFAULT_MAX_PIXELS, metavar="N",
                   help="largest image in pixels, H·W (default %(default)s = 2048²; the command tiles any size)")
    p.add_argument("--concurrency", type=_positive, default=2, metavar="N",
                   help="requests computed at once; more wait in the queue (default 2)")
    p.add_argument("--no-warm-up", dest="warm_up", action="store_false",
                   help="do not start TensorFlow and compile in the background at start-up (the first request then does)")
    p.add_argument("--version", action="store_true", help="print the version and exit")
    return p


def build(limits=None, concurrency=2):
    """The page as an unlaunched :class:`gradio.Blocks` (for tests and embedding).

    Raises:
      InputError: Gradio is not installed.
    """
    try:
        from .page import App
    except ImportError as e:
        if getattr(e, "name", "") and e.name.split(".")[0] == "gradio":
            raise InputError('the page needs Gradio: pip install -e ".[ui]"') from None
        raise
    return App(limits=limits, concurrency=concurrency).build()


def _warm_up():
    try:
        core.warm_up()
    except Exception as e:  # the page works without it; the first request then starts TensorFlow itself
        print(f"note: warm-up failed ({type(e).__name__}: {e}); the first request starts TensorFlow", file=sys.stderr)


@guarded
def main(argv=None):
    """Starts the page and serves until interrupted; returns 0 (2 for bad arguments or a busy port)."""
    args = build_parser().parse_args(argv)
    limits = core.Limits(max_upload_bytes=args.max_upload_mb * 1_000_000, max_pixels=args.max_pixels)
    demo = build(limits, args.concurrency)
    try:
        # quiet: Gradio's own banner suggests share=True, a tunnel this command does not offer
        _, url, _ = demo.launch(server_name=args.host, server_port=args.port, max_file_size=limits.max_upload_bytes,
                                show_error=False, inbrowser=False, quiet=True, prevent_thread_lock=True)
    except OSError as e:  # port in use, address not on this machine
        raise InputError(f"cannot listen on {args.host}:{args.port} ({e})") from None
    print(f"mzsr-tf ui: open {url} in a browser (Ctrl+C stops it)", flush=True)
    if args.warm_up:
        threading.Thread(target=_warm_up, daemon=True).start()
    demo.block_thread()  # until Ctrl+C, which closes the server
    return 0
