// tsbox-seccomp: compiles a seccomp filter with libseccomp and writes the BPF
// program (struct sock_filter[]) to stdout. The policy is decided in
// TypeScript (src/native/seccomp-compiler.ts); this is only the glue to libseccomp, a
// program of its own so that neither libtsbox_shim.so nor the static monitor
// links libseccomp. Input on stdin, one directive a line:
//   default <action>                    the filter's default action (u32, SCMP_ACT_*)
//   arch <name>                         an architecture besides the native one (x86, x32, arm, ...)
//   rule <action> <syscall> <n> [<arg> <op> <a> <b>]*n
//   enosys                              prepend runc's ENOSYS stub (below)
// Syscall names libseccomp does not know are skipped (as runc does). Errors:
// one line on stderr, exit 1. `--version` prints "libseccomp X.Y.Z <path of the .so>".
//
// The ENOSYS stub (runc's libcontainer/seccomp/patchbpf): a syscall newer than
// every syscall the profile names, for its architecture, answers ENOSYS rather
// than the default action's EPERM, so a libc that tries a new syscall first
// (clone3, fchmodat2, ...) falls back to the old one instead of failing.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static _Noreturn void die(const char *fmt, const char *a, int err) {
  fprintf(stderr, "seccomp: ");
  fprintf(stderr, fmt, a);
  if (err) fprintf(stderr, ": %s", strerror(err));
  fputc('\n', stderr);
  exit(1);
}

static unsigned long long num(char **p, const char *what) {
  char *end;
  errno = 0;
  unsigned long long v = strtoull(*p, &end, 10);
  if (end == *p || errno || (*end != ' ' && *end != '\n' && *end != 0)) die("bad number in %s", what, 0);
  *p = end;
  return v;
}

static char *word(char **p) {
  while (**p == ' ') (*p)++;
  char *w = *p;
  while (**p && **p != ' ' && **p != '\n') (*p)++;
  if (**p) *(*p)++ = 0;
  return w;
}

#define MAX_ARCHES 8
#define X32_SYSCALL_BIT 0x40000000U
static uint32_t arches[MAX_ARCHES];
static int max_nr[MAX_ARCHES];  // highest syscall number the profile names, per arch (-1: none)
static int narches;

static void note_syscall(const char *name) {
  for (int i = 0; i < narches; i++) {
    int nr = seccomp_syscall_resolve_name_arch(arches[i], name);
    if (nr > max_nr[i]) max_nr[i] = nr;
  }
}

static int arch_index(uint32_t a) {
  for (int i = 0; i < narches; i++) if (arches[i] == a) return i;
  return -1;
}

// Writes the stub; it ends by falling through to libseccomp's program, which
// loads what it needs itself.
static void write_enosys_stub(void) {
  struct sock_filter f[4 + 5 * MAX_ARCHES];
  size_t n = 0, enosys_at, jgt[2 * MAX_ARCHES], njgt = 0;
  int x32 = arch_index(SCMP_ARCH_X32);
  f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
  for (int i = 0; i < narches; i++) {
    if (arches[i] == SCMP_ARCH_X32 || max_nr[i] < 0) continue;  // x32 is checked under x86_64's audit arch
    int with_x32 = arches[i] == SCMP_ARCH_X86_64 && x32 >= 0 && max_nr[x32] >= 0;
    // if (arch != A) skip this block
    unsigned char skip = (unsigned char)(arches[i] == SCMP_ARCH_X86_64 ? 4 : 2);
    f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, arches[i], 0, skip);
    f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
    if (arches[i] == SCMP_ARCH_X86_64) {
      // x32 numbers carry X32_SYSCALL_BIT: compared with x32's maximum, or left to libseccomp.
      f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, X32_SYSCALL_BIT, 1, 0);
    }
    jgt[njgt++] = n;
    f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JGT | BPF_K, (uint32_t)max_nr[i], 0, 0);
    if (with_x32) {
      jgt[njgt++] = n;
      f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JGT | BPF_K, (uint32_t)max_nr[x32], 0, 0);
    } else if (arches[i] == SCMP_ARCH_X86_64) {
      f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JA, 0, 0, 0);  // patched: to the end
      jgt[njgt++] = n - 1;
    }
  }
  f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JA, 1, 0, 0);  // no match: past the ENOSYS return
  enosys_at = n;
  f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS);
  // Every comparison: greater → ENOSYS, else → the end (libseccomp's program).
  for (size_t j = 0; j < njgt; j++) {
    struct sock_filter *c = &f[jgt[j]];
    if (c->code == (BPF_JMP | BPF_JA)) { c->k = (uint32_t)(n - jgt[j] - 1); continue; }
    c->jt = (unsigned char)(enosys_at - jgt[j] - 1);
    c->jf = (unsigned char)(n - jgt[j] - 1);
  }
  if (write(1, f, n * sizeof *f) != (ssize_t)(n * sizeof *f)) die("writing %s", "the ENOSYS stub", errno);
}

int main(int argc, char **argv) {
  if (argc > 1 && !strcmp(argv[1], "--version")) {
    const struct scmp_version *v = seccomp_version();
    Dl_info info = {0};
    dladdr((void *)seccomp_init, &info);
    printf("libseccomp %u.%u.%u %s\n", v->major, v->minor, v->micro, info.dli_fname ? info.dli_fname : "");
    return 0;
  }
  size_t cap = 1 << 16, len = 0;
  char *in = malloc(cap);
  for (ssize_t r; in && (r = read(0, in + len, cap - len - 1)) != 0; ) {
    if (r < 0) { if (errno == EINTR) continue; die("reading %s", "stdin", errno); }
    len += (size_t)r;
    if (len + 1 == cap && !(in = realloc(in, cap *= 2))) break;
  }
  if (!in) die("%s", "out of memory", 0);
  in[len] = 0;

  scmp_filter_ctx ctx = NULL;
  int stub = 0;
  for (char *line = in, *next; *line; line = next) {
    next = strchrnul(line, '\n');
    if (*next) *next++ = 0;
    char *p = line;
    char *op = word(&p);
    if (!*op) continue;
    if (!strcmp(op, "default")) {
      if (ctx) die("%s", "default given twice", 0);
      if (!(ctx = seccomp_init((uint32_t)num(&p, "default")))) die("%s", "seccomp_init failed", 0);
      arches[0] = seccomp_arch_native();
      max_nr[0] = -1;
      narches = 1;
      // The shim loads the program itself, with no_new_privs only if the spec asks.
      int rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
      if (rc < 0) die("%s", "seccomp_attr_set", -rc);
      // A binary tree of syscall numbers rather than a list: the kernel runs the
      // program for every syscall number when it loads it (to cache the always
      // allowed ones) and for every uncached call after, so the path length counts.
      if ((rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2)) < 0) die("%s", "seccomp_attr_set optimize", -rc);
      continue;
    }
    if (!ctx) die("%s", "the first directive must be default", 0);
    if (!strcmp(op, "arch")) {
      char *name = word(&p);
      uint32_t arch = seccomp_arch_resolve_name(name);
      if (!arch) die("unknown architecture %s", name, 0);
      int rc = seccomp_arch_add(ctx, arch);
      if (rc < 0 && rc != -EEXIST) die("adding architecture %s", name, -rc);
      if (arch_index(arch) < 0 && narches < MAX_ARCHES) { arches[narches] = arch; max_nr[narches++] = -1; }
    } else if (!strcmp(op, "rule")) {
      uint32_t action = (uint32_t)num(&p, "rule");
      char *name = word(&p);
      unsigned long long n = num(&p, name);
      struct scmp_arg_cmp conds[6];
      if (n > 6) die("too many conditions for %s", name, 0);
      for (unsigned i = 0; i < n; i++) {
        conds[i].arg = (unsigned)num(&p, name);
        conds[i].op = (enum scmp_compare)num(&p, name);
        conds[i].datum_a = num(&p, name);
        conds[i].datum_b = num(&p, name);
        if (conds[i].arg > 5 || conds[i].op < SCMP_CMP_NE || conds[i].op > SCMP_CMP_MASKED_EQ) die("bad condition for %s", name, 0);
      }
      int nr = seccomp_syscall_resolve_name(name);
      if (nr == __NR_SCMP_ERROR) continue;  // unknown to this libseccomp: skipped, as runc does
      note_syscall(name);
      int rc = seccomp_rule_add_array(ctx, action, nr, (unsigned)n, conds);
      if (rc < 0) die("adding a rule for %s", name, -rc);
    } else if (!strcmp(op, "enosys")) {
      stub = 1;
    } else {
      die("unknown directive %s", op, 0);
    }
  }
  if (!ctx) die("%s", "no default action", 0);
  if (stub) write_enosys_stub();
  int rc = seccomp_export_bpf(ctx, 1);
  if (rc < 0) die("%s", "exporting the BPF program", -rc);
  seccomp_release(ctx);
  return 0;
}
