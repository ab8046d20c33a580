#!/usr/bin/env bash
# Regenerates docs/results/ (the model card's Set5 table) and docs/figure3.png from the shipped
# weights; run it after shipping new weights.   Usage: bash docs/evaluate_set5.sh PATH/TO/Set5
set -euo pipefail
S5=$(cd "${1:?usage: bash docs/evaluate_set5.sh PATH/TO/Set5}" && pwd)
cd "$(dirname "$0")/.."
mkdir -p docs/results
E="python -m mzsr_tf.evaluate --hr-dir $S5 --overwrite"
# the defaults, as upscale picks them for each scenario, with and without the self-ensemble
$E --method mzsr mzsr+ensemble --scenario bicubic g0.2 g2.0 gani gb1.3 g2.0x4 --steps 0 1 10 --json docs/results/set5_defaults.json > docs/results/set5_defaults.txt 2>&1
$E --method bicubic --scenario bicubic g0.2 g2.0 gani gb1.3 g2.0x4 --json docs/results/set5_bicubic.json > docs/results/set5_bicubic.txt 2>&1
$E --method mzsr --weights mzsr_direct_x2 --scenario g0.2 g2.0 gani --steps 0 1 10 --json docs/results/set5_meta_direct_x2.json > docs/results/set5_meta_direct_x2.txt 2>&1
$E --method mzsr --weights mzsr_bicubic_x2 --scenario bicubic gb1.3 --steps 0 1 10 --json docs/results/set5_meta_bicubic_x2.json > docs/results/set5_meta_bicubic_x2.txt 2>&1
$E --method mzsr --weights mzsr_direct_x4 --scenario g2.0x4 --steps 0 1 10 --json docs/results/set5_meta_x4.json > docs/results/set5_meta_x4.txt 2>&1
$E --method mzsr --weights pretrain_x2 --scenario bicubic g0.2 g2.0 gani gb1.3 --steps 0 1 10 --json docs/results/set5_pre_x2.json > docs/results/set5_pre_x2.txt 2>&1
$E --method mzsr --weights pretrain_x4 --scenario g2.0x4 --steps 0 1 10 --json docs/results/set5_pre_x4.json > docs/results/set5_pre_x4.txt 2>&1
python docs/figure3.py --hr-dir $S5 --scenario g2.0 --weights kernel_aware_direct_x2 mzsr_direct_x2 pretrain_all_x2 pretrain_all_x2:adam:1e-4 pretrain_x2:adam:3e-4 pretrain_x2 --out docs/figure3.png > docs/results/figure3.txt 2>&1
$E --method mzsr --weights mzsr_direct_x2 --scenario g2.0 --steps 1 10 --ensemble --json docs/results/set5_meta_direct_x2_ensemble.json > docs/results/set5_meta_direct_x2_ensemble.txt 2>&1
echo done
