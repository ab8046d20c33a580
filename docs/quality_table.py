"""Markdown quality table (Set5 PSNR per scenario) from ``evaluate --json`` outputs.

Usage: python docs/quality_table.py docs/results/set5_*.json
Rows: bicubic, each weights name at each step count, then the paper's MZSR(1) and MZSR(10).
"""
import json
import sys

from mzsr_tf.evaluate.paper_tables import PAPER_TABLE2
from mzsr_tf.scenarios import PAPER_SCENARIOS


def rows(paths):
    table = {}  # (row label) -> {scenario: psnr}
    for path in paths:
        with open(path) as f:
            rep = json.load(f)
        for sc, entry in rep["scenarios"].items():
            for label, col in entry["columns"].items():
                if col["method"] == "bicubic":
                    row = "bicubic"
                else:
                    name = col.get("weights", "default").removesuffix(".weights.h5")
                    ens = " + ensemble" if col.get("ensemble") else ""
                    row = f"{name}, {col['steps']} steps{ens}"
                table.setdefault(row, {})[sc] = col["mean"]["psnr"]
    return table


def main(paths):
    table = rows(paths)
    paper = PAPER_TABLE2["set5"]
    head = "| Set5 PSNR (dB) | " + " | ".join(PAPER_SCENARIOS) + " |"
    print(head)
    print("|---" * (len(PAPER_SCENARIOS) + 1) + "|")
    for row in sorted(table, key=lambda r: (r != "bicubic", r)):
        cells = [f"{table[row][s]:.2f}" if s in table[row] else "" for s in PAPER_SCENARIOS]
        print(f"| {row} | " + " | ".join(cells) + " |")
    for lab in ("mzsr(1)", "mzsr(10)"):
        print(f"| paper {lab.upper()} | " + " | ".join(f"{paper[s][lab]:.2f}" for s in PAPER_SCENARIOS) + " |")


if __name__ == "__main__":
    main(sys.argv[1:])
