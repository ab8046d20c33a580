#!/usr/bin/env bash
# Continue a committed training run on a CUDA machine that has JAX but no TensorFlow,
# in one resumable chunk, and leave the run state where it can be brought back and committed.
#
#   bash bench/gpu_train.sh RUN_DIR [MINUTES] [SHARD]
#     RUN_DIR  a run folder with config.yaml and checkpoints (e.g. training/mzsr_direct_x2)
#     MINUTES  wall-clock budget of the chunk (default 8; the run stops cleanly with a checkpoint)
#     SHARD    training crops made beforehand with `python -m mzsr_tf.data.shard --out SHARD`
#              on a machine with the image folders (default .shard/train_crops.npz)
#
# What it does: checks the imports it needs (jax, keras, numpy, h5py, pyyaml, tqdm), prints the
# devices, times bench/train_speed.py's meta-iteration on the device (figures for the training log),
# resumes RUN_DIR with the JAX backend reading the shard, then copies RUN_DIR to $OUT/RUN_DIR
# when $OUT is set (for machines whose runner collects one output folder). The run's own config.yaml files
# are restored in that copy: the shard path belongs to the machine that ran the chunk.
set -euo pipefail
cd "$(dirname "$0")/.."
run=${1:?usage: bash bench/gpu_train.sh RUN_DIR [MINUTES] [SHARD]}
minutes=${2:-8}
shard=${3:-.shard/train_crops.npz}
export KERAS_BACKEND=jax XLA_PYTHON_CLIENT_PREALLOCATE=false PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"

[ -f "$run/config.yaml" ] || { echo "error: $run: no config.yaml (not a run folder)" >&2; exit 2; }
[ -f "$shard" ] || { echo "error: $shard: no training shard (python -m mzsr_tf.data.shard --out $shard)" >&2; exit 2; }
python - <<'PY'
import importlib, sys
missing = [m for m in ("jax", "keras", "numpy", "h5py", "yaml", "tqdm") if importlib.util.find_spec(m) is None]
if missing:
    sys.exit("error: missing Python packages: " + ", ".join(missing))
import jax
print("jax", jax.__version__, "devices:", jax.devices())
PY

saved=$(mktemp -d)
find "$run" -name config.yaml | while read -r f; do mkdir -p "$saved/$(dirname "$f")"; cp "$f" "$saved/$f"; done

stage=$(python - "$run" <<'PY'
import os, sys, yaml
cfg = yaml.safe_load(open(os.path.join(sys.argv[1], "config.yaml")))
print(cfg.get("stages", ["pretrain", "meta"])[-1])
PY
)
if [ "$stage" = "meta" ]; then
  timeout 120 python bench/train_speed.py --preset cpu --steps 3 || echo "note: train_speed did not finish in 120 s"
fi

rc=0
python -m mzsr_tf.train --resume "$run" --set data.shard="$shard" --max-minutes "$minutes" --no-progress || rc=$?
# 0: the run finished; 3: stopped at the time limit with a checkpoint (resume with the same command).
cp -r "$saved/$run/." "$run/"
if [ -n "${OUT:-}" ]; then
  mkdir -p "$OUT/$run"
  cp -r "$run/." "$OUT/$run/"
  echo "run state copied to \$OUT/$run"
fi
[ "$rc" = 0 ] || [ "$rc" = 3 ] || exit "$rc"
