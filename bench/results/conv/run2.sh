#!/usr/bin/env bash
R=${ROUNDS:-3}; out=${OUT:-/tmp/convbench/log3}; : > $out
unset OPENBLAS_CORETYPE
for r in $(seq 1 $R); do for t in 1 2; do
  echo "round $r T=$t uptime: $(uptime)" >> $out
  (cd /tmp/convbench && OMP_WAIT_POLICY=PASSIVE GLIBC_TUNABLES=glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=1073741824 OMP_NUM_THREADS=$t OPENBLAS_NUM_THREADS=$t /usr/bin/python3 torch_conv_cases.py $t) | sed "s/^/torch r$r /" >> $out
  for b in base new; do
    d=$([ $b = base ] && echo /tmp/conv-base || echo /work/wt/conv)
    while read -r c; do
      echo "$b r$r T=$t $c $(dotnet $d/src/NativeNet.Cli/bin/Release/net10.0/NativeNet.Cli.dll bench $c --backend simd --threads $t --json)" >> $out
    done <<'CASES'
conv2d --shape conv1 --pass fwd
conv2d --shape conv1 --pass fwdbwd --dx false
conv2d --shape conv1 --pass fwdbwd --dx true
conv2d --shape conv2 --pass fwd
conv2d --shape conv2 --pass fwdbwd
train-step --model cnn --batch 128
CASES
  done
done; done
