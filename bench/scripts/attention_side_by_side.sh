#!/bin/bash
# NativeNet vs PyTorch 1.13, interleaved, 1 thread: SDPA fwd/fwdbwd at T=128 and 512 (B=8, heads 4, head dim 32, causal) and one
# chargpt training step. Raw lines go to bench/results/attention/raw.txt (an earlier raw.txt is kept as raw-DATE-TIME.txt);
# bench/scripts/attention_summary.py makes attention.md.
# Run from the repository root after `dotnet build -c Release src/NativeNet.Cli`: bench/scripts/attention_side_by_side.sh [ROUNDS]
set -euo pipefail
ROUNDS=${1:-3}
N=src/NativeNet.Cli/bin/Release/net10.0/NativeNet.Cli
OUT=bench/results/attention
mkdir -p $OUT
RAW=$OUT/raw.txt
# Keep the previous run as history (attention_summary.py lists it under the new table), named by its first round's time.
if [ -s $RAW ]; then
  stamp=$(head -1 $RAW | grep -o '[0-9][0-9]:[0-9][0-9]:[0-9][0-9]' | head -1 | tr -d :)
  mv $RAW $OUT/raw-$(date -r $RAW +%Y%m%d)-${stamp:-old}.txt
fi
: > $RAW
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1
for r in $(seq 1 $ROUNDS); do
  echo "round $r uptime $(uptime)" >> $RAW
  for seq in 128 512; do
    for pass in fwd fwdbwd; do
      echo "nativenet $($N bench attention --threads 1 --seq $seq --pass $pass)" >> $RAW
      echo "torch $(/usr/bin/python3 bench/scripts/torch_attention.py 1 attention $pass $seq)" >> $RAW
    done
  done
  echo "nativenet $($N bench gpt-step --threads 1 --repeats 5 --min-time 0)" >> $RAW
  echo "torch $(/usr/bin/python3 bench/scripts/torch_attention.py 1 gpt-step)" >> $RAW
done
echo "end uptime $(uptime)" >> $RAW
