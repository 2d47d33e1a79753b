// libtsbox_shim: interprets a launch plan (native-shims/PLAN.md) in a cloned
// child. Everything that allocates or may take a lock (parsing, argv/env arrays,
// PATH candidates) happens in the parent before clone(); the child, a copy of a
// multi-threaded Node process, only makes raw syscalls until execve.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/fs.h>  // FS_IOC_*FLAGS, FS_TOPDIR_FL
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>  // ST_* (same bits as MS_*)
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <termios.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))
#define STACK_SIZE (1 << 20)
#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define NS_FLAGS (CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWPID | CLONE_NEWNET | \
                  CLONE_NEWUSER | CLONE_NEWCGROUP)
#define PROPAGATION (MS_SHARED | MS_PRIVATE | MS_SLAVE | MS_UNBINDABLE)
#ifndef OPEN_TREE_CLONE  // glibc < 2.36
#define OPEN_TREE_CLONE 1
#define OPEN_TREE_CLOEXEC O_CLOEXEC
#define MOVE_MOUNT_F_EMPTY_PATH 0x4
#define MOVE_MOUNT_T_SYMLINKS 0x10
#endif
#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif

enum kind { STDIO, UNSHARE, PRIVATE, MOUNT, MKDIR, ENSUREFILE, CHDIR, OPENPATH, BINDFD, PIVOT,
            CHECKDIR, MASK, READONLY, MKNOD, SYMLINK, REMOUNT, HOSTNAME, LOUP, RLIMIT, PTY,
            CAPBSET, USER, CAPS, INIT, EXEC, MEMMERGE, NKINDS };

// Argument shapes: s = string, n = decimal u64. EXEC is variadic and parsed apart.
static const struct { const char *name, *args; } defs[NKINDS] = {
  [STDIO] = {"STDIO", "s"},          [UNSHARE] = {"UNSHARE", "n"},   [PRIVATE] = {"PRIVATE", ""},
  [MOUNT] = {"MOUNT", "sssns"},      [MKDIR] = {"MKDIR", "sn"},      [ENSUREFILE] = {"ENSUREFILE", "s"},
  [CHDIR] = {"CHDIR", "s"},          [OPENPATH] = {"OPENPATH", "ns"}, [BINDFD] = {"BINDFD", "nsn"},
  [PIVOT] = {"PIVOT", ""},           [CHECKDIR] = {"CHECKDIR", "s"}, [MASK] = {"MASK", "s"},
  [READONLY] = {"READONLY", "s"},    [MKNOD] = {"MKNOD", "snnn"},    [SYMLINK] = {"SYMLINK", "ss"},
  [REMOUNT] = {"REMOUNT", "sn"},     [HOSTNAME] = {"HOSTNAME", "s"}, [LOUP] = {"LOUP", ""},
  [RLIMIT] = {"RLIMIT", "nnn"},      [PTY] = {"PTY", "nn"},            [CAPBSET] = {"CAPBSET", "n"},
  [USER] = {"USER", "nns"},          [CAPS] = {"CAPS", "nnnn"},      [INIT] = {"INIT", ""},
  [EXEC] = {"EXEC", ""},             [MEMMERGE] = {"MEMMERGE", ""},
};

struct op {
  enum kind k;
  const char *s[5];       // string args by position (point into the caller's plan)
  unsigned long long n[5]; // numeric args by position
  char **argv, **envp, **cands; // EXEC; cands == NULL when the path has a '/'
  gid_t *groups;          // USER
  size_t ngroups;
};

// One launched-but-not-finished child per slot, keyed by pid.
struct slot { pid_t pid; int sync_w, err_r, ctl, pty; };
static struct slot slots[256];

// Sent by the child over the error pipe; one write <= PIPE_BUF, so it arrives whole.
struct report { int32_t op, err, code; char detail[4096 - 12]; };

// State handed to the child through the copied address space.
static struct {
  struct op *ops;
  size_t nops;
  int sync_r, err_w, ctl;        // the child's ends
  int sync_w, err_r, ctl_parent; // the parent's ends, closed in the child
  int cap_last;
} g;

static char last_error[1024];
static char start_result[sizeof(((struct report *)0)->detail) + 256];

/* ---------- child side: async-signal-safe only ---------- */

static size_t cur_op;
static int pivoted, had_pty;
static int slot_fd[64];
static struct report rep;

static size_t slen(const char *s) { size_t n = 0; while (s[n]) n++; return n; }

static char *put(char *p, char *end, const char *s) {
  while (*s && p < end) *p++ = *s++;
  return p;
}

static char *put_num(char *p, char *end, unsigned long long v) {
  char tmp[24];
  int i = 0;
  do tmp[i++] = (char)('0' + v % 10); while ((v /= 10) && i < 24);
  while (i && p < end) *p++ = tmp[--i];
  return p;
}

static void fd_path(char *buf, int fd) {  // "/proc/self/fd/<fd>"
  char *end = buf + 31;
  *put_num(put(buf, end, "/proc/self/fd/"), end, (unsigned)fd) = 0;
}

// Report {op, errno, code, a b c} to the parent and exit; err 0 means the
// detail is the whole message (no strerror appended).
static _Noreturn void fail3(int code, int err, const char *a, const char *b, const char *c) {
  char *p = rep.detail, *end = rep.detail + sizeof rep.detail - 1;
  rep.op = (int32_t)cur_op;
  rep.err = err;
  rep.code = code;
  if (a) p = put(p, end, a);
  if (b) p = put(p, end, b);
  if (c) p = put(p, end, c);
  *p = 0;
  ssize_t r;
  do r = write(g.err_w, &rep, (size_t)(p + 1 - (char *)&rep)); while (r < 0 && errno == EINTR);
  _exit(code);
}

static _Noreturn void fail(const char *what, const char *arg) { fail3(125, errno, what, arg, NULL); }

static int close_from(int lo, unsigned hi) {
  if (syscall(SYS_close_range, (unsigned)lo, hi, 0) == 0) return 0;
  if (errno != ENOSYS) return -1;
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur > 65536) rl.rlim_cur = 65536;
  for (unsigned fd = (unsigned)lo; fd < rl.rlim_cur && fd <= hi; fd++) close((int)fd);
  return 0;
}

static void set_mask_empty(void) {
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
}

static int mkdir_p(const char *path, mode_t mode) {
  char buf[4096];
  size_t n = slen(path);
  if (n >= sizeof buf) { errno = ENAMETOOLONG; return -1; }
  for (size_t i = 0; i <= n; i++) {
    buf[i] = path[i];
    if ((path[i] == '/' && i > 0) || path[i] == 0) {
      buf[i] = 0;
      if (mkdir(buf, mode) < 0 && errno != EEXIST) return -1;
      buf[i] = path[i];
    }
  }
  struct stat st;
  if (stat(path, &st) < 0) return -1;
  if (!S_ISDIR(st.st_mode)) { errno = ENOTDIR; return -1; }
  return 0;
}

static void check_target(const char *tgt) {
  struct stat st;
  if (pivoted && (!strncmp(tgt, "/proc", 5) || !strncmp(tgt, "/sys", 4))) {
    const char *rest = tgt + (tgt[1] == 'p' ? 5 : 4);
    if ((*rest == 0 || *rest == '/') && lstat(tgt, &st) == 0 && S_ISLNK(st.st_mode))
      fail3(125, 0, "mount ", tgt, ": must be mounted on ordinary directory");
  }
}

// Bind mounts ignore most flags when created, and propagation flags cannot be
// combined with anything else: both need calls of their own.
static void apply_flags(const char *tgt, unsigned long f, unsigned long prop) {
  if ((f & MS_BIND) && (f & ~(MS_BIND | MS_REC)) &&
      mount(NULL, tgt, NULL, MS_REMOUNT | MS_BIND | (f & ~MS_REC), NULL) < 0)
    fail("remount ", tgt);
  if (prop && mount(NULL, tgt, NULL, prop | (f & MS_REC), NULL) < 0) fail("mount ", tgt);
}

static void do_mount(const char *src, const char *tgt, const char *fs, unsigned long flags,
                     const char *data) {
  unsigned long prop = flags & PROPAGATION, f = flags & ~PROPAGATION;
  check_target(tgt);
  if ((!prop || (f & ~MS_REC)) && mount(src, tgt, fs, f, data) < 0) fail("mount ", tgt);
  apply_flags(tgt, f, prop);
}

// Hand fds 0-2 to the container. Node sets FD_CLOEXEC on them and O_NONBLOCK on
// pipes/sockets; a FIFO gets its own open file description so Node's flag stays
// Node's; a socket cannot be re-opened, so its shared O_NONBLOCK is cleared.
static void op_stdio(const struct op *o) {
  // A session of its own: terminal signals reach the container once, through
  // the CLI's forwarding, not also straight from the CLI's process group.
  if (setsid() < 0) fail("setsid", NULL);
  if (o->s[0][0] == 'n') {
    int fd = open("/dev/null", O_RDONLY);
    if (fd < 0) fail("open ", "/dev/null");
    if (fd != 0) { dup2(fd, 0); close(fd); }
  }
  for (int fd = 0; fd < 3; fd++) {
    struct stat st;
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fstat(fd, &st) < 0) continue;  // not open: nothing to hand over
    if (fcntl(fd, F_SETFD, 0) < 0) fail("stdio ", "fcntl");
    if (S_ISFIFO(st.st_mode)) {
      char p[32];
      fd_path(p, fd);
      // O_NONBLOCK so a FIFO without readers fails with ENXIO instead of blocking.
      int nfd = open(p, (fl & O_ACCMODE) | O_NONBLOCK | O_CLOEXEC);
      if (nfd < 0 && errno == ENXIO) continue;
      if (nfd < 0) fail("reopen ", p);
      if (fcntl(nfd, F_SETFL, fl & ~O_NONBLOCK) < 0 || dup2(nfd, fd) < 0) fail("reopen ", p);
      close(nfd);
    } else if ((fl & O_NONBLOCK) && !S_ISREG(st.st_mode)) {
      if (fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0) fail("stdio ", "fcntl");
    }
  }
}

static void op_pty(const struct op *o) {
  int m = open("/dev/pts/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (m < 0) fail("open ", "/dev/pts/ptmx");
  int unlock = 0;
  unsigned n;
  if (ioctl(m, TIOCSPTLCK, &unlock) < 0 || ioctl(m, TIOCGPTN, &n) < 0) fail("unlock ", "pty");
  char path[32], *end = path + sizeof path - 1;
  *put_num(put(path, end, "/dev/pts/"), end, n) = 0;
  int s = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (s < 0) fail("open ", path);
  // The size is set before exec: the command may ask for it at once.
  struct winsize ws = {.ws_row = (unsigned short)o->n[0], .ws_col = (unsigned short)o->n[1]};
  if (ws.ws_row && ws.ws_col && ioctl(s, TIOCSWINSZ, &ws) < 0) fail("set window size ", path);

  char byte = 0;
  struct iovec iov = {&byte, 1};
  union { char buf[CMSG_SPACE(sizeof(int))]; struct cmsghdr align; } u;
  memset(&u, 0, sizeof u);
  struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf};
  struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &m, sizeof m);
  if (sendmsg(g.ctl, &mh, MSG_NOSIGNAL) < 0) fail("send ", "pty master");
  close(m);

  struct stat st;
  if (lstat("/dev/console", &st) == 0 && S_ISREG(st.st_mode) &&
      mount(path, "/dev/console", NULL, MS_BIND, NULL) < 0)
    fail("mount ", "/dev/console");
  if (getsid(0) != getpid() && setsid() < 0) fail("setsid", NULL);
  if (ioctl(s, TIOCSCTTY, 0) < 0) fail("set controlling tty ", path);
  for (int fd = 0; fd < 3; fd++)
    if (dup2(s, fd) < 0) fail("dup2 ", path);
  if (s > 2) close(s);
  had_pty = 1;
}

static void op_caps(const struct op *o) {
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
    fail("clear ambient capabilities", NULL);
  struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct d[2];
  for (int i = 0; i < 2; i++) {
    d[i].effective = (uint32_t)(o->n[0] >> (32 * i));
    d[i].permitted = (uint32_t)(o->n[1] >> (32 * i));
    d[i].inheritable = (uint32_t)(o->n[2] >> (32 * i));
  }
  if (syscall(SYS_capset, &h, d) < 0) fail("capset", NULL);
  for (unsigned c = 0; c < 64; c++)
    if ((o->n[3] >> c & 1) && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0) < 0)
      fail("raise ambient capabilities", NULL);
}

// PID 1 of the container when the plan asks for INIT: forwards signals to its
// one child, reaps orphans, and exits as that child did. All signals are still
// blocked (see tsbox_spawn), so sigwaitinfo sees every one of them.
static _Noreturn void reaper(pid_t child) {
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  close_from(3, ~0U);
  sigset_t all;
  sigfillset(&all);
  for (;;) {
    int sig = sigwaitinfo(&all, NULL);
    if (sig < 0) continue;
    if (sig != SIGCHLD) { kill(child, sig); continue; }
    int st;
    pid_t p;
    while ((p = waitpid(-1, &st, WNOHANG)) > 0)
      if (p == child) _exit(WIFSIGNALED(st) ? 128 + WTERMSIG(st) : WEXITSTATUS(st));
  }
}

static _Noreturn void op_exec(const struct op *o) {
  const char *path = o->s[0];
  set_mask_empty();
  if ((g.err_w > 3 && close_from(3, (unsigned)g.err_w - 1) < 0) || close_from(g.err_w + 1, ~0U) < 0)
    fail("close fds", NULL);
  if (o->cands) {
    int denied = 0;
    for (char **c = o->cands; *c; c++) {
      execve(*c, o->argv, o->envp);
      if (errno == EACCES) denied = 1;
      else if (errno != ENOENT && errno != ENOTDIR) fail3(126, errno, "exec: \"", *c, "\"");
    }
    if (denied) fail3(126, 0, "exec: \"", path, "\": permission denied");
    fail3(127, 0, "exec: \"", path, "\": executable file not found in $PATH");
  }
  execve(path, o->argv, o->envp);
  if (errno == ENOENT) fail3(127, 0, "exec: \"", path, "\": no such file or directory");
  if (errno == EACCES || errno == EISDIR) fail3(126, 0, "exec: \"", path, "\": permission denied");
  fail3(126, errno, "exec: \"", path, "\"");
}

static void run_op(const struct op *o) {
  const char *s0 = o->s[0];
  struct stat st;
  switch (o->k) {
  case STDIO: op_stdio(o); break;
  case UNSHARE: if (unshare((int)o->n[0]) < 0) fail("unshare", NULL); break;
  case PRIVATE: if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) fail("make / private", NULL); break;
  case MOUNT:
    do_mount(*s0 ? s0 : NULL, o->s[1], *o->s[2] ? o->s[2] : NULL, (unsigned long)o->n[3],
             *o->s[4] ? o->s[4] : NULL);
    break;
  case MKDIR: if (mkdir_p(s0, (mode_t)o->n[1]) < 0) fail("mkdir ", s0); break;
  case ENSUREFILE: {
    char dir[4096];
    size_t n = slen(s0), cut = 0;
    if (n >= sizeof dir) { errno = ENAMETOOLONG; fail("create ", s0); }
    for (size_t i = 0; i < n; i++) if (s0[i] == '/') cut = i;
    memcpy(dir, s0, cut);
    dir[cut] = 0;
    if (cut && mkdir_p(dir, 0755) < 0) fail("mkdir ", dir);
    int fd = open(s0, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0 && errno != EEXIST) fail("create ", s0);
    if (fd >= 0) close(fd);
    break;
  }
  case CHDIR: if (chdir(s0) < 0) fail("chdir ", s0); break;
  case OPENPATH:
    // A detached copy of the mount, not an O_PATH fd: once PIVOT has detached
    // the old root, mount(2) refuses to bind from it (EINVAL), move_mount not.
    slot_fd[o->n[0]] = (int)syscall(SYS_open_tree, AT_FDCWD, o->s[1],
                                    OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (o->n[2] ? AT_RECURSIVE : 0));
    if (slot_fd[o->n[0]] < 0) fail("open ", o->s[1]);
    break;
  case BINDFD: {
    const char *tgt = o->s[1];
    unsigned long flags = MS_BIND | (unsigned long)o->n[2];
    int fd = slot_fd[o->n[0]];
    if (fd < 0) { errno = EBADF; fail("mount ", tgt); }
    check_target(tgt);
    if (syscall(SYS_move_mount, fd, "", AT_FDCWD, tgt, MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_SYMLINKS) < 0)
      fail("mount ", tgt);
    apply_flags(tgt, flags & ~PROPAGATION, flags & PROPAGATION);
    close(fd);
    slot_fd[o->n[0]] = -1;
    break;
  }
  case PIVOT:
    if (syscall(SYS_pivot_root, ".", ".") < 0) fail("pivot_root", NULL);
    if (umount2(".", MNT_DETACH) < 0) fail("unmount old root", NULL);
    if (chdir("/") < 0) fail("chdir ", "/");
    pivoted = 1;
    break;
  case CHECKDIR:
    if (lstat(s0, &st) < 0) fail("check directory ", s0);
    if (!S_ISDIR(st.st_mode)) { errno = ENOTDIR; fail("check directory ", s0); }
    break;
  case MASK:
    if (stat(s0, &st) < 0) { if (errno == ENOENT) break; fail("mask ", s0); }
    if (S_ISDIR(st.st_mode) ? mount("tmpfs", s0, "tmpfs", MS_RDONLY, NULL) < 0
                            : mount("/dev/null", s0, NULL, MS_BIND, NULL) < 0)
      fail("mask ", s0);
    break;
  case READONLY: {
    struct statfs sf;
    if (stat(s0, &st) < 0) { if (errno == ENOENT) break; fail("readonly ", s0); }
    if (mount(s0, s0, NULL, MS_BIND | MS_REC, NULL) < 0 || statfs(s0, &sf) < 0 ||
        mount(NULL, s0, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY |
              (sf.f_flags & (ST_NOSUID | ST_NODEV | ST_NOEXEC)), NULL) < 0)
      fail("readonly ", s0);
    break;
  }
  case MKNOD:
    if (mknod(s0, (mode_t)o->n[1], makedev(o->n[2], o->n[3])) < 0 && errno != EEXIST) fail("mknod ", s0);
    if (chmod(s0, (mode_t)o->n[1] & 07777) < 0) fail("chmod ", s0);
    break;
  case SYMLINK: if (symlink(s0, o->s[1]) < 0 && errno != EEXIST) fail("symlink ", o->s[1]); break;
  case REMOUNT:
    if (mount(NULL, s0, NULL, MS_REMOUNT | (unsigned long)o->n[1], NULL) < 0) fail("remount ", s0);
    break;
  case HOSTNAME: if (sethostname(s0, slen(s0)) < 0) fail("sethostname", NULL); break;
  case LOUP: {
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    memcpy(ifr.ifr_name, "lo", 3);
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || ioctl(fd, SIOCGIFFLAGS, &ifr) < 0) fail("bring up ", "lo");
    ifr.ifr_flags |= IFF_UP;
    if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0) fail("bring up ", "lo");
    close(fd);
    break;
  }
  case RLIMIT: {
    struct rlimit rl = {(rlim_t)o->n[1], (rlim_t)o->n[2]};
    if (setrlimit((int)o->n[0], &rl) < 0) fail("setrlimit", NULL);
    break;
  }
  case PTY: op_pty(o); break;
  case MEMMERGE:
    // KSM for every present and future anonymous mapping; inherited across fork and execve (6.7+).
    if (prctl(67 /* PR_SET_MEMORY_MERGE */, 1, 0, 0, 0) < 0) {
      if (errno == EINVAL) fail3(125, 0, "--memory-merge: the kernel refused PR_SET_MEMORY_MERGE (needs Linux 6.4+ with CONFIG_KSM)", NULL, NULL);
      fail("memory merge (prctl PR_SET_MEMORY_MERGE)", NULL);
    }
    break;
  case CAPBSET:
    for (int c = 0; c <= g.cap_last && c < 64; c++)
      if (!(o->n[0] >> c & 1) && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
        fail("drop bounding capabilities", NULL);
    break;
  case USER:
    // glibc's set*id() would signal the parent's (absent) threads: raw syscalls.
    // KEEPCAPS so a later CAPS op can still set the permitted set of a non-root user.
    if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0) fail("keepcaps", NULL);
    if (syscall(SYS_setgroups, o->ngroups, o->groups) < 0) fail("setgroups", NULL);
    if (syscall(SYS_setresgid, (gid_t)o->n[1], (gid_t)o->n[1], (gid_t)o->n[1]) < 0) fail("setgid", NULL);
    if (syscall(SYS_setresuid, (uid_t)o->n[0], (uid_t)o->n[0], (uid_t)o->n[0]) < 0) fail("setuid", NULL);
    break;
  case CAPS: op_caps(o); break;
  case INIT: {
    // Raw clone: glibc's fork() runs atfork handlers and takes locks.
    long pid = syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
    if (pid < 0) fail("fork init", NULL);
    if (pid > 0) reaper((pid_t)pid);
    // Like tini: with a terminal, the app gets its own foreground process group,
    // so ^C reaches it once (from the tty) and not again through PID 1.
    if (had_pty && setpgid(0, 0) == 0) {
      pid_t me = getpid();
      ioctl(0, TIOCSPGRP, &me);
    }
    break;
  }
  case EXEC: op_exec(o);
  case NKINDS: break;
  }
}

static int child_main(void *arg) {
  (void)arg;
  // Node's handlers (and its SIG_IGN of SIGPIPE) must not reach the container.
  struct sigaction dfl;
  memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  for (int s = 1; s < NSIG; s++)
    if (s != SIGKILL && s != SIGSTOP) sigaction(s, &dfl, NULL);
  prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  // Drop the parent-side ends of every pending launch, so that EOF on our sync
  // pipe means the parent is gone.
  for (size_t i = 0; i < sizeof slots / sizeof *slots; i++)
    if (slots[i].pid > 0) {
      close(slots[i].sync_w);
      close(slots[i].err_r);
      if (slots[i].ctl >= 0) close(slots[i].ctl);
    }
  close(g.sync_w);
  close(g.err_r);
  if (g.ctl_parent >= 0) close(g.ctl_parent);
  for (int i = 0; i < 64; i++) slot_fd[i] = -1;
  char c;
  ssize_t r;
  do r = read(g.sync_r, &c, 1); while (r < 0 && errno == EINTR);
  if (r != 1) _exit(125);
  close(g.sync_r);
  for (cur_op = 0; cur_op < g.nops; cur_op++) run_op(&g.ops[cur_op]);
  _exit(125);  // unreachable: the parser requires EXEC last
}

/* ---------- parent side ---------- */

static int perr(int err, const char *fmt, const char *a) {
  snprintf(last_error, sizeof last_error, fmt, a);
  return -err;
}

static int parse_u64(const char *s, unsigned long long *out) {
  if (!*s) return -1;
  unsigned long long v = 0;
  for (; *s; s++) {
    if (*s < '0' || *s > '9' || v > (~0ULL - (unsigned)(*s - '0')) / 10) return -1;
    v = v * 10 + (unsigned)(*s - '0');
  }
  *out = v;
  return 0;
}

static void free_ops(struct op *ops, size_t n) {
  for (size_t i = 0; ops && i < n; i++) {
    free(ops[i].argv);
    free(ops[i].envp);
    if (ops[i].cands) for (char **c = ops[i].cands; *c; c++) free(*c);
    free(ops[i].cands);
    free(ops[i].groups);
  }
  free(ops);
}

static int build_cands(struct op *o) {
  const char *name = o->s[0], *path = DEFAULT_PATH;
  if (strchr(name, '/')) return 0;
  for (char **e = o->envp; *e; e++)
    if (!strncmp(*e, "PATH=", 5)) { path = *e + 5; break; }
  size_t n = 2;
  for (const char *p = path; *p; p++) n += *p == ':';
  if (!(o->cands = calloc(n, sizeof(char *)))) return -1;
  if (!*name) return 0;  // "" is never found
  size_t k = 0;
  for (const char *p = path;; ) {
    const char *q = strchrnul(p, ':');
    int dl = q == p ? 1 : (int)(q - p);
    if (asprintf(&o->cands[k], "%.*s/%s", dl, q == p ? "." : p, name) < 0) return -1;
    k++;
    if (!*q) break;
    p = q + 1;
  }
  return 0;
}

static int parse_groups(struct op *o) {
  const char *s = o->s[2];
  size_t n = *s ? 1 : 0;
  for (const char *p = s; *p; p++) n += *p == ',';
  if (!(o->groups = calloc(n ? n : 1, sizeof(gid_t)))) return -1;
  char buf[24];
  for (size_t i = 0; i < n; i++) {
    size_t l = strcspn(s, ",");
    unsigned long long v;
    if (l >= sizeof buf) return -1;
    memcpy(buf, s, l);
    buf[l] = 0;
    if (parse_u64(buf, &v) < 0 || v > 0xffffffffULL) return -1;
    o->groups[i] = (gid_t)v;
    s += l + 1;
  }
  o->ngroups = n;
  return 0;
}

// Parses plan[2..n) into ops; returns 0 or -errno with last_error set.
static int parse(int n, char **plan, struct op **out, size_t *nout) {
  struct op *ops = calloc((size_t)n, sizeof *ops);
  size_t k = 0;
  int i = 2, rc = 0;
  if (!ops) return perr(ENOMEM, "invalid launch plan: %s", "out of memory");
  while (i < n) {
    struct op *o = &ops[k];
    const char *name = plan[i++];
    int kind = 0;
    while (kind < NKINDS && strcmp(defs[kind].name, name)) kind++;
    if (kind == NKINDS) { rc = perr(EINVAL, "invalid launch plan: unknown op %s", name); goto bad; }
    o->k = (enum kind)kind;
    if (o->k == EXEC) {
      unsigned long long argc, envc;
      if (i + 2 > n || parse_u64(plan[i + 1], &argc) < 0 || argc > (unsigned)(n - i - 2)) goto short_;
      o->s[0] = plan[i];
      i += 2;
      if (!(o->argv = calloc(argc + 1, sizeof(char *)))) goto oom;
      memcpy(o->argv, plan + i, argc * sizeof(char *));
      i += (int)argc;
      if (i >= n || parse_u64(plan[i], &envc) < 0 || envc != (unsigned)(n - i - 1)) goto short_;
      i++;
      if (!(o->envp = calloc(envc + 1, sizeof(char *)))) goto oom;
      memcpy(o->envp, plan + i, envc * sizeof(char *));
      i += (int)envc;
      if (build_cands(o) < 0) goto oom;
    } else {
      const char *a = defs[kind].args;
      if ((size_t)(n - i) < strlen(a)) goto short_;
      for (int j = 0; a[j]; j++, i++) {
        o->s[j] = plan[i];
        if (a[j] == 'n' && parse_u64(plan[i], &o->n[j]) < 0) {
          rc = perr(EINVAL, "invalid launch plan: bad number in %s", name);
          goto bad;
        }
      }
      if ((o->k == STDIO && (k != 0 || (strcmp(o->s[0], "inherit") && strcmp(o->s[0], "null")))) ||
          ((o->k == OPENPATH || o->k == BINDFD) && o->n[0] >= 64) ||
          (o->k == USER && (o->n[0] > 0xfffffffe || o->n[1] > 0xfffffffe))) {
        rc = perr(EINVAL, "invalid launch plan: bad %s op", name);
        goto bad;
      }
      if (o->k == USER && parse_groups(o) < 0) {
        rc = perr(EINVAL, "invalid launch plan: bad groups %s", o->s[2]);
        goto bad;
      }
    }
    k++;
  }
  // OPENPATH clones the mount, so it must know whether its BINDFD is recursive.
  for (size_t j = 0; j < k; j++)
    for (size_t b = j + 1; ops[j].k == OPENPATH && b < k; b++)
      if (ops[b].k == BINDFD && ops[b].n[0] == ops[j].n[0]) { ops[j].n[2] = ops[b].n[2] & MS_REC; break; }
  if (!k || ops[k - 1].k != EXEC) { rc = perr(EINVAL, "invalid launch plan: %s", "EXEC must be the last op"); goto bad; }
  for (size_t j = 0; j + 1 < k; j++)
    if (ops[j].k == EXEC) { rc = perr(EINVAL, "invalid launch plan: %s", "EXEC must be the last op"); goto bad; }
  *out = ops;
  *nout = k;
  return 0;
short_:
  rc = perr(EINVAL, "invalid launch plan: missing arguments to %s", defs[ops[k].k].name);
  goto bad;
oom:
  rc = perr(ENOMEM, "invalid launch plan: %s", "out of memory");
bad:
  free_ops(ops, (size_t)n);  // calloc'ed: unused entries are all NULL
  return rc;
}

static struct slot *find_slot(pid_t pid) {
  for (size_t i = 0; i < sizeof slots / sizeof *slots; i++)
    if (slots[i].pid == pid && pid > 0) return &slots[i];
  return NULL;
}

static void drop_slot(struct slot *s) {
  if (s->sync_w >= 0) close(s->sync_w);
  if (s->err_r >= 0) close(s->err_r);
  if (s->ctl >= 0) close(s->ctl);
  s->pid = 0;
}

static int read_cap_last(void) {
  char buf[16] = {0};
  int fd = open("/proc/sys/kernel/cap_last_cap", O_RDONLY | O_CLOEXEC), v = 0;
  if (fd < 0) return 40;
  ssize_t r = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (r <= 0 || (v = atoi(buf)) <= 0) return 40;
  return v;
}

EXPORT const char *tsbox_last_error(void) { return last_error; }

EXPORT int tsbox_spawn(int n, char **plan) {
  unsigned long long flags;
  last_error[0] = 0;
  if (n < 2 || strcmp(plan[0], "tsbox-plan/1")) return perr(EINVAL, "invalid launch plan: %s", "bad magic");
  if (parse_u64(plan[1], &flags) < 0 || (flags & ~(unsigned long long)NS_FLAGS))
    return perr(EINVAL, "invalid launch plan: bad clone flags %s", plan[1]);
  struct slot *slot = NULL;
  for (size_t i = 0; !slot && i < sizeof slots / sizeof *slots; i++)
    if (!slots[i].pid) slot = &slots[i];
  if (!slot) return perr(EAGAIN, "%s", "too many pending launches");

  struct op *ops;
  size_t nops;
  int rc = parse(n, plan, &ops, &nops);
  if (rc < 0) return rc;
  int has_pty = 0;
  for (size_t i = 0; i < nops; i++) has_pty |= ops[i].k == PTY;

  int sp[2] = {-1, -1}, ep[2] = {-1, -1}, cp[2] = {-1, -1}, err = 0;
  void *stack = MAP_FAILED;
  pid_t pid = -1;
  if (pipe2(sp, O_CLOEXEC) < 0 || pipe2(ep, O_CLOEXEC) < 0 ||
      (has_pty && socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, cp) < 0)) {
    err = errno;
    perr(err, "launch: pipe: %s", strerror(err));
    goto out;
  }
  stack = mmap(NULL, STACK_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (stack == MAP_FAILED) { err = errno; perr(err, "launch: mmap: %s", strerror(err)); goto out; }
  g.ops = ops;
  g.nops = nops;
  g.sync_r = sp[0];
  g.err_w = ep[1];
  g.ctl = cp[1];
  g.sync_w = sp[1];
  g.err_r = ep[0];
  g.ctl_parent = cp[0];
  g.cap_last = read_cap_last();

  // Block everything across clone so no signal runs a Node handler in the child
  // before it resets them; the child keeps them blocked until exec.
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pid = clone(child_main, (char *)stack + STACK_SIZE, (int)flags | SIGCHLD, NULL);
  err = errno;
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (pid < 0) perr(err, "clone: %s", strerror(err));
out:
  if (stack != MAP_FAILED) munmap(stack, STACK_SIZE);
  free_ops(ops, nops);
  if (sp[0] >= 0) close(sp[0]);
  if (ep[1] >= 0) close(ep[1]);
  if (cp[1] >= 0) close(cp[1]);
  if (pid < 0) {
    int fds[] = {sp[1], ep[0], cp[0]};
    for (int i = 0; i < 3; i++) if (fds[i] >= 0) close(fds[i]);
    return -err;
  }
  struct slot *stale = find_slot(pid);  // a reused pid whose PTY master was never claimed
  if (stale) {
    if (stale->pty >= 0) close(stale->pty);
    drop_slot(stale);
  }
  *slot = (struct slot){pid, sp[1], ep[0], cp[0], -1};
  return pid;
}

static int recv_fd(int sock) {
  char byte;
  struct iovec iov = {&byte, 1};
  union { char buf[CMSG_SPACE(sizeof(int))]; struct cmsghdr align; } u;
  struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf};
  if (recvmsg(sock, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC) < 0) return -errno;
  struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
  if (!c || c->cmsg_type != SCM_RIGHTS || c->cmsg_len != CMSG_LEN(sizeof(int))) return -EPROTO;
  int fd;
  memcpy(&fd, CMSG_DATA(c), sizeof fd);
  return fd;
}

EXPORT const char *tsbox_start(int pid) {
  struct slot *s = find_slot(pid);
  if (!s) {
    snprintf(start_result, sizeof start_result, "125\tstart: no pending launch for pid %d", pid);
    return start_result;
  }
  ssize_t r;
  do r = write(s->sync_w, "x", 1); while (r < 0 && errno == EINTR);
  close(s->sync_w);
  s->sync_w = -1;

  struct report rp;
  size_t got = 0;
  memset(&rp, 0, sizeof rp);
  while (got < sizeof rp) {
    r = read(s->err_r, (char *)&rp + got, sizeof rp - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    got += (size_t)r;
  }
  if (got == 0) {  // EOF: the error pipe closed on a successful execve
    if (s->ctl >= 0) s->pty = recv_fd(s->ctl);
    if (s->ctl < 0) drop_slot(s);
    else { close(s->ctl); s->ctl = -1; close(s->err_r); s->err_r = -1; }
    start_result[0] = 0;
    return start_result;
  }
  rp.detail[sizeof rp.detail - 1] = 0;
  if (got < offsetof(struct report, detail)) {
    rp.code = 125;
    rp.err = 0;
    snprintf(rp.detail, sizeof rp.detail, "launch: truncated error report");
  }
  snprintf(start_result, sizeof start_result, "%d\t%s%s%s", rp.code, rp.detail, rp.err ? ": " : "",
           rp.err ? strerror(rp.err) : "");
  int st;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
  drop_slot(s);
  return start_result;
}

EXPORT int tsbox_abort(int pid) {
  struct slot *s = find_slot(pid);
  if (!s) return -ESRCH;
  int rc = kill(pid, SIGKILL) < 0 ? -errno : 0, st;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
  drop_slot(s);
  return rc;
}

EXPORT int tsbox_pty_master(int pid) {
  struct slot *s = find_slot(pid);
  if (!s || s->sync_w >= 0) return -ESRCH;
  int fd = s->pty;
  drop_slot(s);
  return fd;
}

EXPORT int tsbox_wait(int pid) {
  int st;
  while (waitpid(pid, &st, 0) < 0)
    if (errno != EINTR) return -errno;
  return WIFSIGNALED(st) ? 128 + WTERMSIG(st) : WEXITSTATUS(st);
}

EXPORT int tsbox_set_winsize(int fd, int rows, int cols) {
  struct winsize ws = {.ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols};
  return ioctl(fd, TIOCSWINSZ, &ws) < 0 ? -errno : 0;
}

EXPORT int tsbox_mknod(const char *path, int mode, int major, int minor) {
  return mknod(path, (mode_t)mode, makedev((unsigned)major, (unsigned)minor)) < 0 ? -errno : 0;
}

EXPORT int tsbox_lsetxattr(const char *path, const char *name, const unsigned char *value, int len) {
  return lsetxattr(path, name, value, (size_t)len, 0) < 0 ? -errno : 0;
}

EXPORT int tsbox_lgetxattr_len(const char *path, const char *name) {
  ssize_t r = lgetxattr(path, name, NULL, 0);
  return r < 0 ? -errno : (int)r;
}

// Marks a directory FS_TOPDIR_FL: ext4's Orlov allocator then spreads the
// directories created in it over block groups like top-level ones, instead of
// packing them into the parent's group (see src/image/staging.ts).
EXPORT int tsbox_set_topdir(const char *path) {
  int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return -errno;
  int flags = 0;
  int rc = 0;
  if (ioctl(fd, FS_IOC_GETFLAGS, &flags) < 0) {
    rc = -errno;
  } else if (!(flags & FS_TOPDIR_FL)) {
    flags |= FS_TOPDIR_FL;
    if (ioctl(fd, FS_IOC_SETFLAGS, &flags) < 0) rc = -errno;
  }
  close(fd);
  return rc;
}
