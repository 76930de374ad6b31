#!/bin/bash
# chargpt vs charlstm, same text, same training wall time, 2 threads, run one after the other.
N=$(realpath ${NATIVENET:-src/NativeNet.Cli/bin/Release/net10.0/NativeNet.Cli})
OUT=${OUT:-/tmp/cmp}; mkdir -p $OUT; cd $OUT
uptime > uptime-start.txt
$N train --model chargpt --epochs 7 --threads 2 --out $OUT/chargpt > chargpt.log 2>&1
uptime > uptime-mid.txt
gpt_train=$(python3 -c "import json;d=json.load(open('$OUT/chargpt/metrics.json'));print(sum(e['seconds'] for e in d['epochs']))")
$N train --model charlstm --epochs 1 --threads 2 --out $OUT/lstm1 > lstm1.log 2>&1
lstm_epoch=$(python3 -c "import json;d=json.load(open('$OUT/lstm1/metrics.json'));print(d['epochs'][0]['seconds'])")
E=$(python3 -c "print(max(1, round($gpt_train / $lstm_epoch)))")
echo "gpt_train=$gpt_train lstm_epoch=$lstm_epoch lstm_epochs=$E" > plan.txt
$N train --model charlstm --epochs $E --threads 2 --out $OUT/charlstm > charlstm.log 2>&1
uptime > uptime-end.txt
echo done > done.txt
