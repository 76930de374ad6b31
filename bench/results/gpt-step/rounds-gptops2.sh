#!/bin/bash
# Interleaved rounds: this branch, main (3119394) in /tmp/gptops2-main, PyTorch 1.13; 1 thread, gpt-step.
set -u
ROUNDS=${1:-4}
B=/work/wt/gptops2/src/NativeNet.Cli/bin/Release/net10.0/NativeNet.Cli
M=/tmp/gptops2-main/src/NativeNet.Cli/bin/Release/net10.0/NativeNet.Cli
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1
cd /work/wt/gptops2
for r in $(seq 1 $ROUNDS); do
  echo "round $r uptime $(uptime)"
  echo "branch $($B bench gpt-step --threads 1 --repeats 5 --min-time 0)"
  echo "main $($M bench gpt-step --threads 1 --repeats 5 --min-time 0)"
  echo "torch $(/usr/bin/python3 bench/scripts/torch_attention.py 1 gpt-step)"
done
echo "end uptime $(uptime)"
