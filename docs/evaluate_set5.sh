#!/usr/bin/env bash
# Reproduces docs/results/ and docs/figure3.png from the shipped weights (needs ../shared/data/benchmark/Set5).
cd "$(dirname "$0")/.."
mkdir -p docs/results
S5=../shared/data/benchmark/Set5
E="python -m mzsr_tf.evaluate --hr-dir $S5 --overwrite"
$E --method bicubic --scenario bicubic g0.2 g2.0 gani gb1.3 g2.0x4 --json docs/results/set5_bicubic.json > docs/results/set5_bicubic.txt 2>&1
$E --method mzsr --weights mzsr_direct_x2 --scenario g0.2 g2.0 gani --steps 0 1 10 --json docs/results/set5_meta_direct_x2.json > docs/results/set5_meta_direct_x2.txt 2>&1
$E --method mzsr --weights mzsr_bicubic_x2 --scenario bicubic gb1.3 --steps 0 1 10 --json docs/results/set5_meta_bicubic_x2.json > docs/results/set5_meta_bicubic_x2.txt 2>&1
$E --method mzsr --weights mzsr_direct_x4 --scenario g2.0x4 --steps 0 1 10 --json docs/results/set5_meta_x4.json > docs/results/set5_meta_x4.txt 2>&1
$E --method mzsr --weights pretrain_x2 --scenario bicubic g0.2 g2.0 gani gb1.3 --steps 0 1 10 --json docs/results/set5_pre_x2.json > docs/results/set5_pre_x2.txt 2>&1
$E --method mzsr --weights pretrain_x4 --scenario g2.0x4 --steps 0 1 10 --json docs/results/set5_pre_x4.json > docs/results/set5_pre_x4.txt 2>&1
python docs/figure3.py --hr-dir $S5 --scenario g2.0 --weights mzsr_direct_x2 pretrain_x2 --out docs/figure3.png > docs/results/figure3.txt 2>&1
$E --method mzsr --weights mzsr_direct_x2 --scenario g2.0 --steps 1 10 --ensemble --json docs/results/set5_meta_direct_x2_ensemble.json > docs/results/set5_meta_direct_x2_ensemble.txt 2>&1
echo done
