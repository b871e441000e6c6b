#!/usr/bin/env python3
"""libsbx from a language with no binding: Python's ctypes loads the shared
library, declares the calls it uses from the C header, runs a box and reads
its result. Exits 0 on success; prints what failed otherwise.

    ctypes_test.py PATH/TO/libsbx.so.N
"""
import ctypes
import os
import sys

SBX_OK = 0
SBX_E_PROCESS = -12
SBX_STDOUT = 1
SBX_STDIO_CAPTURE = 6
SBX_EXIT_EXITED = 1
SBX_EXIT_SIGNALED = 2
SBX_WNOHANG = 1
ECHILD = 10


class ExitStatus(ctypes.Structure):
    """struct sbx_exit_status of <sbx/sbx.h> (versioned by its size field)."""

    _fields_ = [
        ("size", ctypes.c_size_t),
        ("kind", ctypes.c_int),
        ("code", ctypes.c_int),
        ("signal", ctypes.c_int),
        ("core_dumped", ctypes.c_int),
        ("reason", ctypes.c_int),
        ("pid", ctypes.c_int),
        ("wall_ns", ctypes.c_uint64),
        ("cpu_user_ns", ctypes.c_uint64),
        ("cpu_system_ns", ctypes.c_uint64),
        ("memory_peak_bytes", ctypes.c_uint64),
        ("pids_peak", ctypes.c_uint64),
        ("output_bytes", ctypes.c_uint64),
        ("limits_hit", ctypes.c_uint32),
        ("usage_valid", ctypes.c_uint32),
    ]


failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what, file=sys.stderr)


def main(path):
    lib = ctypes.CDLL(path)
    P = ctypes.c_void_p
    PP = ctypes.POINTER(ctypes.c_void_p)
    sig = {
        "sbx_version": (ctypes.c_char_p, [P, P, P]),
        "sbx_status_name": (ctypes.c_char_p, [ctypes.c_int]),
        "sbx_error_message": (ctypes.c_char_p, [P]),
        "sbx_error_errno": (ctypes.c_int, [P]),
        "sbx_error_free": (None, [P]),
        "sbx_config_new": (ctypes.c_int, [PP, PP]),
        "sbx_config_free": (None, [P]),
        "sbx_config_set_memory_limit": (ctypes.c_int, [P, ctypes.c_uint64, PP]),
        "sbx_box_create": (ctypes.c_int, [PP, P, PP]),
        "sbx_box_start": (ctypes.c_int, [P, PP]),
        "sbx_box_stop": (ctypes.c_int, [P, ctypes.c_int, PP]),
        "sbx_box_free": (None, [P]),
        "sbx_box_waitpid": (ctypes.c_int, [P, ctypes.c_int, ctypes.c_int, ctypes.c_int,
                                           ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ctypes.c_int), PP]),
        "sbx_spec_new": (ctypes.c_int, [PP, PP]),
        "sbx_spec_free": (None, [P]),
        "sbx_spec_set_argv": (ctypes.c_int, [P, ctypes.c_size_t, ctypes.POINTER(ctypes.c_char_p), PP]),
        "sbx_spec_set_env": (ctypes.c_int, [P, ctypes.c_char_p, PP]),
        "sbx_spec_set_stdio": (ctypes.c_int, [P, ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int, PP]),
        "sbx_box_spawn": (ctypes.c_int, [P, P, PP, PP]),
        "sbx_proc_read": (ctypes.c_int, [P, ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t,
                                         ctypes.POINTER(ctypes.c_size_t), ctypes.c_int, PP]),
        "sbx_proc_wait": (ctypes.c_int, [P, ctypes.c_int, ctypes.POINTER(ExitStatus), PP]),
        "sbx_proc_box_pid": (ctypes.c_int, [P, ctypes.POINTER(ctypes.c_int)]),
        "sbx_proc_free": (None, [P]),
        "sbx_exit_reason_name": (ctypes.c_char_p, [ctypes.c_int]),
    }
    for name, (res, args) in sig.items():
        fn = getattr(lib, name)
        fn.restype = res
        fn.argtypes = args

    err = ctypes.c_void_p()

    def ok(rc, what):
        if rc != SBX_OK:
            msg = lib.sbx_error_message(err).decode() if err.value else "no error object"
            check(False, "%s: %s: %s" % (what, lib.sbx_status_name(rc).decode(), msg))
            lib.sbx_error_free(err)
            err.value = None
            return False
        return True

    major, minor, patch = ctypes.c_int(), ctypes.c_int(), ctypes.c_int()
    version = lib.sbx_version(ctypes.byref(major), ctypes.byref(minor), ctypes.byref(patch)).decode()
    check(version == "%d.%d.%d" % (major.value, minor.value, patch.value), "sbx_version " + version)

    # A bad argument comes back as an error object, not a crash.
    cfg = ctypes.c_void_p()
    assert ok(lib.sbx_config_new(ctypes.byref(cfg), ctypes.byref(err)), "sbx_config_new")
    rc = lib.sbx_config_set_memory_limit(cfg, 1, ctypes.byref(err))
    check(rc != SBX_OK and err.value and b"memory" in lib.sbx_error_message(err).lower(),
          "a 1-byte memory limit is refused with a message naming it")
    lib.sbx_error_free(err)
    err.value = None

    box = ctypes.c_void_p()
    if not (ok(lib.sbx_box_create(ctypes.byref(box), cfg, ctypes.byref(err)), "sbx_box_create")
            and ok(lib.sbx_box_start(box, ctypes.byref(err)), "sbx_box_start")):
        return
    for run in range(3):
        spec = ctypes.c_void_p()
        argv = (ctypes.c_char_p * 3)(b"/bin/sh", b"-c", b'echo "run $RUN in $(pwd)"; exit 5')
        ok(lib.sbx_spec_new(ctypes.byref(spec), ctypes.byref(err)), "sbx_spec_new")
        ok(lib.sbx_spec_set_argv(spec, 3, argv, ctypes.byref(err)), "sbx_spec_set_argv")
        ok(lib.sbx_spec_set_env(spec, ("RUN=%d" % run).encode(), ctypes.byref(err)), "sbx_spec_set_env")
        ok(lib.sbx_spec_set_stdio(spec, SBX_STDOUT, SBX_STDIO_CAPTURE, None, -1, ctypes.byref(err)),
           "sbx_spec_set_stdio")
        proc = ctypes.c_void_p()
        if not ok(lib.sbx_box_spawn(box, spec, ctypes.byref(proc), ctypes.byref(err)), "sbx_box_spawn"):
            lib.sbx_spec_free(spec)
            break
        out = b""
        buf = ctypes.create_string_buffer(4096)
        while True:
            n = ctypes.c_size_t()
            if not ok(lib.sbx_proc_read(proc, SBX_STDOUT, buf, len(buf), ctypes.byref(n), 10000,
                                        ctypes.byref(err)), "sbx_proc_read"):
                break
            if n.value == 0:
                break
            out += buf.raw[:n.value]
        check(out == ("run %d in /\n" % run).encode(), "output of run %d: %r" % (run, out))
        st = ExitStatus()
        st.size = ctypes.sizeof(ExitStatus)
        if ok(lib.sbx_proc_wait(proc, 10000, ctypes.byref(st), ctypes.byref(err)), "sbx_proc_wait"):
            check(st.kind == SBX_EXIT_EXITED and st.code == 5,
                  "run %d ended %d/%d, not exited 5" % (run, st.kind, st.code))
            check(lib.sbx_exit_reason_name(st.reason) == b"normal", "reason normal")
        box_pid = ctypes.c_int()
        lib.sbx_proc_box_pid(proc, ctypes.byref(box_pid))
        # The box's process table has it too: waitpid reports the exit once.
        wpid, wstatus = ctypes.c_int(), ctypes.c_int()
        if ok(lib.sbx_box_waitpid(box, box_pid.value, 0, 10000, ctypes.byref(wpid), ctypes.byref(wstatus),
                                  ctypes.byref(err)), "sbx_box_waitpid"):
            check(wpid.value == box_pid.value and os.WIFEXITED(wstatus.value)
                  and os.WEXITSTATUS(wstatus.value) == 5, "waitpid status %#x" % wstatus.value)
        rc = lib.sbx_box_waitpid(box, box_pid.value, SBX_WNOHANG, 0, ctypes.byref(wpid), ctypes.byref(wstatus),
                                 ctypes.byref(err))
        check(rc == SBX_E_PROCESS and lib.sbx_error_errno(err) == ECHILD, "second waitpid is ECHILD")
        lib.sbx_error_free(err)
        err.value = None
        lib.sbx_proc_free(proc)
        lib.sbx_spec_free(spec)
    ok(lib.sbx_box_stop(box, 0, ctypes.byref(err)), "sbx_box_stop")
    lib.sbx_box_free(box)
    lib.sbx_config_free(cfg)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print("usage: ctypes_test.py PATH/TO/libsbx.so.N", file=sys.stderr)
        sys.exit(2)
    main(sys.argv[1])
    if failures:
        sys.exit(1)
    print("ctypes: ok")
