/* Reach a HOST namespace: the box must share none of the host's user, mount,
 * pid, net, uts, ipc or cgroup namespaces, the host's /proc/<pid>/ns paths
 * must not resolve, and no nsfs file (bind-mounted ns, /run/netns) may be
 * reachable to setns(2) into. The harness passes the host's namespace inode
 * numbers (SBX_SEC_HOSTNS="type:ino ...") and its own pid (SBX_SEC_HOSTPID).
 * Layers: namespaces, mounts (no host /proc, no nsfs), caps + seccomp for setns. */
#define TECH "setns_host"
#include <dirent.h>
#include <sched.h>

#include "escape.h"

static void try_setns_path(const char* path, struct esc_log* log) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    esc_logf(log, "open %s: %s", path, errname(errno));
    return;
  }
  if (setns(fd, 0) == 0) escaped("setns(%s) succeeded", path);
  esc_logf(log, "setns(%s): %s", path, errname(errno));
  close(fd);
}

int main(void) {
  struct esc_log log = {0};
  const char* hostns = need_env("SBX_SEC_HOSTNS");
  const char* hostpid = need_env("SBX_SEC_HOSTPID");

  // 1. No namespace in common with the host.
  char spec[512];
  snprintf(spec, sizeof spec, "%s", hostns);
  int compared = 0;
  for (char *save = NULL, *tok = strtok_r(spec, " ", &save); tok != NULL; tok = strtok_r(NULL, " ", &save)) {
    char* colon = strchr(tok, ':');
    if (colon == NULL) setup_error("bad SBX_SEC_HOSTNS entry '%s'", tok);
    *colon = '\0';
    unsigned long long host_ino = strtoull(colon + 1, NULL, 10);
    char path[64];
    snprintf(path, sizeof path, "/proc/self/ns/%s", tok);
    struct stat st;
    if (stat(path, &st) != 0) setup_error("stat %s: %s", path, errname(errno));
    if ((unsigned long long)st.st_ino == host_ino)
      escaped("the box shares the host's %s namespace (inode %llu)", tok, host_ino);
    compared++;
  }
  if (compared < 7) setup_error("only %d host namespaces given", compared);
  esc_logf(&log, "%d namespaces differ from the host's", compared);

  // 2. The host's /proc/<pid>/ns paths.
  const char* types[] = {"mnt", "net", "user", "pid"};
  struct esc_log hl = {0};
  for (size_t i = 0; i < 4; i++) {
    char path[96];
    snprintf(path, sizeof path, "/proc/%s/ns/%s", hostpid, types[i]);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
      if (setns(fd, 0) == 0) escaped("setns(%s) (the host's pid) succeeded", path);
      esc_logf(&hl, "%s opened (a box pid with the host pid's number?), setns: %s", path, errname(errno));
      close(fd);
    } else {
      esc_logf(&hl, "%s", errname(errno));
    }
  }
  esc_logf(&log, "/proc/%s/ns/*: %s", hostpid, hl.text);

  // 3. nsfs files mounted somewhere, or the usual named netns directories.
  int nsfs = 0;
  FILE* mi = fopen("/proc/self/mountinfo", "re");
  if (mi == NULL) setup_error("open /proc/self/mountinfo: %s", errname(errno));
  char line[4096];
  while (fgets(line, sizeof line, mi) != NULL) {
    char mp[1024], fstype[64];
    const char* dash = strstr(line, " - ");
    if (dash == NULL || sscanf(line, "%*s %*s %*s %*s %1023s", mp) != 1 ||
        sscanf(dash + 3, "%63s", fstype) != 1)
      continue;
    if (strcmp(fstype, "nsfs") == 0) {
      nsfs++;
      try_setns_path(mp, &log);
    }
  }
  fclose(mi);
  const char* dirs[] = {"/run/netns", "/var/run/netns", "/run/docker/netns"};
  for (size_t i = 0; i < 3; i++) {
    DIR* d = opendir(dirs[i]);
    if (d == NULL) continue;
    struct dirent* de;
    while ((de = readdir(d)) != NULL) {
      if (de->d_name[0] == '.') continue;
      char path[1200];
      snprintf(path, sizeof path, "%s/%s", dirs[i], de->d_name);
      nsfs++;
      try_setns_path(path, &log);
    }
    closedir(d);
  }
  esc_logf(&log, "%d nsfs files reachable", nsfs);
  blocked("%s", log.text);
}
