#!/usr/bin/env python3
"""Where the launch's processes run, sleep (by kernel stack) and wait for a CPU.

    perf record -o off.data -e sched:sched_switch,sched:sched_wakeup,sched:sched_wakeup_new,\
        sched:sched_process_fork,sched:sched_process_exec,sched:sched_process_exit -g -a -- \
        build/bench/sbx_spawn_bench --variants sbx_all --iterations 100
    perf script -i off.data -F comm,pid,tid,time,event,trace,ip,sym > off.txt
    bench/profile/offcpu.py off.txt

Roles: the benchmark ("host (bench)"), its children (box inits) and their
children (programs). Sleep time runs from switch-out to wake-up; the time
from wake-up to running again is reported as run-queue wait."""
import re, sys, collections
ROOT_COMM = sys.argv[2] if len(sys.argv) > 2 else 'sbx_spawn_bench'
hdr = re.compile(r'^\s*(\S.*?)\s+(\d+)/(\d+)\s+([\d.]+):\s+(\S+):\s*(.*)$')
events = []
cur = None
for line in open(sys.argv[1], errors='replace'):
    line = line.rstrip('\n')
    m = hdr.match(line)
    if m:
        cur = dict(comm=m.group(1), pid=int(m.group(2)), tid=int(m.group(3)), t=float(m.group(4)),
                   ev=m.group(5), tr=m.group(6), stack=[])
        events.append(cur)
    elif line.strip() and cur is not None:
        parts = line.split()
        if len(parts) >= 2:
            cur['stack'].append(parts[1])
def kv(tr):
    return dict(re.findall(r'(\w+)=(\S+)', tr))
# find root: the bench process (first exec'ed with ROOT_COMM)
root = None
parent = {}
role = {}
for e in events:
    if e['ev'] == 'sched:sched_process_exec' and root is None and ROOT_COMM in e['tr']:
        root = e['pid']
if root is None:
    # fall back: first event whose comm is ROOT_COMM
    root = next(e['pid'] for e in events if e['comm'].startswith(ROOT_COMM[:15]))
tracked = {root}
role[root] = 'host (bench)'
for e in events:
    if e['ev'] == 'sched:sched_process_fork':
        d = kv(e['tr'])
        p, c = int(d['pid']), int(d['child_pid'])
        if p in tracked:
            tracked.add(c)
            role[c] = 'box init' if p == root else 'program'
skip = {'__schedule', 'schedule', 'schedule_timeout', 'schedule_hrtimeout_range_clock', 'do_syscall_64',
        'entry_SYSCALL_64_after_hwframe', 'x64_sys_call', '__cond_resched', 'preempt_schedule_irq',
        'preempt_schedule', 'preempt_schedule_common', 'preempt_schedule_thunk', 'irqentry_exit',
        'asm_sysvec_apic_timer_interrupt', 'sysvec_apic_timer_interrupt', 'schedule_preempt_disabled'}
def key(stack):
    fr = [f for f in stack if not f.startswith('[') and not re.match(r'^[0-9a-f]+$', f)]
    k = [f for f in fr if f not in skip][:7]
    return ' <- '.join(k) if k else '(user)'
off = {}      # tid -> (t, state, key)
woke = {}     # tid -> t of wakeup
on = {}       # tid -> t switched in
agg_sleep = collections.Counter(); agg_rq = collections.Counter(); agg_cnt = collections.Counter()
oncpu = collections.Counter()
for e in events:
    if e['ev'] in ('sched:sched_wakeup', 'sched:sched_wakeup_new'):
        d = kv(e['tr']); pid = int(d['pid'])
        if pid in tracked: woke[pid] = e['t']
    elif e['ev'] == 'sched:sched_switch':
        d = kv(e['tr'])
        pp, npid, st = int(d['prev_pid']), int(d['next_pid']), d['prev_state']
        t = e['t']
        if pp in tracked:
            if pp in on: oncpu[role[pp]] += t - on.pop(pp)
            off[pp] = (t, st, key(e['stack']))
            woke.pop(pp, None)
        if npid in tracked:
            on[npid] = t
            if npid in off:
                t0, st0, k = off.pop(npid)
                tw = woke.pop(npid, None)
                if st0.startswith('R') or tw is None or tw < t0:
                    agg_rq[(role[npid], 'preempted/runnable', k)] += t - t0
                    agg_cnt[(role[npid], 'preempted/runnable', k)] += 1
                else:
                    agg_sleep[(role[npid], st0, k)] += tw - t0
                    agg_cnt[(role[npid], st0, k)] += 1
                    agg_rq[(role[npid], 'runqueue wait after wakeup', '')] += t - tw
                    agg_cnt[(role[npid], 'runqueue wait after wakeup', '')] += 1
n_iter = sum(1 for p, r in role.items() if r == 'box init')
print(f'root pid {root}, boxes {n_iter}')
print('\n== on-CPU ms per box, by role')
for r, v in sorted(oncpu.items()): print(f'  {r:14s} {1000*v/n_iter:7.3f}')
print('\n== sleeping (blocked until woken) ms per box')
for (r, st, k), v in sorted(agg_sleep.items(), key=lambda x: -x[1])[:25]:
    print(f'  {1000*v/n_iter:7.3f}  n/box={agg_cnt[(r,st,k)]/n_iter:5.2f} {r:14s} {st:3s} {k}')
print('\n== runnable but not running ms per box')
for (r, st, k), v in sorted(agg_rq.items(), key=lambda x: -x[1])[:15]:
    print(f'  {1000*v/n_iter:7.3f}  n/box={agg_cnt[(r,st,k)]/n_iter:5.2f} {r:14s} {st} {k}')
