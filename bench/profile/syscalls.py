#!/usr/bin/env python3
"""Per-box syscall counts and time spent inside them, per process role
(caller, box init, init while building the filesystem view, program), from
a trace written by `phases.sh OUT --all -- ...`. Traced syscalls are slower
than untraced ones (about 1 us each here): use the counts and proportions."""
import re, sys, collections
line_re = re.compile(r'^\s*(.+?)-(\d+)\s+\[\d+\]\s+\S+\s+([\d.]+):\s+(.*)$')
ev=[]
for l in open(sys.argv[1]):
    if l.startswith('#'): continue
    m=line_re.match(l.rstrip())
    if m: ev.append((float(m.group(3)),int(m.group(2)),m.group(4)))
ev.sort(key=lambda x: x[0])
host=next(p for t,p,s in ev if s.startswith('sys_clone3('))
kids=collections.defaultdict(list)
for t,p,s in ev:
    m=re.match(r'sched_process_fork: .* pid=(\d+) .*child_pid=(\d+)',s)
    if m: kids[int(m.group(1))].append(int(m.group(2)))
role={host:'caller'}
for i in kids[host]:
    role[i]='init'
    for c in kids.get(i,[]): role[c]='program'
nbox=len(kids[host])
# in-fs-build window per init: first mount .. second pivot_root
open_={}
cnt=collections.Counter(); tim=collections.Counter()
infs={}
prc=collections.Counter()
for t,p,s in ev:
    r=role.get(p)
    if not r: continue
    m=re.match(r'sys_(\w+)\(',s)
    if m:
        name=m.group(1)
        if r=='init' and name=='mount' and p not in infs: infs[p]=True
        if r=='init' and name=='pivot_root':
            prc[p]+=1
            if prc[p]==2: infs[p]=False
        open_[p]=(name,t, r+(' [fs build]' if (r=='init' and infs.get(p)) else ''))
        continue
    m=re.match(r'sys_(\w+) -> ',s)
    if m and p in open_:
        name,t0,rr=open_.pop(p)
        cnt[(rr,name)]+=1; tim[(rr,name)]+=t-t0
tot=collections.Counter(); totc=collections.Counter()
for (r,n),v in tim.items(): tot[r]+=v; totc[r]+=cnt[(r,n)]
print(f'{nbox} boxes')
for r in sorted(tot):
    print(f'{r}: {totc[r]/nbox:.0f} traced syscalls/box, {1000*tot[r]/nbox:.3f} ms in them')
    for (rr,n),v in sorted(tim.items(), key=lambda x:-x[1]):
        if rr==r and v/nbox>0.000005: print(f'    {n:16s} {cnt[(rr,n)]/nbox:6.1f}/box {1000*v/nbox:7.3f} ms/box  {1e6*v/cnt[(rr,n)]:6.1f} us each')
