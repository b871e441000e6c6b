#!/usr/bin/env python3
"""Attributes CPU samples to the work of a launch, by the kernel functions on
each sample's call stack (first matching rule wins).

    perf record -o cpu.data -e cpu-clock -F 4000 -g -a -- build/bench/sbx_spawn_bench --variants sbx_all --iterations 300 --warmup 3
    perf script -i cpu.data -F comm,pid,tid,time,period,event,ip,sym > cpu.txt
    bench/profile/cpu_shares.py cpu.txt 303      # 303 = launches in the recording

Samples of the benchmark, /bin/true and the box init count as "box";
kworker/ksoftirqd/rcu threads as "deferred kernel work" (most of it is the
launches' cleanup, some may be unrelated); everything else is listed apart.
Sampling with call graphs slows launches down: read shares, not times."""
import re, sys, collections
fn = sys.argv[1]; boxes = int(sys.argv[2])
hdr = re.compile(r'^(\S.*?)\s+(\d+)/(\d+)\s+([\d.]+):\s+(\d+)\s+(\S+):?\s*$')
samples = []
cur = None
for line in open(fn, errors='replace'):
    line = line.rstrip('\n')
    m = hdr.match(line)
    if m:
        cur = [m.group(1), int(m.group(2)), int(m.group(5)), []]
        samples.append(cur)
    elif line.strip() and cur is not None:
        p = line.split()
        if len(p) >= 2: cur[3].append(p[1])
rules = [
    ('clone3: new net ns (setup_net)', ['copy_net_ns']),
    ('clone3: copy mount ns', ['copy_mnt_ns']),
    ('clone3: new ipc ns (mqueue mount)', ['copy_ipcs']),
    ('clone3: new user ns', ['create_user_ns']),
    ('clone3: new pid ns', ['copy_pid_ns', 'create_pid_namespace']),
    ('clone3: new uts/cgroup ns', ['copy_utsname', 'copy_cgroup_ns']),
    ('clone3/fork: copy mm (dup_mmap)', ['dup_mmap', 'dup_mm']),
    ('clone3/fork: rest of copy_process', ['copy_process', 'kernel_clone']),
    ('exit: mount ns teardown', ['put_mnt_ns', 'umount_tree']),
    ('exit: net ns put', ['put_net']),
    ('exit: ipc ns put', ['put_ipc_ns']),
    ('exit: free_nsproxy other', ['free_nsproxy']),
    ('exit: exit_mmap', ['exit_mmap']),
    ('exit: other do_exit', ['do_exit']),
    ('execve (kernel)', ['bprm_execve', 'do_execveat_common', '__x64_sys_execve']),
    ('umount2 old root', ['__x64_sys_umount', 'path_umount']),
    ('pivot_root', ['__x64_sys_pivot_root', '__do_sys_pivot_root']),
    ('mount(2)', ['__x64_sys_mount']),
    ('mount_setattr(2)', ['__x64_sys_mount_setattr']),
    ('open/openat2/mkdir/symlink/stat', ['__x64_sys_openat', '__x64_sys_openat2', '__x64_sys_mkdirat', '__x64_sys_symlinkat', '__x64_sys_newfstatat', '__do_sys_newfstatat', '__x64_sys_mkdir', '__x64_sys_open', '__do_sys_openat2', '__do_sys_open']),
    ('close/close_range', ['__x64_sys_close', '__x64_sys_close_range', '__do_sys_close_range', '__fput', 'task_work_run']),
    ('uid/gid map write', ['proc_uid_map_write', 'proc_gid_map_write', 'map_write']),
    ('loopback up (ioctl)', ['__x64_sys_ioctl']),
    ('rt_sigaction', ['__x64_sys_rt_sigaction']),
    ('prctl/capset/setres*id', ['__x64_sys_prctl', '__do_sys_prctl', '__do_sys_capset', '__x64_sys_setsid', '__x64_sys_capset', '__x64_sys_setresuid', '__x64_sys_setresgid', '__x64_sys_setgroups']),
    ('page faults', ['exc_page_fault', 'asm_exc_page_fault']),
    ('read/write/poll/wait (kernel)', ['__x64_sys_read', '__x64_sys_write', '__x64_sys_poll', '__x64_sys_waitid', '__x64_sys_wait4', '__x64_sys_rt_sigtimedwait', 'do_sys_poll']),
    ('other syscalls', ['do_syscall_64']),
    ('softirq/irq', ['handle_softirqs', '__irq_exit_rcu', 'sysvec_apic_timer_interrupt', 'asm_sysvec_apic_timer_interrupt']),
]
def is_user(f):
    return not (f.startswith('__x64') or f in ('do_syscall_64', 'entry_SYSCALL_64_after_hwframe'))
tot = collections.Counter()
for comm, pid, period, st in samples:
    if comm == 'swapper' or comm.startswith('cc1') or comm in ('perf', 'ninja', 'as', 'ld', 'collect2', 'c++', 'cmake', 'make', 'g++'):
        if comm == 'swapper': tot[('idle', 'idle')] += period
        else: tot[('other', 'other work on the machine: ' + comm)] += period
        continue
    if comm.startswith('kworker') or comm.startswith('ksoftirqd') or comm.startswith('rcu') or comm.startswith('migration'):
        cat = 'deferred kernel work'
        sub = 'other'
        for k in ('cleanup_net', 'free_ipc', 'free_user_ns', 'delayed_mntput', 'rcu_exp', 'rcu_do_batch', 'rcu_core', 'process_one_work'):
            if k in st: sub = k; break
        tot[(cat, comm.split('/')[0] + ': ' + sub)] += period
        continue
    if comm not in ('sbx_spawn_bench', 'true', 'sbx_spawn_benc', 'sbx-init'):
        tot[('other', 'other work on the machine: ' + comm)] += period
        continue
    s = set(st)
    who = 'box'
    for name, keys in rules:
        if any(k in s for k in keys):
            tot[(who, name)] += period; break
    else:
        # user space
        dso = 'user space (' + comm + ')'
        tot[(who, dso)] += period
grand = sum(v for (c, n), v in tot.items() if c in ('box', 'deferred kernel work'))
print(f'samples {len(samples)}; boxes {boxes}; per box CPU in tracked tasks+deferred: {grand/1e6/boxes:.3f} ms')
for (c, n), v in sorted(tot.items(), key=lambda x: (x[0][0], -x[1])):
    print(f'  {c:22s} {v/1e6/boxes:8.3f} ms/box  {n}')
