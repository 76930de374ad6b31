import re,sys,statistics as st,collections
L=open(sys.argv[1]).read().splitlines()
rows=collections.defaultdict(dict)
tmap={'conv1 fwd':'conv1 fwd','conv1 dW,db':'conv1 fwdbwd dx=false','conv1 dW,db,dX':'conv1 fwdbwd dx=true','conv2 fwd':'conv2 fwd','conv2 dW,db,dX':'conv2 fwdbwd'}
for l in L:
    if l.startswith('round'): print(l); continue
    if l.startswith('torch'):
        m=re.match(r'torch r(\d+) conv2d (conv\d) .*?(fwd\+bwd \(([^)]*)\)|3x3 p1 fwd)\s+T=(\d)\s+median\s+([\d.]+) ms\s+min\s+([\d.]+)',l)
        r,c,_,grads,t,med,mn=m.groups(); key=tmap[f"{c} {grads}" if grads else f"{c} fwd"]
        rows[(key,int(t),int(r))]['torch']=(float(med),float(mn)); continue
    p=l.split(); who=p[0]; r=int(p[1][1:]); t=int(p[2][2:]); js=l[l.index('{'):]
    if 'train-step' in l: key='cnn train-step'
    else:
        shape=re.search(r'"shape":"(\w+)"',js).group(1); ps=re.search(r'"pass":"(\w+)"',js).group(1)
        key=f"{shape} {ps}" + ((" dx=false" if '"dx":"no"' in js else " dx=true") if shape=='conv1' and ps=='fwdbwd' else "")
    med=float(re.search(r'"median_ms":([\d.]+)',js).group(1)); mn=float(re.search(r'"min_ms":([\d.]+)',js).group(1))
    rows[(key,t,r)][who]=(med,mn)
agg=collections.defaultdict(list)
for k in sorted(rows):
    d=rows[k]; agg[k[:2]].append(d)
for (case,t),ds in sorted(agg.items()):
    def col(w,i): return [d[w][i] for d in ds if w in d]
    s=f"{case:22s} T{t}: new med {st.median(col('new',0)):7.3f} best {min(col('new',1)):7.3f} | base med {st.median(col('base',0)):7.3f} best {min(col('base',1)):7.3f}"
    s+=f" | new/base per round " + " ".join(f"{d['new'][0]/d['base'][0]:.2f}" for d in ds)
    if all('torch' in d for d in ds):
        s+=f" | torch med {st.median(col('torch',0)):7.3f} best {min(col('torch',1)):7.3f} | new/torch per round (median) "+" ".join(f"{d['new'][0]/d['torch'][0]:.2f}" for d in ds)+f"; median {st.median([d['new'][0]/d['torch'][0] for d in ds]):.2f}; best/best {min(col('new',1))/min(col('torch',1)):.2f}"
    print(s)
