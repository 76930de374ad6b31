"""Writes bench/results/chargpt.md from the metrics.json files copied into bench/results/chargpt/ (one per run)."""
import json, os, sys
d = sys.argv[1] if len(sys.argv) > 1 else "bench/results/chargpt"
runs = {
    "chargpt.json": "nativenet train --model chargpt --epochs 7 --threads 2 (defaults: batch 32, context 128, width 128, 4×4 heads, adamw lr 1e-3, 10 warm-up steps, cosine, clip 1)",
    "charlstm.json": "nativenet train --model charlstm --epochs 74 --threads 2 (defaults; 74 epochs = chargpt's training seconds / charlstm's first-epoch seconds)",
    "chargpt-small.json": "nativenet train --model chargpt --batch 8 --seq-len 64 --lr 3e-3 --epochs 7 --threads 2 (run while the test suite ran)",
    "chargpt-13.json": "nativenet train --model chargpt --batch 8 --seq-len 64 --lr 3e-3 --epochs 13 --threads 2 (low load)",
    "chargpt-lr1e-2.json": "nativenet train --model chargpt --batch 8 --seq-len 64 --lr 1e-2 --epochs 7 --threads 2",
}
rows = ["| run | parameters | epochs | train s (sum of epochs) | final val loss | best val loss | final val acc | load avg start → end |", "|---|---|---|---|---|---|---|---|"]
for f, cmd in runs.items():
    p = os.path.join(d, f)
    if not os.path.exists(p): continue
    m = json.load(open(p)); e = m["epochs"]
    rows.append(f"| `{cmd}` | {m['parameters']:,} | {len(e)} | {sum(x['seconds'] for x in e):.1f} | **{e[-1]['test_loss']:.4f}** | {min(x['test_loss'] for x in e):.4f} | {100*e[-1]['test_acc']:.2f}% | {m['load_average_start']} → {m['load_average_end']} |")
text = f"""# chargpt vs charlstm: validation loss with the same training time (default text, 2 threads)

Validation = the last 10% of /usr/share/common-licenses/GPL-3 (3,515 characters); "train s" excludes evaluation and sampling.
The first two rows come from `bench/scripts/chargpt_vs_charlstm.sh` (run one after the other on the shared 2-core machine);
the table is made by `python3 bench/scripts/chargpt_summary.py` from the runs' metrics.json in bench/results/chargpt/.

{chr(10).join(rows)}

Result: with about the same training time charlstm reaches the lower validation loss; chargpt's defaults get only about 56
optimizer steps in that budget and are still far from converged, so the issue's "chargpt beats charlstm" is not met here. Smaller
chargpt steps (batch 8, context 64: ~800 steps in 87 s) drive the training loss to 2.03 but the validation loss stalls at 2.71:
on 31,634 training characters the 0.8M-parameter GPT (no dropout) overfits faster than it generalises, while charlstm's best
validation loss (1.99, at an earlier epoch) and its final one (2.60) are both lower.
"""
open("bench/results/chargpt.md", "w").write(text); print(text)
