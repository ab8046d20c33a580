"""Values several parts of the package must agree on, defined once and imported everywhere."""

SCALES = (2, 4)  # scales with shipped weights and a command-line choice
SUBSAMPLINGS = ("direct", "bicubic")  # how an LR image was taken from the blurred HR image
DEFAULT_STEPS = 10  # adaptation steps of Algorithm 2 when none are asked for
MAX_STEPS = 100  # more steps than this are refused (commands, API, exported models)
MIN_SON_SIDE = 8  # the son that adaptation learns from needs this many pixels a side
MAX_LR_PIXELS = 2048 * 2048  # largest LR image one graph run accepts
MAX_KERNEL_SIDE = 64  # largest blur kernel side
SUM_TOLERANCE = 0.1  # a kernel summing within ±10 % of 1 is renormalised, else refused
KERNEL_SIZE = 15  # side of the Eq. 3 kernels of p(k) and of the benchmark scenarios
KERNEL_NAMES = ("g0.2", "g2.0", "g1.3", "gani")  # the paper's scenario kernels (kernels.NAMED), known without TensorFlow
ONNX_OPSET = 17  # the ONNX export's default opset (tf2onnx 1.17)
