"""The ``mzsr-tf`` console script and the error handling every command shares.

Each command module (train, upscale, evaluate, export, tune) defines
``main(argv=None) -> int``; ``mzsr-tf NAME ARGS`` runs the same function as
``python -m mzsr_tf.NAME ARGS``.
"""
import argparse
import functools
import importlib
import sys

from .errors import InputError

COMMANDS = {
    "upscale": "super-resolve an image or a folder (zero-shot adaptation)",
    "evaluate": "PSNR/SSIM on a benchmark folder under the paper's scenarios",
    "train": "pretraining and meta-transfer learning",
    "export": "SavedModel (adapts in-graph, for TF Serving) and ONNX export",
    "tune": "KerasTuner search over the inner and meta learning rates",
    "estimate": "estimate the blur kernel of LR images (blind SR) and the blind evaluation",
    "batch": "upscale whole collections with Apache Beam (local, Dataflow, Flink)",
    "ui": "a local web page to upscale on (needs the [ui] extra)",
    "info": "CPU features, versions, and the speed choices made for this machine",
}

# Commands whose module is not ``mzsr_tf.NAME`` (that name is the Python API's function).
MODULES = {"upscale": "mzsr_tf.commands.upscale", "info": "mzsr_tf.speed.info"}


class ArgumentParser(argparse.ArgumentParser):
    """argparse that raises InputError (one line, exit 2 via :func:`guarded`) instead of exiting."""

    def error(self, message):
        self.print_usage(sys.stderr)
        raise InputError(message)


def guarded(main):
    """Turns user errors into one line on stderr and exit status 2, never a traceback.

    Catches :class:`InputError` (bad image, kernel, argument, output path) and
    KeyboardInterrupt (exit 130); argparse's exits become the return value.
    Programming errors still raise. ``--version``
    prints the package version and exits 0 for every command, before parsing.
    """

    @functools.wraps(main)
    def wrapper(argv=None):
        if "--version" in (sys.argv[1:] if argv is None else argv):
            return print_version()
        try:
            return main(argv)
        except InputError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            return 130
        except SystemExit as e:  # argparse's --help (and its own usage errors) end here
            return e.code if isinstance(e.code, int) else 0

    return wrapper


def print_version():
    from . import __version__

    print(f"mzsr-tf {__version__}")
    return 0


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--version"]:
        return print_version()
    if not argv or argv[0] in ("-h", "--help"):
        print("usage: mzsr-tf [--version] COMMAND [ARGS]  (mzsr-tf COMMAND --help for each)\n\ncommands:")
        for name, text in COMMANDS.items():
            print(f"  {name:<9} {text}")
        return 0 if argv else 2
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"error: unknown command {name!r}; one of {', '.join(COMMANDS)}", file=sys.stderr)
        return 2
    module = importlib.import_module(MODULES.get(name, f"mzsr_tf.{name}"))
    return module.main(rest)


if __name__ == "__main__":
    sys.exit(main())
