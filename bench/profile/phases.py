#!/usr/bin/env python3
"""Per-phase durations of sbx launches, from a trace written by phases.sh.

    bench/profile/phases.sh /tmp/ph.txt -- build/bench/sbx_spawn_bench --variants posix_spawn,sbx_all
    bench/profile/phases.py /tmp/ph.txt

The caller is the process that calls clone3 first; each child it forks that
forks again is a box init, and the init's child is the program (posix_spawn
children never fork and are skipped). Phase boundaries are system calls of
the launch sequence in core/launch/child.cpp and launcher.cpp (as of commit
ecc2626): if that sequence changes, adjust the markers below. Times are
medians (and p10/p90/mean) over all boxes in the trace, in milliseconds.
"""
import re, sys, statistics, collections
line_re = re.compile(r'^\s*(.+?)-(\d+)\s+\[\d+\]\s+\S+\s+([\d.]+):\s+(.*)$')
ev = []
for l in open(sys.argv[1]):
    if l.startswith('#'): continue
    m = line_re.match(l.rstrip())
    if m: ev.append((float(m.group(3)), int(m.group(2)), m.group(4)))
ev.sort(key=lambda x: x[0])
# host = pid that did the first sys_clone3
host = next(p for t, p, s in ev if s.startswith('sys_clone3('))
children = collections.defaultdict(list)
for t, p, s in ev:
    m = re.match(r'sched_process_fork: .* pid=(\d+) .*child_pid=(\d+)', s)
    if m: children[int(m.group(1))].append(int(m.group(2)))
by_pid = collections.defaultdict(list)
for t, p, s in ev: by_pid[p].append((t, s))
hev = by_pid[host]
boxes = children[host]
def first(lst, pred, after=-1.0):
    for t, s in lst:
        if t >= after and pred(s): return t
    return None
def last(lst, pred, before):
    r = None
    for t, s in lst:
        if t > before: break
        if pred(s): r = t
    return r
P = collections.defaultdict(list)
order = []
for I in boxes:
    iev = by_pid[I]
    progs = children.get(I, [])
    if not progs: continue
    Pp = progs[0]; pev = by_pid[Pp]
    c_in = last(hev, lambda s: s.startswith('sys_clone3('), iev[0][0])
    c_out = first(hev, lambda s: s.startswith('sys_clone3 ->'), c_in)
    start = last(hev, lambda s: s.startswith('sys_getrusage ->'), c_in)
    sync_w = [t for t, s in hev if t > c_out and s.startswith('sys_write(')][:3]
    rel = first(iev, lambda s: s.startswith('sys_read ->'))
    m1 = first(iev, lambda s: s.startswith('sys_mount('))
    pr = [t for t, s in iev if s.startswith('sys_pivot_root(')]
    um = first(iev, lambda s: s.startswith('sys_umount ->'))
    cl = first(iev, lambda s: s.startswith('sys_clone('))
    p0 = first(pev, lambda s: s.startswith('sys_clone ->'))
    ex0 = first(pev, lambda s: s.startswith('sys_execve('))
    ex1 = first(pev, lambda s: s.startswith('sys_execve ->'))
    pexit = first(pev, lambda s: s.startswith('sys_exit_group('))
    sw = first(iev, lambda s: s.startswith('sys_rt_sigtimedwait ->'))
    iexit = first(iev, lambda s: s.startswith('sys_exit_group('))
    iexit_tp = first(iev, lambda s: s.startswith('sched_process_exit'))
    spawned = first(hev, lambda s: s.startswith('sys_read ->') , ex1)  # EOF on the error pipe
    wake = first(hev, lambda s: s.startswith('sys_poll ->') or s.startswith('sys_waitid ->'), iexit)
    end = first(hev, lambda s: s.startswith('sys_getrusage('), wake)
    vals = [start, c_in, c_out, rel, m1, um, cl, p0, ex0, ex1, pexit, sw, iexit, wake, end, spawned]
    if any(v is None for v in vals) or len(pr) < 2 or len(sync_w) < 3: continue
    ms = lambda a, b: (b - a) * 1000
    P['A caller: config/box create, plan, pipes (until clone3)'].append(ms(start, c_in))
    P['B clone3 (7 namespaces + copy of the caller)'].append(ms(c_in, c_out))
    P['C caller: uid/gid maps + release (until child read sync)'].append(ms(c_out, rel))
    P['D child: setsid, hostname, loopback up'].append(ms(rel, m1))
    P['E child: build fs view (first mount .. final pivot_root)'].append(ms(m1, pr[1]))
    P['F child: pivot_root + umount2(old root, MNT_DETACH)'].append(ms(pr[1], um))
    P['G child: drop caps/ids, no_new_privs'].append(ms(um, cl))
    P['H init: fork the program'].append(ms(cl, p0))
    P['I program: stdio, fds, chdir, signals (until execve)'].append(ms(p0, ex0))
    P['J program: execve /bin/true'].append(ms(ex0, ex1))
    P['K /bin/true runs (ld.so, libc init, exit)'].append(ms(ex1, pexit))
    P['L init: reap program, report status, exit_group'].append(ms(pexit, iexit))
    P['M init exit (do_exit, namespace teardown) -> caller woken'].append(ms(iexit, wake))
    P['N caller: reap, frees'].append(ms(wake, end))
    P['= total (getrusage to getrusage)'].append(ms(start, end))
    P['  (spawn returned: execve done -> caller reads EOF)'].append(ms(ex1, spawned))
    P['  (init exit_group -> sched_process_exit)'].append(ms(iexit, iexit_tp) if iexit_tp else 0)
n = len(P['= total (getrusage to getrusage)'])
print(f'{n} boxes')
print(f'{"phase":62s} {"median":>7s} {"p10":>7s} {"p90":>7s} {"mean":>7s}  (ms)')
for k in sorted(P):
    xs = sorted(P[k]); q = lambda p: xs[min(len(xs)-1, int(p*(len(xs)-1)+0.5))]
    print(f'{k:62s} {statistics.median(xs):7.3f} {q(0.1):7.3f} {q(0.9):7.3f} {statistics.mean(xs):7.3f}')
s = sum(statistics.median(P[k]) for k in P if k[0] in 'ABCDEFGHIJKLMN')
print(f'sum of phase medians {s:.3f}')
