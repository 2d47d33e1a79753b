// The CLI's copy of a foreground container's stdio (native-shims/PLAN.md,
// "Stdio copy"): a thread of the CLI's process moves bytes between the
// container's pipes (tsbox_spawn_stdio) and the CLI's own fds 0-2, so the
// container never holds those. A thread and not Node streams: they would load
// `net` and cost ~5 ms of every `tsbox run`; here it is one pthread_create.
// The container's json-file log, as the monitor keeps it for a detached one,
// is written by a second thread: each read goes to the CLI's fd, then is
// queued (a copy into a ring) for the log thread, which formats and writes
// it. The terminal does not wait for the log's formatting and writes unless
// the ring (LOG_RING) is full, when the copy waits for the log to catch up
// (nothing is dropped).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <unistd.h>
#include "json_log.h"

#define EXPORT __attribute__((visibility("default")))
#define BUF (64 * 1024)

// One direction: src → dst through buf (len bytes from off still to write).
struct stream {
  int src, dst;  // -1 once closed/finished
  int own_src;   // the container's pipe end (ours to close); not for the CLI's fd 0
  char *buf;
  size_t off, len;
};

#define LOG_RING (4 << 20)

// Reads queued for the log: records [stream u8][len u32][bytes] in a ring.
struct log_queue {
  pthread_t thread;
  pthread_mutex_t mu;
  pthread_cond_t data, room;
  char *ring;
  size_t head, used;  // head: where the oldest record starts
  int closing;
  struct json_log *log;
  char chunk[BUF];  // the log thread's copy of one record
};

struct copier {
  pthread_t thread;
  int used;
  int wake[2];  // the container exited: stop stdin, drain the rest
  int idle_ms;
  struct stream s[3];  // 0 stdout, 1 stderr, 2 stdin
  struct log_queue *logq;  // or NULL: --log-driver none, exec
};

static void ring_put(struct log_queue *q, const void *p, size_t n) {
  size_t at = (q->head + q->used) % LOG_RING, first = n < LOG_RING - at ? n : LOG_RING - at;
  memcpy(q->ring + at, p, first);
  memcpy(q->ring, (const char *)p + first, n - first);
  q->used += n;
}

static void ring_get(struct log_queue *q, void *p, size_t n) {
  size_t first = n < LOG_RING - q->head ? n : LOG_RING - q->head;
  memcpy(p, q->ring + q->head, first);
  memcpy((char *)p + first, q->ring, n - first);
  q->head = (q->head + n) % LOG_RING;
  q->used -= n;
}

// The copier's side: queues one read (n <= BUF); waits while the ring is full.
static void log_push(struct log_queue *q, int stream, const char *p, size_t n) {
  unsigned char head[5] = {(unsigned char)stream};
  uint32_t len = (uint32_t)n;
  memcpy(head + 1, &len, 4);
  pthread_mutex_lock(&q->mu);
  while (LOG_RING - q->used < sizeof head + n) pthread_cond_wait(&q->room, &q->mu);
  ring_put(q, head, sizeof head);
  ring_put(q, p, n);
  pthread_cond_signal(&q->data);
  pthread_mutex_unlock(&q->mu);
}

static void *log_main(void *arg) {
  struct log_queue *q = arg;
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, NULL);
  for (;;) {
    pthread_mutex_lock(&q->mu);
    while (q->used == 0 && !q->closing) pthread_cond_wait(&q->data, &q->mu);
    if (q->used == 0) { pthread_mutex_unlock(&q->mu); break; }
    unsigned char head[5];
    uint32_t len;
    ring_get(q, head, sizeof head);
    memcpy(&len, head + 1, 4);
    ring_get(q, q->chunk, len);
    pthread_cond_signal(&q->room);
    pthread_mutex_unlock(&q->mu);
    json_log_append(q->log, head[0], q->chunk, len);
  }
  json_log_close(q->log);
  return NULL;
}

// Opens the log and starts its thread; 0 or an errno (nothing left then).
static int log_start(struct log_queue **out, const char *path, long long max_size, long max_file) {
  struct log_queue *q = calloc(1, sizeof *q);
  if (!q) return ENOMEM;
  int err = 0;
  if (!(q->log = malloc(sizeof *q->log)) || !(q->ring = malloc(LOG_RING))) err = ENOMEM;
  else if ((err = -json_log_open(q->log, path, max_size, max_file)) != 0) {}
  else {
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->data, NULL);
    pthread_cond_init(&q->room, NULL);
    if ((err = pthread_create(&q->thread, NULL, log_main, q)) != 0) json_log_close(q->log);
  }
  if (err) { free(q->ring); free(q->log); free(q); return err; }
  *out = q;
  return 0;
}

// What is queued is logged, the file closed, the thread joined.
static void log_stop(struct log_queue *q) {
  pthread_mutex_lock(&q->mu);
  q->closing = 1;
  pthread_cond_signal(&q->data);
  pthread_mutex_unlock(&q->mu);
  pthread_join(q->thread, NULL);
  free(q->ring);
  free(q->log);
  free(q);
}
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

// i: the stream's index (0 stdout, 1 stderr: logged; 2 stdin).
static void pump(struct copier *c, int i) {
  struct stream *st = &c->s[i];
  ssize_t r;
  do r = read(st->src, st->buf, BUF); while (r < 0 && errno == EINTR);
  if (r < 0 && errno == EAGAIN) return;
  if (r <= 0) { finish(st); return; }  // EOF, or unreadable (a directory as stdin: EISDIR)
  st->len = (size_t)r;
  st->off = 0;
  int failed = flush(st) < 0;
  if (c->logq && i < 2) log_push(c->logq, i, st->buf, (size_t)r);
  if (failed) finish(st);
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
    int of[4];  // index into c->s, or -1: the wake pipe
    int n = 0, pending = 0;
    for (int i = 0; i < 3; i++) {
      struct stream *st = &c->s[i];
      if (st->src < 0) continue;
      if (st->len) { p[n] = (struct pollfd){st->dst, POLLOUT, 0}; pending = 1; }
      else p[n] = (struct pollfd){st->src, POLLIN, 0};
      of[n++] = i;
    }
    if (exited && c->s[0].src < 0 && c->s[1].src < 0) break;
    if (!exited) { p[n] = (struct pollfd){c->wake[0], POLLIN, 0}; of[n++] = -1; }
    // After the exit, output already written is in the pipes and arrives at
    // once; a pipe silent for idle_ms is held by a process that outlived the
    // command (a background process of an exec): stop waiting for its EOF.
    // Never while a write waits for the CLI's reader: that silence is not the container's.
    int r = poll(p, (nfds_t)n, exited && !pending ? c->idle_ms : -1);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    for (int i = 0; i < n; i++) {
      if (!p[i].revents) continue;
      if (of[i] < 0) {
        exited = 1;
        finish(&c->s[2]);  // stdin goes nowhere any more
        continue;
      }
      struct stream *st = &c->s[of[i]];
      if (st->src < 0) continue;
      if (p[i].events & POLLOUT) { if (flush(st) < 0) finish(st); }
      else pump(c, of[i]);
    }
  }
  for (int i = 0; i < 3; i++) finish(&c->s[i]);
  if (c->logq) { log_stop(c->logq); c->logq = NULL; }
  return NULL;
}

// Starts copying: the CLI's fd 0 → stdin_w (with -i), stdout_r → out_fd,
// stderr_r → err_fd; -1 for none. Takes the three pipe fds (out_fd and err_fd
// stay the caller's). With a log_path (not ""), what is read from stdout_r and
// stderr_r is also appended to that json-file log, rotated at log_max_size
// (0: never) keeping log_max_file files. Returns a handle for
// tsbox_copy_finish, or -errno (the fds are then still the caller's).
EXPORT int tsbox_copy_start_logged(int stdin_w, int stdout_r, int stderr_r, int out_fd, int err_fd, int idle_ms,
                                   const char *log_path, double log_max_size, int log_max_file) {
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
  if (log_path && *log_path) {
    if ((err = log_start(&c->logq, log_path, (long long)log_max_size, log_max_file)) != 0) goto fail;
  }
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
  if (c->logq) { log_stop(c->logq); c->logq = NULL; }
  if (c->wake[0] >= 0) { close(c->wake[0]); close(c->wake[1]); }
  c->used = 0;
  return -err;
}

// As tsbox_copy_start_logged, without a log.
EXPORT int tsbox_copy_start_to(int stdin_w, int stdout_r, int stderr_r, int out_fd, int err_fd, int idle_ms) {
  return tsbox_copy_start_logged(stdin_w, stdout_r, stderr_r, out_fd, err_fd, idle_ms, NULL, 0, 0);
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

// A -t container's json-file log, for the CLI's terminal pump (Node reads the
// pty master): opened here, each chunk of output appended as read. The
// terminal's output is one stream, stdout, as in Docker.
static struct json_log *tty_logs[8];

EXPORT int tsbox_log_open(const char *path, double max_size, int max_file) {
  pthread_mutex_lock(&copiers_lock);
  int h = 0;
  while (h < (int)(sizeof tty_logs / sizeof *tty_logs) && tty_logs[h]) h++;
  int err = h == (int)(sizeof tty_logs / sizeof *tty_logs) ? EAGAIN : 0;
  struct json_log *l = err ? NULL : malloc(sizeof *l);
  if (!err && !l) err = ENOMEM;
  if (!err) {
    int rc = json_log_open(l, path, (long long)max_size, max_file);
    if (rc < 0) { err = -rc; free(l); }
    else tty_logs[h] = l;
  }
  pthread_mutex_unlock(&copiers_lock);
  return err ? -err : h;
}

EXPORT int tsbox_log_write(int h, const char *p, int n) {
  if (h < 0 || h >= (int)(sizeof tty_logs / sizeof *tty_logs) || !tty_logs[h] || n < 0) return -ESRCH;
  json_log_append(tty_logs[h], 0, p, (size_t)n);
  return 0;
}

EXPORT int tsbox_log_close(int h) {
  if (h < 0 || h >= (int)(sizeof tty_logs / sizeof *tty_logs) || !tty_logs[h]) return -ESRCH;
  pthread_mutex_lock(&copiers_lock);
  json_log_close(tty_logs[h]);
  free(tty_logs[h]);
  tty_logs[h] = NULL;
  pthread_mutex_unlock(&copiers_lock);
  return 0;
}
