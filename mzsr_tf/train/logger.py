"""Training logs: TensorBoard (when TensorFlow is importable) and a CSV that always works."""
import csv
import os


class Logger:
    def __init__(self, log_dir):
        os.makedirs(log_dir, exist_ok=True)
        self.dir = log_dir
        self._csv_path = os.path.join(log_dir, "metrics.csv")
        self._tb = None
        try:
            import tensorflow as tf

            self._tf = tf
            self._tb = tf.summary.create_file_writer(log_dir)
        except ImportError:  # JAX machines have no TensorFlow: CSV only
            self._tf = None

    def scalars(self, step, values):
        """Logs a dict of name -> float at ``step``."""
        new = not os.path.exists(self._csv_path)
        with open(self._csv_path, "a", newline="") as f:
            w = csv.writer(f)
            if new:
                w.writerow(["step", "name", "value"])
            for k, v in values.items():
                w.writerow([step, k, f"{float(v):.6g}"])
        if self._tb is not None:
            with self._tb.as_default():
                for k, v in values.items():
                    self._tf.summary.scalar(k, float(v), step=step)

    def images(self, step, name, images):
        """Logs a float [N, H, W, 3] batch in [0, 1] to TensorBoard."""
        if self._tb is not None:
            with self._tb.as_default():
                self._tf.summary.image(name, images, step=step, max_outputs=4)

    def flush(self):
        if self._tb is not None:
            self._tb.flush()
