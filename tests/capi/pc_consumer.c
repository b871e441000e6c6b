/* A minimal out-of-tree consumer of the installed libsbx, built both through
 * pkg-config and through find_package(sbx) by install_test.sh: it runs
 * /bin/sh -c 'exit 3' in a box and prints "ok" when the C API reports
 * exactly that. Everything it creates is freed. */
#include <sbx/sbx.h>
#include <stdio.h>

static int fail(const char* what, int status, sbx_error* err) {
  fprintf(stderr, "pc_consumer: %s failed: %s (%d): %s\n", what, sbx_status_name(status), status,
          err != NULL ? sbx_error_message(err) : "(no error object)");
  sbx_error_free(err);
  return 1;
}

int main(void) {
  static const char* const argv[] = {"/bin/sh", "-c", "exit 3"};
  sbx_error* err = NULL;
  sbx_config* cfg = NULL;
  sbx_box* box = NULL;
  sbx_spec* spec = NULL;
  sbx_proc* proc = NULL;
  sbx_exit_status st = SBX_EXIT_STATUS_INIT;
  int rc = 1;
  int s;

  if ((s = sbx_config_new(&cfg, &err)) != SBX_OK) {
    rc = fail("sbx_config_new", s, err);
  } else if ((s = sbx_box_create(&box, cfg, &err)) != SBX_OK) {
    rc = fail("sbx_box_create", s, err);
  } else if ((s = sbx_spec_new(&spec, &err)) != SBX_OK) {
    rc = fail("sbx_spec_new", s, err);
  } else if ((s = sbx_spec_set_argv(spec, sizeof argv / sizeof argv[0], argv, &err)) != SBX_OK) {
    rc = fail("sbx_spec_set_argv", s, err);
  } else if ((s = sbx_box_spawn(box, spec, &proc, &err)) != SBX_OK) {
    rc = fail("sbx_box_spawn", s, err);
  } else if ((s = sbx_proc_wait(proc, -1, &st, &err)) != SBX_OK) {
    rc = fail("sbx_proc_wait", s, err);
  } else if (st.kind != SBX_EXIT_EXITED || st.code != 3 || sbx_exit_shell_code(&st) != 3) {
    fprintf(stderr, "pc_consumer: expected EXITED with code 3, got kind=%d code=%d signal=%d\n", st.kind,
            st.code, st.signal);
  } else {
    rc = 0;
  }

  sbx_proc_free(proc);
  sbx_spec_free(spec);
  sbx_box_free(box);
  sbx_config_free(cfg);
  if (rc == 0) {
    printf("ok\n");
  }
  return rc;
}
