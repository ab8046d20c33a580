"""Training data: HR image sources, the crop shard, and batch/task samplers."""
