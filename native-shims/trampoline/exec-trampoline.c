// The first image an exec'd process runs (like runc-dmz): a few hundred bytes
// of freestanding code that the shim copies into a sealed memfd and execs,
// and that execs the container's command in turn. Until then the process is a
// fork of Node, whose /proc/self/exe is the host's node binary; with this
// image in between, /proc/self/exe (run directly, as a #! interpreter or as an
// ELF interpreter) can only ever name this sealed copy (CVE-2019-5736).
//
//   argv = { MARKER, path, argv0, argv1, ... }
//
// The shim resolved `path` and reported not-found / not-executable already;
// a failure here (a race with the container, ENOEXEC) is printed to stderr.
// Built by scripts/build-shim.mjs (static, no libc) and embedded in the library.

#define MARKER "tsbox-exec\001"

#if defined(__x86_64__)
#define NR_write 1
#define NR_execve 59
#define NR_exit 60
static long sys3(long n, long a, long b, long c) {
  long r;
  __asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
  return r;
}
__asm__(".text\n.globl _start\n_start:\n xor %rbp, %rbp\n mov %rsp, %rdi\n and $-16, %rsp\n call tramp_main\n hlt\n");
#elif defined(__aarch64__)
#define NR_write 64
#define NR_execve 221
#define NR_exit 93
static long sys3(long n, long a, long b, long c) {
  register long x8 __asm__("x8") = n, x0 __asm__("x0") = a, x1 __asm__("x1") = b, x2 __asm__("x2") = c;
  __asm__ volatile("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2) : "memory");
  return x0;
}
__asm__(".text\n.globl _start\n_start:\n mov x0, sp\n bl tramp_main\n");
#else
#error "exec trampoline: unsupported architecture"
#endif

static unsigned long len(const char *s) { unsigned long n = 0; while (s[n]) n++; return n; }

static void say(const char *s) { sys3(NR_write, 2, (long)s, (long)len(s)); }

__attribute__((noreturn, used)) void tramp_main(long *sp) {
  long argc = sp[0];
  char **argv = (char **)(sp + 1), **envp = argv + argc + 1;
  const char *m = MARKER;
  int ok = argc >= 3;
  for (long i = 0; ok && (m[i] || argv[0][i]); i++) ok = m[i] == argv[0][i];
  if (!ok) {
    say("tsbox: exec trampoline: not to be run directly\n");
    sys3(NR_exit, 126, 0, 0);
  }
  long r = sys3(NR_execve, (long)argv[1], (long)(argv + 2), (long)envp);
  say("tsbox: exec: \"");
  say(argv[1]);
  say(r == -2 ? "\": no such file or directory\n" : r == -8 ? "\": exec format error\n" : "\": permission denied\n");
  sys3(NR_exit, r == -2 ? 127 : 126, 0, 0);
  for (;;) {}
}
