"""``mzsr-tf info``: the CPU's features, the versions, and the speed choices made for this machine.

    mzsr-tf info [--calibrate]

Prints the processor model and the instruction-set features that decide our
speed (AVX2, AVX-512, AVX512-BF16, AMX), whether bfloat16 is native, the
TensorFlow / Keras / onnxruntime versions, the convolution gradient path the
adaptation takes and where that choice comes from (``MZSR_TF_CONV_GRAD``, the
cached calibration and its timings, or none yet), the default precision, and
onnxruntime's execution providers. ``--calibrate`` measures again now and
replaces the cached choice.
"""
import argparse
import os
import statistics
import sys

from ..cli import guarded
from . import cpu


def _versions():
    import keras
    import tensorflow as tf

    from .. import __version__

    out = [("mzsr-tf", __version__), ("python", sys.version.split()[0]), ("tensorflow", tf.__version__),
           ("keras", f"{keras.__version__} (backend {keras.backend.backend()})")]
    try:
        import onnxruntime as ort

        from ..serve.onnx import onnx_providers

        out.append(("onnxruntime", f"{ort.__version__}; available providers {', '.join(ort.get_available_providers())}; "
                                   f"ONNX sessions ask for {', '.join(onnx_providers())}"))
    except ImportError:
        out.append(("onnxruntime", "not installed"))
    return out


def _timings(record):
    """'tf 49.4 ms (best 46.3), custom 62.3 ms (best 59.0)' from a cache record."""
    return ", ".join(f"{name} {statistics.median(ms):.1f} ms median (best {min(ms):.1f}, {len(ms)} runs)"
                     for name, ms in record["timings_ms"].items())


def _conv_grad_lines(do_calibrate):
    from .. import backend
    from . import calibrate

    if backend.NAME != "tensorflow":
        return [f"conv gradient path: n/a (the {backend.NAME} backend takes its own gradients)"]
    forced = calibrate.env_choice()
    record = calibrate.calibrate() if do_calibrate else calibrate.cached_record()
    lines = []
    if forced:
        lines.append(f"conv gradient path: {forced} (set by {calibrate.ENV_CONV_GRAD})")
    elif record:
        lines.append(f"conv gradient path: {record['choice']} ({'measured now' if do_calibrate else 'cached'})")
    else:
        lines.append("conv gradient path: not calibrated yet (measured at the first adaptation, about 1 s; "
                     "mzsr-tf info --calibrate measures now)")
    if record:
        lines.append(f"  calibration: one {record['channels']}->{record['channels']} 3x3 layer's gradients on "
                     f"{record['side']}x{record['side']}, {_timings(record)}; took {record['seconds']:.2f} s "
                     f"on {record['measured_at']}")
        lines.append(f"  cache: {calibrate.cache_path(record['key'])}"
                     + ("" if record.get("cached", True) else " (could not be written)"))
    lines.append(f"  override: {calibrate.ENV_CONV_GRAD}=tf|custom|auto, or mzsr_tf.backend.set_conv_grad('tf')")
    return lines


def report(do_calibrate=False):
    """The lines ``mzsr-tf info`` prints."""
    from . import precision

    flags = cpu.cpu_flags()
    lines = [f"cpu: {cpu.cpu_model()}, {cpu.core_count()} cores (os.cpu_count {os.cpu_count()})",
             "  features: " + ", ".join(f"{f} {'yes' if f in flags else 'no'}" for f in cpu.FEATURES),
             f"  bfloat16: {'native' if cpu.native_bf16(flags) else 'emulated (no avx512_bf16 / amx_bf16): slow'}"]
    lines += [f"{name}: {value}" for name, value in _versions()]
    lines += _conv_grad_lines(do_calibrate)
    lines.append(f"precision: {precision.describe()}")
    return lines


def main(argv=None):
    p = argparse.ArgumentParser(prog="mzsr-tf info", description=__doc__.split("\n\n")[0])
    p.add_argument("--calibrate", action="store_true", help="time the gradient paths now and cache the choice")
    args = p.parse_args(argv)
    print("\n".join(report(args.calibrate)))
    return 0


main = guarded(main)

if __name__ == "__main__":
    sys.exit(main())
