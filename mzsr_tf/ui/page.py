"""The Gradio page: components, events, and the one place where page input meets the server.

:class:`App` turns what the browser sends into :func:`mzsr_tf.ui.core.process`
calls. Files arrive as paths in Gradio's upload cache; :meth:`App.uploaded`
refuses any other path, so nothing typed or posted to the page ever names a
file on the server. Bad input raises :class:`gradio.Error` with the package's
one-line message (no traceback reaches the page).
"""
import os
import sys
import tempfile
import traceback

import gradio as gr

from ..constants import DEFAULT_STEPS, MAX_STEPS, SCALES
from ..errors import InputError
from ..io import IMAGE_EXTENSIONS
from . import core

INTRO = """# mzsr-tf: zero-shot super-resolution
Drop an image (PNG, JPEG, TIFF; 16-bit stays 16-bit) or a `.npy` array, pick the scale and the blur
kernel if you know it, and press **Upscale**. The network adapts to your image for a few gradient steps
(MZSR), then upscales it; the slider compares it with bicubic interpolation. Everything runs on this
machine; nothing is sent anywhere."""


def _shipped_weights():
    from ..weights import index

    return sorted(index())


class App:
    """The page and its handlers.

    Args:
      limits: :class:`~mzsr_tf.ui.core.Limits` (upload bytes, image pixels).
      upload_root: where Gradio stores uploads; only files below it are read.
        None means Gradio's own folder (``GRADIO_TEMP_DIR`` or the system's temp/gradio).
      concurrency: how many requests compute at once (others wait in Gradio's queue).
    """

    def __init__(self, limits=None, upload_root=None, concurrency=2):
        from gradio.utils import get_upload_folder

        self.limits = limits or core.Limits()
        self.upload_root = os.path.realpath(upload_root or get_upload_folder())
        self.concurrency = int(concurrency)
        # Results are written here, one new folder per request; removed with the process.
        self._out = tempfile.TemporaryDirectory(prefix="mzsr-ui-results-")

    def uploaded(self, value, what="image"):
        """The server path of an upload and the user's name for it, or (None, None).

        Raises:
          InputError: a path outside the upload folder (never read, whatever it names).
        """
        if not value:
            return None, None
        path = value if isinstance(value, str) else getattr(value, "path", None) or value.get("path")
        real = os.path.realpath(path)
        if os.path.commonpath([real, self.upload_root]) != self.upload_root or not os.path.isfile(real):
            raise InputError(f"{what}: not a file uploaded to this page")
        return real, os.path.basename(path)

    def _guard(self, fn, *args, **kwargs):
        """Runs a handler; the package's InputError becomes the page's error box, with its message only."""
        try:
            return fn(*args, **kwargs)
        except InputError as e:
            raise gr.Error(str(e), print_exception=False) from None
        except MemoryError:
            raise gr.Error("out of memory: try a smaller image, or start the page with a lower --max-pixels",
                           print_exception=False) from None
        except gr.Error:
            raise
        except Exception as e:  # a bug of ours: the log gets the traceback, the page one line
            traceback.print_exc(file=sys.stderr)
            raise gr.Error(f"internal error ({type(e).__name__}); the server's log has the details",
                           print_exception=False) from None

    # ------------------------------------------------------------ handlers

    def show_input(self, file):
        """The uploaded input as the browser shows it (None when the upload is cleared)."""
        return self._guard(self._show_input, file)

    def _show_input(self, file):
        from .. import arrays

        path, name = self.uploaded(file)
        if path is None:
            return None
        a, _ = core.read_upload(path, name, self.limits)
        _, spec, _ = arrays.to_unit(a, source=name)
        return core.to_view(a, spec)

    def show_kernel(self, choice, kernel_file):
        """The picture of a chosen kernel before a run ('estimate' is known only once the image is read)."""
        return self._guard(self._show_kernel, choice, kernel_file)

    def _show_kernel(self, choice, kernel_file):
        if choice == core.ESTIMATE:
            return gr.Image(value=None, label="kernel in use: estimated from the image when you press Upscale")
        path, name = self.uploaded(kernel_file, "kernel") if choice == core.UPLOADED else (None, None)
        if choice == core.UPLOADED and path is None:
            return gr.Image(value=None, label="kernel in use: upload a kernel file")
        k = core.resolve_page_kernel(choice, path, name)
        return gr.Image(value=core.kernel_picture(k), label=f"kernel in use: {core.kernel_label(choice, k)}")

    def run(self, file, scale, kernel, kernel_file, steps, weights, subsampling, ensemble, progress=gr.Progress()):
        """The Upscale button: (bicubic, MZSR) for the slider, the kernel picture, the status, the download."""
        return self._guard(self._run, file, scale, kernel, kernel_file, steps, weights, subsampling, ensemble,
                           progress)

    def _run(self, file, scale, kernel, kernel_file, steps, weights, subsampling, ensemble, progress=None):
        path, name = self.uploaded(file)
        if path is None:
            raise InputError("no image: drop an image (PNG, JPEG, TIFF, ...) or a .npy array first")
        kpath, kname = self.uploaded(kernel_file, "kernel") if kernel == core.UPLOADED else (None, None)
        say = None if progress is None else (lambda fraction, text: progress(fraction, desc=text))
        out_dir = tempfile.mkdtemp(dir=self._out.name)
        result = core.process(path, name, scale=scale, kernel_choice=kernel, steps=steps, subsampling=subsampling,
                              weights=weights, ensemble=ensemble, kernel_path=kpath, kernel_name=kname,
                              out_dir=out_dir, limits=self.limits, progress=say)
        picture = gr.Image(value=core.kernel_picture(result.kernel), label=f"kernel in use: {result.kernel_label}")
        return ((result.view_bicubic, result.view_sr), picture, core.summary(result, scale, steps, name),
                result.path)

    # ------------------------------------------------------------ layout

    def build(self):
        """The page as a :class:`gradio.Blocks` (not launched)."""
        types = [e for e in IMAGE_EXTENSIONS]
        with gr.Blocks(title="mzsr-tf", analytics_enabled=False, delete_cache=(3600, 3600)) as demo:
            gr.Markdown(INTRO)
            with gr.Row():
                with gr.Column(scale=1):
                    image = gr.File(label="image or array (PNG, JPEG, TIFF, .npy, ...)", file_types=types,
                                    elem_id="input-file")
                    preview = gr.Image(label="input", interactive=False, format="png", height=220,
                                       elem_id="input-preview")
                    scale = gr.Radio(list(SCALES), value=2, label="scale", elem_id="scale")
                    steps = gr.Slider(0, MAX_STEPS, value=DEFAULT_STEPS, step=1, label="adaptation steps",
                                      info="0 = the meta-learned network as it is; more steps fit it closer to "
                                      "your image (each costs about one forward and backward pass)",
                                      elem_id="steps")
                    kernel = gr.Dropdown(list(core.KERNEL_CHOICES), value=core.NO_KERNEL, label="blur kernel",
                                         info="none: a photo shrunk by an ordinary resizer; estimate: unknown blur "
                                         "(×2); g0.2 g2.0 g1.3 gani: the paper's kernels; or your own file",
                                         elem_id="kernel")
                    kernel_file = gr.File(label="kernel file (.npy, .mat or a grayscale image)",
                                          file_types=[".npy", ".mat", ".png", ".tif", ".tiff"], height=140,
                                          elem_id="kernel-file")
                    kernel_view = gr.Image(value=core.kernel_picture(None), label="kernel in use: no blur",
                                           interactive=False, format="png", height=170, elem_id="kernel-view")
                    with gr.Accordion("advanced", open=False):
                        weights = gr.Dropdown([core.DEFAULT_WEIGHTS, *_shipped_weights()], value=core.DEFAULT_WEIGHTS,
                                              label="weights", info="default: the shipped weights for the scale, "
                                              "the subsampling and the image", elem_id="weights")
                        subsampling = gr.Radio(list(core.SUBSAMPLING_CHOICES), value="default", label="subsampling",
                                               info="default: bicubic without a kernel, direct with one",
                                               elem_id="subsampling")
                        ensemble = gr.Checkbox(False, label="8-way self-ensemble (about 8× the upscaling time)",
                                               elem_id="ensemble")
                    button = gr.Button("Upscale", variant="primary", elem_id="run")
                with gr.Column(scale=2):
                    compare = gr.ImageSlider(label="bicubic ◀ ▶ MZSR (drag to compare)", format="png",
                                             interactive=False, max_height=720, elem_id="compare")
                    status = gr.Markdown("Drop an image to start.", elem_id="status")
                    download = gr.File(label="download (the input's format and depth)", interactive=False,
                                       elem_id="download")
            image.change(self.show_input, image, preview, show_progress="minimal")
            kernel.change(self.show_kernel, [kernel, kernel_file], kernel_view, show_progress="hidden")
            kernel_file.upload(lambda: core.UPLOADED, None, kernel, show_progress="hidden")
            kernel_file.change(self.show_kernel, [kernel, kernel_file], kernel_view, show_progress="hidden")
            button.click(self.run, [image, scale, kernel, kernel_file, steps, weights, subsampling, ensemble],
                         [compare, kernel_view, status, download], api_name="upscale",
                         concurrency_limit=self.concurrency)
        demo.queue(max_size=32)
        return demo
