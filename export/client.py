#!/usr/bin/env python
"""Client for an mzsr-tf model on TensorFlow Serving: REST (JSON, base64) or gRPC.

    # REST: sends the encoded file (base64) to adapt_encoded, gets PNG bytes back
    python export/client.py LR.png --out SR.png --kernel kernel.npy --steps 10 \
        --rest http://localhost:8501 --model mzsr

    # gRPC: sends a uint8 [1, H, W, 3] tensor to serving_default, gets uint8 back
    python export/client.py LR.png --out SR.png --kernel kernel.npy --steps 10 \
        --grpc localhost:8500 --model mzsr

Without ``--kernel`` the kernel is [[1.0]] (no blur: the son is the plain
subsampled image). ``--no-adapt`` calls the feed-forward signatures
(``upscale_encoded`` / ``upscale``). REST needs only the standard library and
NumPy; gRPC needs ``grpcio`` and ``tensorflow-serving-api`` (which import
TensorFlow). The request builders are plain functions so that tests can feed the
exact request to a loaded SavedModel.
"""
import argparse
import base64
import io
import json
import sys
import urllib.error
import urllib.request

import numpy as np

NO_BLUR = [[1.0]]


# ------------------------------------------------------------------ inputs
def read_kernel(path=None):
    """A float32 [k, k] kernel from a ``.npy`` file, or [[1.0]] (no blur) for None.

    The server validates it (2-D, finite, non-negative, sum ~1, not larger
    than the image); the client only reads it.
    """
    if path is None:
        return np.asarray(NO_BLUR, np.float32)
    return np.asarray(np.load(path, allow_pickle=False), np.float32)


def decode_rgb(data):
    """uint8 [1, H, W, 3] from encoded image bytes (needs Pillow)."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(im.convert("RGB"), np.uint8)[None]


# -------------------------------------------------------------------- REST
def rest_url(server, model, version=None):
    """``http://HOST:8501/v1/models/MODEL[/versions/N]:predict``."""
    base = server.rstrip("/")
    if not base.startswith(("http://", "https://")):
        base = "http://" + base
    ver = f"/versions/{int(version)}" if version is not None else ""
    return f"{base}/v1/models/{model}{ver}:predict"


def rest_request(image_bytes, kernel=None, steps=10, adapt=True):
    """The JSON body (a dict) for a REST predict call, columnar ("inputs") format.

    Args:
      image_bytes: the encoded PNG/JPEG file, sent as {"b64": ...}.
      kernel: [k, k] array-like (None: no blur); ignored without ``adapt``.
      steps: number of adaptation steps; ignored without ``adapt``.
      adapt: ``adapt_encoded`` (True) or ``upscale_encoded`` (False).
    """
    inputs = {"image_bytes": {"b64": base64.b64encode(bytes(image_bytes)).decode("ascii")}}
    if adapt:
        k = np.asarray(NO_BLUR if kernel is None else kernel, np.float32)
        inputs["kernel"] = [[float(v) for v in row] for row in k]
        inputs["steps"] = int(steps)
    return {"signature_name": "adapt_encoded" if adapt else "upscale_encoded", "inputs": inputs}


def parse_rest_response(body):
    """PNG bytes from a REST predict response (dict or JSON text).

    TF Serving writes a single output without its name ("outputs": value) and
    base64-encodes string outputs whose name ends in ``_bytes``.

    Raises:
      RuntimeError: the response is an error (its message is kept).
    """
    if isinstance(body, (bytes, str)):
        body = json.loads(body)
    if "error" in body:
        raise RuntimeError(body["error"])
    out = body["outputs"]
    if isinstance(out, dict) and "sr_png_bytes" in out:
        out = out["sr_png_bytes"]
    if isinstance(out, list):  # row format or a batched output: one image
        out = out[0]
    return base64.b64decode(out["b64"])


def rest_predict(server, model, request, version=None, timeout=600.0):
    """POSTs ``request`` (from :func:`rest_request`) and returns the SR image as PNG bytes."""
    data = json.dumps(request).encode("utf-8")
    req = urllib.request.Request(rest_url(server, model, version), data=data,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return parse_rest_response(resp.read())
    except urllib.error.HTTPError as e:  # TF Serving answers {"error": "..."} with 4xx/5xx
        text = e.read().decode("utf-8", "replace")
        try:
            message = json.loads(text).get("error", text)
        except ValueError:
            message = text
        raise RuntimeError(f"HTTP {e.code}: {message}") from None


# -------------------------------------------------------------------- gRPC
def _tensor_proto(array, dtype):
    import tensorflow as tf

    return tf.make_tensor_proto(np.asarray(array, dtype))


def grpc_request(image, kernel=None, steps=10, adapt=True, model="mzsr", version=None):
    """A ``PredictRequest`` for ``serving_default`` (adapt) or ``upscale``.

    Args:
      image: uint8 [1, H, W, 3] (or [H, W, 3]) array.
      kernel, steps, adapt: as in :func:`rest_request`.
      model: the model name on the server.
      version: a model version, or None for the latest.
    """
    from tensorflow_serving.apis import predict_pb2

    image = np.asarray(image)
    if image.ndim == 3:
        image = image[None]
    req = predict_pb2.PredictRequest()
    req.model_spec.name = model
    req.model_spec.signature_name = "serving_default" if adapt else "upscale"
    if version is not None:
        req.model_spec.version.value = int(version)
    req.inputs["image"].CopyFrom(_tensor_proto(image, np.uint8))
    if adapt:
        req.inputs["kernel"].CopyFrom(_tensor_proto(NO_BLUR if kernel is None else kernel, np.float32))
        req.inputs["steps"].CopyFrom(_tensor_proto(np.int32(steps), np.int32))
    return req


def parse_grpc_response(response):
    """The SR image, uint8 [1, sH, sW, 3], from a ``PredictResponse``."""
    import tensorflow as tf

    return tf.make_ndarray(response.outputs["sr"])


GRPC_OPTIONS = [("grpc.max_send_message_length", 1 << 30), ("grpc.max_receive_message_length", 1 << 30)]


def grpc_predict(target, request, timeout=600.0):
    """Sends ``request`` to ``HOST:8500`` and returns the SR image (uint8 [1, sH, sW, 3])."""
    import grpc
    from tensorflow_serving.apis import prediction_service_pb2_grpc

    with grpc.insecure_channel(target, options=GRPC_OPTIONS) as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        return parse_grpc_response(stub.Predict(request, timeout=timeout))


# -------------------------------------------------------------------- main
def main(argv=None):
    p = argparse.ArgumentParser(description="Call an mzsr-tf model on TensorFlow Serving.")
    p.add_argument("image", help="LR image (PNG/JPEG)")
    p.add_argument("--out", required=True, help="where to write the SR image (PNG)")
    p.add_argument("--kernel", default=None, help=".npy blur kernel of the LR image (default: no blur)")
    p.add_argument("--steps", type=int, default=10, help="adaptation steps (default 10)")
    p.add_argument("--no-adapt", action="store_true", help="feed-forward only (upscale signatures)")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--rest", default=None, metavar="URL", help="REST endpoint (default http://localhost:8501)")
    where.add_argument("--grpc", default=None, metavar="HOST:PORT", help="gRPC endpoint, e.g. localhost:8500")
    p.add_argument("--model", default="mzsr", help="model name on the server (default mzsr)")
    p.add_argument("--version", type=int, default=None, help="model version (default: latest)")
    p.add_argument("--timeout", type=float, default=600.0)
    args = p.parse_args(argv)
    try:
        with open(args.image, "rb") as f:
            data = f.read()
        kernel = read_kernel(args.kernel)
        if args.grpc:
            req = grpc_request(decode_rgb(data), kernel, args.steps, not args.no_adapt, args.model, args.version)
            sr = grpc_predict(args.grpc, req, args.timeout)
            from PIL import Image

            Image.fromarray(sr[0]).save(args.out)
        else:
            req = rest_request(data, kernel, args.steps, not args.no_adapt)
            png = rest_predict(args.rest or "http://localhost:8501", args.model, req, args.version, args.timeout)
            with open(args.out, "wb") as f:
                f.write(png)
    except (OSError, ValueError, RuntimeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except Exception as e:  # grpc.RpcError and friends: one line, not a traceback
        print(f"error: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
