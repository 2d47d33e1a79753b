// tsbox-monitor: one small native process per detached container, in the
// manner of conmon. It is the container's parent (only an ancestor can wait()
// for it), so it performs the launch itself with the shim's own spawn code
// (native-shims/shim.c is compiled into this executable), places the child in
// its cgroup, keeps its stdio, writes the json-file log, waits for the exit and
// reports it. Mechanism only: whether to restart, and after which back-off, is
// asked of a decider command (TypeScript) at each exit; the log's size limits
// come from the CLI. Static buffers only: no heap churn once running.
//
// Usage and messages: PROTOCOL.md beside this file (and src/native/monitor-protocol.ts).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include "../json_log.h"

// From shim.c (same executable).
int tsbox_spawn(int n, char **plan);
int tsbox_start_join(int pid);
const char *tsbox_last_error(void);
const char *tsbox_start(int pid);
int tsbox_abort(int pid);
int tsbox_pty_master(int pid);

#define MAX_PLAN (1 << 20)
#define MAX_STRINGS 8192
#define MAX_CGROUPS 16

static char plan_buf[MAX_PLAN];
static char *plan[MAX_STRINGS];
static int plan_n;

static const char *dir;
static const char *cgroups[MAX_CGROUPS];
static int ncgroups;
static const char *oom_file;
static const char *shm_dir;  // --shm: the host tmpfs of the container's /dev/shm (--ipc shareable), unmounted at the end
static const char *shm_data;  // --shm-data: its mount options (mode, size), for the fresh tmpfs of each policy restart
#define PROTOCOL 1  // src/native/monitor-protocol.ts MONITOR_PROTOCOL
static char *decide_argv[64];  // the restart decider's argv (NULL-terminated), or none: never restart
static long long log_max_size;
static long log_max_file = 1;
static int no_log;  // --log-driver none
// --health: the health checker's argv (one probe a run: src/cli/health-check.ts), started every
// health_interval_ms after the previous one ended, the first that long after each launch.
static char *health_argv[64];
static long health_interval_ms;
static pid_t checker;
static struct timespec next_check;
static void schedule_check(void);
static int tty;
static char **exit_command;

static struct json_log clog;  // in .bss (fd set to -1 first thing): its buffers cost nothing until used

struct stream { int fd; int index; };  // index: the log's stream, 0 stdout, 1 stderr
static struct stream streams[2];

// Attach (tty containers): a unix socket `attach` in DIR, one client at a
// time. Monitor → client: the terminal's output, raw. Client → monitor: frames
// [type u8][len u16 LE][payload], type 0 = input for the terminal, type 1 =
// window size (rows u16 LE, cols u16 LE). The path is bound through
// /proc/self/fd/<dir fd>/attach: a container dir's full path may exceed
// sun_path's 108 bytes.
static int listen_fd = -1, client_fd = -1;
static unsigned char frame[3 + 65535];
static size_t frame_len;
// --attach-first (`run -it`, whose CLI attaches right after the launch): the
// terminal's output until the first client connects is kept for it (up to
// 64 KiB), so a command's first lines reach the terminal as in the foreground.
static int hold_output;
static char held[65536];
static size_t held_len;

static pid_t child;
static int restart_count;
static char started_at[40], finished_at[40];

static void path_in_dir(char *out, size_t n, const char *name) { snprintf(out, n, "%s/%s", dir, name); }


static void write_status(const char *status, int exit_code, int oom) {
  char tmp[4210], target[4200], body[512];
  path_in_dir(target, sizeof target, "monitor.json");
  snprintf(tmp, sizeof tmp, "%s.tmp", target);
  int n = snprintf(body, sizeof body,
                   "{\"v\":%d,\"status\":\"%s\",\"pid\":%d,\"exitCode\":%d,\"oomKilled\":%s,\"startedAt\":\"%s\","
                   "\"finishedAt\":\"%s\",\"restartCount\":%d,\"monitorPid\":%d}\n",
                   PROTOCOL, status, child, exit_code, oom ? "true" : "false", started_at, finished_at, restart_count,
                   (int)getpid());
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return;
  int bad = json_log_write_all(fd, body, (size_t)n);
  close(fd);
  if (!bad) rename(tmp, target);
}

// Reads what is there; returns 0 on EOF/error (stream closed).
static int pump(struct stream *s) {
  char buf[8192];
  ssize_t r = read(s->fd, buf, sizeof buf);
  if (r < 0 && (errno == EINTR || errno == EAGAIN)) return 1;
  if (r <= 0) {  // a pty master reports EIO once the last slave is closed
    json_log_end(&clog, s->index);
    close(s->fd);
    s->fd = -1;
    return 0;
  }
  if (hold_output && client_fd < 0) {
    size_t k = (size_t)r < sizeof held - held_len ? (size_t)r : sizeof held - held_len;
    memcpy(held + held_len, buf, k);
    held_len += k;
  }
  if (client_fd >= 0 && send(client_fd, buf, (size_t)r, MSG_NOSIGNAL | MSG_DONTWAIT) < 0 && errno != EAGAIN) {
    close(client_fd);
    client_fd = -1;
  }
  json_log_append(&clog, s->index, buf, (size_t)r);
  return 1;
}

static int read_oom_kills(void) {
  if (!oom_file) return 0;
  char buf[1024];
  int fd = open(oom_file, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  ssize_t r = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (r <= 0) return 0;
  buf[r] = 0;
  char *p = strstr(buf, "oom_kill ");
  return p ? atoi(p + 9) : 0;
}

static void report(int fd, const char *line) {
  if (fd >= 0) { json_log_write_all(fd, line, strlen(line)); close(fd); }
}

// The launch report of a failure: msg is "<code>\t<message>" (the shim's form).
static void report_failure(int fd, const char *msg) {
  static char line[4400 * 6 + 64];
  const char *tab = strchr(msg, '\t');
  const char *text = tab ? tab + 1 : msg;
  int code = atoi(msg) ? atoi(msg) : 125;
  char *p = line + sprintf(line, "{\"v\":%d,\"kind\":\"failed\",\"code\":%d,\"message\":\"", PROTOCOL, code);
  p = json_escape(p, text, strlen(text));
  strcpy(p, "\"}\n");
  report(fd, line);
}

// One launch of the plan: pipes (or the pty) for stdio, clone, cgroup, release.
// Returns 0, or fills msg with "<code>\t<message>" and returns the exit code.
static int launch(char *msg, size_t msgn) {
  int out[2] = {-1, -1}, err[2] = {-1, -1};
  if (!tty && (pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0)) {
    snprintf(msg, msgn, "125\tmonitor: pipe: %s", strerror(errno));
    return 125;
  }
  if (!tty) { dup2(out[1], 1); dup2(err[1], 2); }  // the child's 1 and 2, handed over by STDIO
  int pid = tsbox_spawn(plan_n, plan);
  if (!tty) {
    int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
    dup2(null, 1);
    dup2(null, 2);
    close(null);
    close(out[1]);
    close(err[1]);
  }
  if (pid < 0) {
    snprintf(msg, msgn, "125\t%s", tsbox_last_error());
    if (!tty) { close(out[0]); close(err[0]); }
    return 125;
  }
  // A PID namespace joined by path (--pid container:X): the shim's child forks
  // into it and exits; the forked process is the container's (this monitor's
  // child, as a subreaper), placed in the cgroup before it goes on.
  int inner = tsbox_start_join(pid);
  if (inner == -1) {
    const char *r = tsbox_start(pid);
    snprintf(msg, msgn, "%s", *r ? r : "125\tlaunch: the container's process did not start");
    if (!tty) { close(out[0]); close(err[0]); }
    return atoi(msg) ? atoi(msg) : 125;
  }
  pid_t target = inner > 0 ? inner : pid;
  for (int i = 0; i < ncgroups; i++) {
    char p[4200];
    snprintf(p, sizeof p, "%s/cgroup.procs", cgroups[i]);
    int fd = open(p, O_WRONLY | O_CLOEXEC), e = 0;
    char num[24];
    int len = snprintf(num, sizeof num, "%d", (int)target);
    if (fd < 0 || write(fd, num, (size_t)len) != len) e = errno;
    if (fd >= 0) close(fd);
    if (e) {
      tsbox_abort(pid);
      snprintf(msg, msgn, "125\tcgroup: adding process %d to %s: %s", pid, cgroups[i], strerror(e));
      if (!tty) { close(out[0]); close(err[0]); }
      return 125;
    }
  }
  const char *r = tsbox_start(pid);
  if (*r) {
    snprintf(msg, msgn, "%s", r);
    if (!tty) { close(out[0]); close(err[0]); }
    return atoi(r) ? atoi(r) : 125;
  }
  child = target;
  if (tty) {
    streams[0].fd = tsbox_pty_master(pid);
    streams[1].fd = -1;
  } else {
    streams[0].fd = out[0];
    streams[1].fd = err[0];
  }
  for (int i = 0; i < 2; i++)
    if (streams[i].fd >= 0) fcntl(streams[i].fd, F_SETFL, O_NONBLOCK);
  json_log_now(started_at, sizeof started_at);
  finished_at[0] = 0;
  if (health_argv[0]) schedule_check();
  return 0;
}

static void open_attach(void) {
  int dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return;
  struct sockaddr_un a = {.sun_family = AF_UNIX};
  snprintf(a.sun_path, sizeof a.sun_path, "/proc/self/fd/%d/attach", dfd);
  unlink(a.sun_path);
  listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (listen_fd >= 0 && (bind(listen_fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(listen_fd, 4) < 0)) {
    close(listen_fd);
    listen_fd = -1;
  }
  close(dfd);
}

static void accept_client(void) {
  int c = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
  if (c < 0) return;
  if (client_fd >= 0) close(client_fd);  // the newest attach wins, as one terminal
  client_fd = c;
  frame_len = 0;
  if (hold_output) {  // the first client: what the terminal wrote before it came
    hold_output = 0;
    for (size_t off = 0; off < held_len;) {
      ssize_t w = send(client_fd, held + off, held_len - off, MSG_NOSIGNAL);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) break;
      off += (size_t)w;
    }
    held_len = 0;
  }
}

// Input and resizes from the attached client, to the terminal.
static void client_input(void) {
  ssize_t r = read(client_fd, frame + frame_len, sizeof frame - frame_len);
  if (r < 0 && (errno == EINTR || errno == EAGAIN)) return;
  if (r <= 0) { close(client_fd); client_fd = -1; return; }
  frame_len += (size_t)r;
  for (;;) {
    if (frame_len < 3) return;
    size_t len = (size_t)frame[1] | (size_t)frame[2] << 8;
    if (frame_len < 3 + len) return;
    int term = streams[0].fd;
    if (frame[0] == 0 && term >= 0) {
      // A burst of typing; a terminal nobody reads drops it after a while, as a full pty would block.
      for (size_t off = 0, tries = 0; off < len && tries < 50;) {
        ssize_t w = write(term, frame + 3 + off, len - off);
        if (w < 0 && errno == EAGAIN) { struct pollfd pw = {term, POLLOUT, 0}; poll(&pw, 1, 100); tries++; continue; }
        if (w <= 0) break;
        off += (size_t)w;
      }
    } else if (frame[0] == 1 && len == 4 && term >= 0) {
      struct winsize ws = {.ws_row = (unsigned short)(frame[3] | frame[4] << 8),
                           .ws_col = (unsigned short)(frame[5] | frame[6] << 8)};
      ioctl(term, TIOCSWINSZ, &ws);
    }
    memmove(frame, frame + 3 + len, frame_len - 3 - len);
    frame_len -= 3 + len;
  }
}

static void schedule_check(void) {
  clock_gettime(CLOCK_MONOTONIC, &next_check);
  next_check.tv_sec += health_interval_ms / 1000;
  next_check.tv_nsec += (health_interval_ms % 1000) * 1000000L;
  if (next_check.tv_nsec >= 1000000000L) { next_check.tv_sec++; next_check.tv_nsec -= 1000000000L; }
}

// The poll timeout until the next probe is due: -1 without a health check or while one runs.
static int check_timeout(void) {
  if (!health_argv[0] || checker > 0) return -1;
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  long ms = (long)(next_check.tv_sec - now.tv_sec) * 1000 + (next_check.tv_nsec - now.tv_nsec) / 1000000;
  return ms < 0 ? 0 : ms > 3600000 ? 3600000 : (int)ms;
}

// One probe: the checker runs with the monitor's /dev/null stdio and no signal blocked,
// and dies with the monitor (rm -f kills the monitor first: no probe may outlive it).
static void start_check(void) {
  pid_t self = getpid();
  pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    if (getppid() != self) _exit(0);  // the monitor died before the line above
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    execv(health_argv[0], health_argv);
    _exit(127);
  }
  if (pid > 0) checker = pid;
  else schedule_check();  // fork failed: try again at the next interval
}

// The container is gone: a probe still running has nothing left to check.
static void stop_check(void) {
  if (checker <= 0) return;
  kill(checker, SIGKILL);
  while (waitpid(checker, NULL, 0) < 0 && errno == EINTR) {}
  checker = 0;
}

// Until the child has exited and its output is drained; returns its exit code.
static int supervise(int sfd) {
  int status = -1;
  for (;;) {
    struct pollfd p[5];
    int n = 0, idx[5];
    p[n].fd = sfd; p[n].events = POLLIN; idx[n++] = -1;
    for (int i = 0; i < 2; i++)
      if (streams[i].fd >= 0) { p[n].fd = streams[i].fd; p[n].events = POLLIN; idx[n++] = i; }
    if (status >= 0 && n == 1) break;
    int streams_end = n;
    if (listen_fd >= 0) { p[n].fd = listen_fd; p[n].events = POLLIN; idx[n++] = -2; }
    if (client_fd >= 0) { p[n].fd = client_fd; p[n].events = POLLIN; idx[n++] = -3; }
    // Once the child is gone, a pty's or a daemonised grandchild's output may
    // never end: drain for a moment only.
    if (poll(p, (nfds_t)n, status >= 0 ? 200 : check_timeout()) == 0) {
      if (status >= 0) break;
      start_check();
      continue;
    }
    for (int i = 1; i < streams_end; i++)
      if (p[i].revents) pump(&streams[idx[i]]);
    for (int i = streams_end; i < n; i++) {
      if (!p[i].revents) continue;
      if (idx[i] == -2) accept_client();
      else if (client_fd >= 0) client_input();
    }
    if (p[0].revents & POLLIN) {
      struct signalfd_siginfo si;
      while (read(sfd, &si, sizeof si) == sizeof si) {}
      int st;
      pid_t w;
      while ((w = waitpid(-1, &st, WNOHANG)) > 0) {
        if (w == child) status = WIFSIGNALED(st) ? 128 + WTERMSIG(st) : WEXITSTATUS(st);
        if (w == checker) { checker = 0; schedule_check(); }
      }
      if (status >= 0) stop_check();
    }
  }
  for (int i = 0; i < 2; i++)
    if (streams[i].fd >= 0) { json_log_end(&clog, i); close(streams[i].fd); streams[i].fd = -1; }
  return status;
}

// SIGKILL to every process in a cgroup directory: cgroup.kill (v2, 5.14+), else each one in cgroup.procs.
static void kill_cgroup(const char *cg) {
  char p[4200], buf[4096];
  snprintf(p, sizeof p, "%s/cgroup.kill", cg);
  int fd = open(p, O_WRONLY | O_CLOEXEC);
  if (fd >= 0) {
    int ok = write(fd, "1", 1) == 1;
    close(fd);
    if (ok) return;
  }
  snprintf(p, sizeof p, "%s/cgroup.procs", cg);
  if ((fd = open(p, O_RDONLY | O_CLOEXEC)) < 0) return;
  ssize_t r;
  size_t have = 0;
  while ((r = read(fd, buf + have, sizeof buf - 1 - have)) > 0) {
    have += (size_t)r;
    buf[have] = 0;
    char *line = buf, *nl;
    while ((nl = strchr(line, '\n'))) {
      *nl = 0;
      if (atoi(line) > 0) kill(atoi(line), SIGKILL);
      line = nl + 1;
    }
    have = strlen(line);
    memmove(buf, line, have);
  }
  close(fd);
}

static int stop_requested(void) {
  char p[4200];
  path_in_dir(p, sizeof p, "stop");
  return access(p, F_OK) == 0;
}

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {}
}

static int load_plan(void) {
  char p[4200];
  path_in_dir(p, sizeof p, "plan");
  int fd = open(p, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  size_t got = 0;
  ssize_t r;
  while ((r = read(fd, plan_buf + got, sizeof plan_buf - 1 - got)) > 0) got += (size_t)r;
  close(fd);
  if (r < 0 || got == 0 || got >= sizeof plan_buf - 1) return -1;
  plan_buf[got] = 0;  // the file ends with a NUL; this guards a truncated one
  for (size_t i = 0; i < got && plan_n < MAX_STRINGS; i += strlen(plan_buf + i) + 1) plan[plan_n++] = plan_buf + i;
  return 0;
}

static int parse_args(int argc, char **argv) {
  if (argc < 2) return -1;
  dir = argv[1];
  for (int i = 2; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--tty")) { tty = 1; continue; }
    if (!strcmp(a, "--no-log")) { no_log = 1; continue; }
    if (!strcmp(a, "--attach-first")) { hold_output = 1; continue; }
    if (!strcmp(a, "--exit-command")) { exit_command = argv + i + 1; break; }
    if (!v) return -1;
    if (!strcmp(a, "--health")) {  // --health INTERVAL_MS N ARG1 … ARGN
      long n = i + 2 < argc ? atol(argv[i + 2]) : 0;
      health_interval_ms = atol(v);
      if (health_interval_ms < 1 || n < 1 || n >= (long)(sizeof health_argv / sizeof *health_argv) || i + 2 + n >= argc) return -1;
      for (long k = 0; k < n; k++) health_argv[k] = argv[i + 3 + k];
      health_argv[n] = NULL;
      i += 2 + (int)n;
      continue;
    }
    if (!strcmp(a, "--decide")) {  // --decide N ARG1 … ARGN
      long n = atol(v);
      if (n < 1 || n >= (long)(sizeof decide_argv / sizeof *decide_argv) || i + 1 + n >= argc) return -1;
      for (long k = 0; k < n; k++) decide_argv[k] = argv[i + 2 + k];
      decide_argv[n] = NULL;
      i += 1 + (int)n;
      continue;
    }
    i++;
    if (!strcmp(a, "--cgroup") && ncgroups < MAX_CGROUPS) cgroups[ncgroups++] = v;
    else if (!strcmp(a, "--oom-file")) oom_file = v;
    else if (!strcmp(a, "--shm")) shm_dir = v;
    else if (!strcmp(a, "--shm-data")) shm_data = v;
    else if (!strcmp(a, "--log-max-size")) log_max_size = atoll(v);
    else if (!strcmp(a, "--log-max-file")) log_max_file = atol(v) > 0 ? atol(v) : 1;
    else return -1;
  }
  return 0;
}

static long ms_between(const struct timespec *a, const struct timespec *b) {
  return (long)(b->tv_sec - a->tv_sec) * 1000 + (b->tv_nsec - a->tv_nsec) / 1000000;
}

// Asks the decider about this exit (an ExitReport on its stdin, a
// RestartDecision on its stdout); returns the back-off in ms before the next
// run, or -1: no restart. A decider that fails, hangs (10 s) or answers
// anything else means no restart: a broken install ends a restart loop rather
// than spinning it.
static long decide(int code, int oom, long ran_ms, long last_delay) {
  if (!decide_argv[0]) return -1;
  int in[2], out[2];
  if (pipe2(in, O_CLOEXEC) < 0) return -1;
  if (pipe2(out, O_CLOEXEC) < 0) { close(in[0]); close(in[1]); return -1; }
  pid_t pid = fork();
  if (pid == 0) {
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    dup2(in[0], 0);  // dup2's copies are not close-on-exec; 2 stays /dev/null
    dup2(out[1], 1);
    execv(decide_argv[0], decide_argv);
    _exit(127);
  }
  close(in[0]);
  close(out[1]);
  if (pid < 0) { close(in[1]); close(out[0]); return -1; }
  char msg[320];
  int n = snprintf(msg, sizeof msg,
                   "{\"v\":%d,\"exitCode\":%d,\"oomKilled\":%s,\"ranMs\":%ld,\"restartCount\":%d,"
                   "\"lastDelayMs\":%ld,\"stopRequested\":%s}\n",
                   PROTOCOL, code, oom ? "true" : "false", ran_ms, restart_count, last_delay,
                   stop_requested() ? "true" : "false");
  json_log_write_all(in[1], msg, (size_t)n);  // all signals are blocked: a decider gone early is EPIPE, not SIGPIPE
  close(in[1]);
  char reply[256];
  size_t got = 0;
  int timed_out = 0;
  while (got < sizeof reply - 1) {
    struct pollfd p = {out[0], POLLIN, 0};
    int k = poll(&p, 1, 10000);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) { timed_out = 1; break; }
    ssize_t r = read(out[0], reply + got, sizeof reply - 1 - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    got += (size_t)r;
  }
  reply[got] = 0;
  close(out[0]);
  if (timed_out) kill(pid, SIGKILL);
  int st = 0;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
  if (timed_out || !WIFEXITED(st) || WEXITSTATUS(st) != 0) return -1;
  // The decider's fixed shape (monitor-protocol.ts encodeDecision).
  char head[32];
  snprintf(head, sizeof head, "{\"v\":%d,\"restart\":", PROTOCOL);
  if (strncmp(reply, head, strlen(head)) != 0) return -1;
  const char *rest = reply + strlen(head);
  static const char yes[] = "true,\"delayMs\":";
  if (strncmp(rest, yes, sizeof yes - 1) != 0) return -1;
  long delay = atol(rest + sizeof yes - 1);
  return delay >= 0 ? delay : -1;
}

int main(int argc, char **argv) {
  int rep = 3;
  if (fcntl(rep, F_GETFD) < 0) rep = -1;
  else fcntl(rep, F_SETFD, FD_CLOEXEC);
  if (parse_args(argc, argv) < 0) {
    report_failure(rep, "125\tmonitor: bad arguments");
    return 125;
  }
  if (load_plan() < 0) {
    report_failure(rep, "125\tmonitor: cannot read the launch plan");
    return 125;
  }
  // Detach: the CLI reaps the intermediate; the monitor is re-parented to init
  // (or the nearest subreaper) and is in no session with a terminal.
  pid_t f = fork();
  if (f < 0) { report_failure(rep, "125\tmonitor: fork failed"); return 125; }
  if (f > 0) _exit(0);
  setsid();
  if (chdir("/") < 0) {}
  int null = open("/dev/null", O_RDWR | O_CLOEXEC);
  dup2(null, 0);
  dup2(null, 1);
  dup2(null, 2);
  if (null > 2) close(null);
  prctl(PR_SET_NAME, "tsbox-monitor", 0, 0, 0);
  // The process a PIDNS plan forks into a joined PID namespace is orphaned by
  // the shim's child: it must become this monitor's, to be waited for.
  prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);

  // Every signal but SIGKILL/SIGSTOP is a no-op for the monitor; SIGCHLD comes through a signalfd.
  sigset_t all;
  sigfillset(&all);
  sigprocmask(SIG_BLOCK, &all, NULL);
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  int sfd = signalfd(-1, &chld, SFD_NONBLOCK | SFD_CLOEXEC);

  clog.fd = -1;
  if (!no_log) {
    char log_path[4200];
    path_in_dir(log_path, sizeof log_path, "container.log");
    json_log_open(&clog, log_path, log_max_size, log_max_file);
  }
  if (tty) open_attach();
  streams[0].index = 0;
  streams[1].index = 1;
  streams[0].fd = streams[1].fd = -1;

  char msg[4400], line[128];
  int code = launch(msg, sizeof msg);
  if (code) {
    report_failure(rep, msg);
    return code;
  }
  write_status("running", 0, 0);
  snprintf(line, sizeof line, "{\"v\":%d,\"kind\":\"started\",\"pid\":%d,\"monitorPid\":%d}\n", PROTOCOL, child,
           (int)getpid());
  report(rep, line);

  int oom_before = read_oom_kills(), oom = 0;
  long delay = 0;
  for (;;) {
    struct timespec t0, t1, t2;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    code = supervise(sfd);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    int kills = read_oom_kills();
    oom = kills > oom_before;
    oom_before = kills;
    json_log_now(finished_at, sizeof finished_at);
    long next = decide(code, oom, ms_between(&t0, &t1), delay);
    if (next < 0) break;
    write_status("restarting", code, oom);
    clock_gettime(CLOCK_MONOTONIC, &t2);
    long spent = ms_between(&t1, &t2);  // the question's own time is part of the back-off
    if (next > spent) sleep_ms(next - spent);
    delay = next;
    if (stop_requested()) break;  // a stop during the back-off wins
    restart_count++;
    // Docker's restart unmounts a shareable /dev/shm at the exit and mounts a new one at the start: the
    // restarted command finds it empty (joiners keep their binds of the old one, as at a stop).
    if (shm_dir && shm_data) {
      umount2(shm_dir, MNT_DETACH | UMOUNT_NOFOLLOW);
      if (mount("shm", shm_dir, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, shm_data) < 0) {
        code = 125;
        break;
      }
    }
    // Reread: the decider may have pointed it at a donor's namespaces of now (--pid/--ipc container:X).
    plan_n = 0;
    if (load_plan() < 0) {
      code = 125;
      break;
    }
    if (launch(msg, sizeof msg)) {  // a failed relaunch ends the container as that failure
      code = atoi(msg) ? atoi(msg) : 125;
      break;
    }
    write_status("running", 0, 0);
  }
  child = 0;
  // The cgroup's processes are gone with PID 1 of the container's namespace;
  // not so in a PID namespace it shares (--pid container:X, host), where what
  // the command left running (reparented to that namespace's init) is killed.
  for (int i = 0; i < ncgroups; i++)
    for (int tries = 0; tries < 50 && rmdir(cgroups[i]) < 0 && errno == EBUSY; tries++) {
      if (tries == 0) kill_cgroup(cgroups[i]);
      sleep_ms(20);
    }
  // Docker unmounts a shareable /dev/shm when the container stops; joiners keep their binds of it.
  if (shm_dir) umount2(shm_dir, MNT_DETACH | UMOUNT_NOFOLLOW);
  write_status("exited", code, oom);
  json_log_close(&clog);
  if (hold_output && listen_fd >= 0) {
    // run -it whose command ended before its CLI attached: the CLI still gets its output and exit (5 s at most).
    struct pollfd p = {listen_fd, POLLIN, 0};
    if (poll(&p, 1, 5000) > 0) accept_client();
  }
  if (client_fd >= 0) {
    // The attached client sees the end (EOF) with the exit already in
    // monitor.json, reads it, and closes; only then may an exit command
    // (--rm's `rm -f`) remove the container. A client that does not close is
    // not waited for more than 2 s.
    shutdown(client_fd, SHUT_WR);
    for (int i = 0; i < 20; i++) {
      struct pollfd p = {client_fd, POLLIN, 0};
      if (poll(&p, 1, 100) < 0 && errno != EINTR) break;
      if (!p.revents) continue;
      char drop[4096];
      ssize_t r = read(client_fd, drop, sizeof drop);
      if (r == 0 || (r < 0 && errno != EINTR && errno != EAGAIN)) break;
    }
    close(client_fd);
  }
  if (listen_fd >= 0) close(listen_fd);
  if (exit_command && exit_command[0]) {
    execv(exit_command[0], exit_command);
    return 127;
  }
  return 0;
}
