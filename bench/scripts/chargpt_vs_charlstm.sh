#!/bin/bash
# chargpt vs charlstm on the same text (the default, GPL-3), both with their defaults and the same training-time budget
# (`--time-budget`, seconds of training with evaluation excluded; each stops after the epoch that crosses it), on 2 threads,
# one after the other. The machine is shared, so ROUNDS rounds alternate which model goes first; every run's metrics.json
# records the load average at its start and end. Then: python3 bench/scripts/chargpt_summary.py $OUT
set -euo pipefail
N=$(realpath "${NATIVENET:-src/NativeNet.Cli/bin/Release/net10.0/NativeNet.Cli}")
# FIRST: the first round's number (to add rounds to an earlier OUT; odd rounds start with chargpt)
OUT=${OUT:-/tmp/cmp}; BUDGET=${BUDGET:-120}; ROUNDS=${ROUNDS:-2}; THREADS=${THREADS:-2}; FIRST=${FIRST:-1}
mkdir -p "$OUT"
for round in $(seq "$FIRST" "$ROUNDS"); do
    if (( round % 2 == 1 )); then order="chargpt charlstm"; else order="charlstm chargpt"; fi
    for model in $order; do
        echo "round $round: $model ($(uptime))"
        "$N" train --model "$model" --time-budget "$BUDGET" --threads "$THREADS" --out "$OUT/round$round-$model" > "$OUT/round$round-$model.log" 2>&1
    done
done
echo "done ($(uptime))"
