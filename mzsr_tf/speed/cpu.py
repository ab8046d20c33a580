"""What the processor is and can do, from /proc/cpuinfo (Linux) with portable fallbacks.

No TensorFlow import here: ``mzsr-tf info`` and the calibration's cache key
need these facts before (or without) a backend.
"""
import os
import platform
import re

# Instruction-set flags that decide the speed of our convolutions (as /proc/cpuinfo spells them).
FEATURES = ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile", "amx_bf16")
# Flags under which bfloat16 arithmetic runs in hardware; without one TensorFlow emulates it
# (measured 10-40x slower than float32 on an AVX2 CPU).
NATIVE_BF16_FLAGS = ("avx512_bf16", "amx_bf16")


def _cpuinfo(path="/proc/cpuinfo"):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def cpu_model(text=None):
    """The processor's model name ('AMD EPYC', 'Intel(R) Xeon(R) ...'), or platform's guess.

    Args:
      text: /proc/cpuinfo's contents (read when None).
    """
    m = re.search(r"^model name\s*:\s*(.+)$", _cpuinfo() if text is None else text, re.M)
    return m.group(1).strip() if m else (platform.processor() or platform.machine() or "unknown")


def cpu_flags(text=None):
    """The set of instruction-set flags of the first processor (empty where /proc/cpuinfo is absent)."""
    m = re.search(r"^flags\s*:\s*(.+)$", _cpuinfo() if text is None else text, re.M)
    return set(m.group(1).split()) if m else set()


def native_bf16(flags=None):
    """True when the CPU does bfloat16 arithmetic in hardware (AVX512-BF16 or AMX-BF16)."""
    flags = cpu_flags() if flags is None else flags
    return any(f in flags for f in NATIVE_BF16_FLAGS)


def core_count():
    """CPUs this process may run on (its affinity), the number TensorFlow's thread pools size to."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def cpu_summary():
    """One line: model, cores, the speed-relevant flags present and whether bf16 is native."""
    flags = cpu_flags()
    have = [f for f in FEATURES if f in flags]
    return (f"CPU: {cpu_model()}, {core_count()} cores; flags: {' '.join(have) or 'none of ' + ' '.join(FEATURES)}; "
            f"native bf16: {'yes' if native_bf16(flags) else 'no (emulated)'}")
