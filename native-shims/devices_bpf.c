// Device access control on cgroup v2: load a BPF_PROG_TYPE_CGROUP_DEVICE
// program (instructions generated in TypeScript, src/cgroupfs/v2/devices-bpf.ts)
// and attach it to a container's cgroup, as runc and crun do. Runs in the
// Node process (no fork): plain syscalls, every fd closed before returning.
// The attachment keeps the program alive for as long as the cgroup exists.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))

static char bpf_error[4096];
static char verifier_log[64 * 1024];

static long sys_bpf(int cmd, union bpf_attr *attr) {
  return syscall(SYS_bpf, cmd, attr, sizeof(*attr));
}

static int load_program(const uint8_t *insns, int32_t len, int with_log) {
  union bpf_attr attr;
  memset(&attr, 0, sizeof(attr));
  attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
  attr.insns = (uint64_t)(uintptr_t)insns;
  attr.insn_cnt = (uint32_t)len / 8;
  attr.license = (uint64_t)(uintptr_t) "Apache";
  if (with_log) {
    verifier_log[0] = '\0';
    attr.log_buf = (uint64_t)(uintptr_t)verifier_log;
    attr.log_size = sizeof(verifier_log);
    attr.log_level = 1;
  }
  return (int)sys_bpf(BPF_PROG_LOAD, &attr);
}

/*
 * Loads the program (`len` bytes of struct bpf_insn) and, when `cgroup_dir`
 * is not empty, attaches it there (BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI).
 * Returns "" on success, otherwise "ERRNO\tmessage" (the verifier's log
 * included when loading failed).
 */
EXPORT const char *tsbox_devices_bpf_attach(const char *cgroup_dir, const uint8_t *insns, int32_t len) {
  bpf_error[0] = '\0';
  if (len <= 0 || len % 8 != 0) {
    snprintf(bpf_error, sizeof(bpf_error), "%d\tinvalid program length %d", EINVAL, len);
    return bpf_error;
  }
  int cg = -1;
  if (cgroup_dir[0] != '\0') {
    cg = open(cgroup_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (cg < 0) {
      int e = errno;
      snprintf(bpf_error, sizeof(bpf_error), "%d\topening %s: %s", e, cgroup_dir, strerror(e));
      return bpf_error;
    }
  }
  // First without a log (cheaper); on failure again with one, as libbpf does.
  int prog = load_program(insns, len, 0);
  if (prog < 0) {
    int e = errno;
    int again = load_program(insns, len, 1);
    if (again >= 0) close(again);
    size_t n = strlen(verifier_log);
    while (n > 0 && verifier_log[n - 1] == '\n') verifier_log[--n] = '\0';
    snprintf(bpf_error, sizeof(bpf_error), "%d\tbpf(BPF_PROG_LOAD): %s%s%s", e, strerror(e),
             n ? "; verifier: " : "", verifier_log);
    if (cg >= 0) close(cg);
    return bpf_error;
  }
  if (cg >= 0) {
    union bpf_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.target_fd = (uint32_t)cg;
    attr.attach_bpf_fd = (uint32_t)prog;
    attr.attach_type = BPF_CGROUP_DEVICE;
    attr.attach_flags = BPF_F_ALLOW_MULTI;
    if (sys_bpf(BPF_PROG_ATTACH, &attr) < 0) {
      int e = errno;
      snprintf(bpf_error, sizeof(bpf_error), "%d\tbpf(BPF_PROG_ATTACH) to %s: %s", e, cgroup_dir, strerror(e));
    }
    close(cg);
  }
  close(prog);
  return bpf_error;
}
