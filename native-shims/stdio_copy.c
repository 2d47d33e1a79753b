// The CLI's copy of a foreground container's stdio (native-shims/PLAN.md,
// "Stdio copy"): a thread of the CLI's process moves bytes between the
// container's pipes (tsbox_spawn_stdio) and the CLI's own fds 0-2, so the
// container never holds those. A thread and not Node streams: they would load
// `net` and cost ~5 ms of every `tsbox run`; here it is one pthread_create.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))
#define BUF (64 * 1024)

// One direction: src → dst through buf (len bytes from off still to write).
struct stream {
  int src, dst;  // -1 once closed/finished
  int own_src;   // the container's pipe end (ours to close); not for the CLI's fd 0
  char *buf;
  size_t off, len;
};

struct copier {
  pthread_t thread;
  int used;
  int wake[2];  // the container exited: stop stdin, drain the rest
  int idle_ms;
  struct stream s[3];  // 0 stdout, 1 stderr, 2 stdin
};
static struct copier copiers[8];
static pthread_mutex_t copiers_lock = PTHREAD_MUTEX_INITIALIZER;

static void finish(struct stream *st) {
  if (st->own_src && st->src >= 0) close(st->src);
  if (!st->own_src && st->dst >= 0) close(st->dst);  // stdin: EOF for the container
  st->src = st->dst = -1;
  st->len = st->off = 0;
}

// Writes what is pending; 0 when done or would block, -1 when dst failed
// (EPIPE: the reader is gone; closing our read end then makes the container's
// next write fail with SIGPIPE/EPIPE, as if it had written to the closed end).
static int flush(struct stream *st) {
  while (st->off < st->len) {
    ssize_t w = write(st->dst, st->buf + st->off, st->len - st->off);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && errno == EAGAIN) return 0;  // the CLI's fd is O_NONBLOCK: poll for POLLOUT
    if (w <= 0) return -1;
    st->off += (size_t)w;
  }
  st->off = st->len = 0;
  return 0;
}

static void pump(struct stream *st) {
  ssize_t r;
  do r = read(st->src, st->buf, BUF); while (r < 0 && errno == EINTR);
  if (r < 0 && errno == EAGAIN) return;
  if (r <= 0) { finish(st); return; }  // EOF, or unreadable (a directory as stdin: EISDIR)
  st->len = (size_t)r;
  st->off = 0;
  if (flush(st) < 0) finish(st);
}

static void *copy_main(void *arg) {
  struct copier *c = arg;
  // Signals are Node's business: its other threads take them.
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, NULL);
  int exited = 0;
  for (;;) {
    struct pollfd p[4];
    struct stream *of[4];
    int n = 0, pending = 0;
    for (int i = 0; i < 3; i++) {
      struct stream *st = &c->s[i];
      if (st->src < 0) continue;
      if (st->len) { p[n] = (struct pollfd){st->dst, POLLOUT, 0}; pending = 1; }
      else p[n] = (struct pollfd){st->src, POLLIN, 0};
      of[n++] = st;
    }
    if (exited && c->s[0].src < 0 && c->s[1].src < 0) break;
    if (!exited) { p[n] = (struct pollfd){c->wake[0], POLLIN, 0}; of[n++] = NULL; }
    // After the exit, output already written is in the pipes and arrives at
    // once; a pipe silent for idle_ms is held by a process that outlived the
    // command (a background process of an exec): stop waiting for its EOF.
    // Never while a write waits for the CLI's reader: that silence is not the container's.
    int r = poll(p, (nfds_t)n, exited && !pending ? c->idle_ms : -1);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    for (int i = 0; i < n; i++) {
      if (!p[i].revents) continue;
      struct stream *st = of[i];
      if (!st) {
        exited = 1;
        finish(&c->s[2]);  // stdin goes nowhere any more
        continue;
      }
      if (st->src < 0) continue;
      if (p[i].events & POLLOUT) { if (flush(st) < 0) finish(st); }
      else pump(st);
    }
  }
  for (int i = 0; i < 3; i++) finish(&c->s[i]);
  return NULL;
}

// Starts copying: the CLI's fd 0 → stdin_w (with -i), stdout_r → out_fd,
// stderr_r → err_fd; -1 for none. Takes the three pipe fds (out_fd and err_fd
// stay the caller's). Returns a handle for tsbox_copy_finish, or -errno (the
// fds are then still the caller's).
EXPORT int tsbox_copy_start_to(int stdin_w, int stdout_r, int stderr_r, int out_fd, int err_fd, int idle_ms) {
  pthread_mutex_lock(&copiers_lock);
  int h = 0;
  while (h < (int)(sizeof copiers / sizeof *copiers) && copiers[h].used) h++;
  if (h == (int)(sizeof copiers / sizeof *copiers)) { pthread_mutex_unlock(&copiers_lock); return -EAGAIN; }
  struct copier *c = &copiers[h];
  memset(c, 0, sizeof *c);
  c->used = 1;
  pthread_mutex_unlock(&copiers_lock);
  int err = 0;
  c->wake[0] = c->wake[1] = -1;
  c->idle_ms = idle_ms;
  c->s[0] = (struct stream){stdout_r, out_fd, 1, NULL, 0, 0};
  c->s[1] = (struct stream){stderr_r, err_fd, 1, NULL, 0, 0};
  c->s[2] = (struct stream){stdin_w >= 0 ? 0 : -1, stdin_w, 0, NULL, 0, 0};
  if (pipe2(c->wake, O_CLOEXEC) < 0) { err = errno; goto fail; }
  // Our ends of the container's pipes never block the thread: a write to a full
  // stdin pipe while the container blocks on its full stdout pipe (it writes
  // before it reads) would deadlock both. These are our own open file
  // descriptions; the container's ends stay blocking.
  int ours[3] = {stdout_r, stderr_r, stdin_w};
  for (int i = 0; i < 3; i++) {
    if (ours[i] < 0) continue;
    int fl = fcntl(ours[i], F_GETFL);
    if (fl < 0 || fcntl(ours[i], F_SETFL, fl | O_NONBLOCK) < 0) { err = errno; goto fail; }
  }
  for (int i = 0; i < 3; i++)
    if (c->s[i].src >= 0 && !(c->s[i].buf = malloc(BUF))) { err = ENOMEM; goto fail; }
  if ((err = pthread_create(&c->thread, NULL, copy_main, c)) != 0) goto fail;
  return h;
fail:
  for (int i = 0; i < 3; i++) free(c->s[i].buf);
  if (c->wake[0] >= 0) { close(c->wake[0]); close(c->wake[1]); }
  c->used = 0;
  return -err;
}

// The usual copy: the container's output to the CLI's fds 1 and 2.
EXPORT int tsbox_copy_start(int stdin_w, int stdout_r, int stderr_r, int idle_ms) {
  return tsbox_copy_start_to(stdin_w, stdout_r, stderr_r, 1, 2, idle_ms);
}

// The container's process has exited: stops copying stdin, drains stdout and
// stderr to their EOF (or until silent for idle_ms), joins the thread.
// Blocks: call off the main thread.
EXPORT int tsbox_copy_finish(int h) {
  if (h < 0 || h >= (int)(sizeof copiers / sizeof *copiers) || !copiers[h].used) return -ESRCH;
  struct copier *c = &copiers[h];
  ssize_t w;
  do w = write(c->wake[1], "x", 1); while (w < 0 && errno == EINTR);
  pthread_join(c->thread, NULL);
  close(c->wake[0]);
  close(c->wake[1]);
  for (int i = 0; i < 3; i++) free(c->s[i].buf);
  pthread_mutex_lock(&copiers_lock);
  c->used = 0;
  pthread_mutex_unlock(&copiers_lock);
  return 0;
}
