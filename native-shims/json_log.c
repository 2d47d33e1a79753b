// Docker's json-file log (json_log.h). Lines are formatted into l->out and
// written once a read's worth is formatted: one write(2) for a burst of short
// lines, not one a line.
#define _GNU_SOURCE
#include "json_log.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *const stream_names[2] = {"stdout", "stderr"};

void json_log_now(char *out, size_t n) {
  struct timespec ts;
  struct tm tm;
  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  size_t k = strftime(out, n, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(out + k, n - k, ".%09ldZ", ts.tv_nsec);
}

int json_log_write_all(int fd, const char *p, size_t n) {
  while (n) {
    ssize_t r = write(fd, p, n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return -1;
    p += r;
    n -= (size_t)r;
  }
  return 0;
}

// Bytes that a JSON string holds as they are: not '"' (0x22), '\\' (0x5c), control bytes or DEL.
static const unsigned char plain[256] = {[0x20 ... 0x21] = 1, [0x23 ... 0x5b] = 1, [0x5d ... 0x7e] = 1, [0x80 ... 0xff] = 1};

char *json_escape(char *p, const char *s, size_t n) {
  static const char hex[] = "0123456789abcdef";
  for (size_t i = 0; i < n;) {
    // Runs of plain bytes (most of a text line) in one copy.
    size_t j = i;
    while (j < n && plain[(unsigned char)s[j]]) j++;
    memcpy(p, s + i, j - i);
    p += j - i;
    if (j == n) break;
    unsigned char c = (unsigned char)s[j];
    if (c == '"' || c == '\\') { *p++ = '\\'; *p++ = (char)c; }
    else if (c == '\n') { *p++ = '\\'; *p++ = 'n'; }
    else if (c == '\r') { *p++ = '\\'; *p++ = 'r'; }
    else if (c == '\t') { *p++ = '\\'; *p++ = 't'; }
    else { *p++ = '\\'; *p++ = 'u'; *p++ = '0'; *p++ = '0'; *p++ = hex[c >> 4]; *p++ = hex[c & 15]; }
    i = j + 1;
  }
  return p;  // UTF-8 passes through; invalid bytes are the reader's problem, as in Docker
}

static void flush(struct json_log *l) {
  if (l->out_len && l->fd >= 0) json_log_write_all(l->fd, l->out, l->out_len);
  l->out_len = 0;
}

static void open_file(struct json_log *l, int trunc) {
  l->fd = open(l->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | (trunc ? O_TRUNC : 0), 0640);
  struct stat st;
  l->size = l->fd >= 0 && fstat(l->fd, &st) == 0 ? st.st_size : 0;
}

// container.log → .1 → .2 … up to max-file - 1 kept besides the live one.
// What is formatted before `keep` goes to the old file; from it on, to the new.
static void rotate(struct json_log *l, size_t keep) {
  if (keep && l->fd >= 0) json_log_write_all(l->fd, l->out, keep);
  memmove(l->out, l->out + keep, l->out_len - keep);
  l->out_len -= keep;
  close(l->fd);
  if (l->max_file <= 1) { open_file(l, 1); return; }
  char from[4200], to[4200];
  for (long i = l->max_file - 1; i >= 1; i--) {
    if (i == 1) snprintf(from, sizeof from, "%s", l->path);
    else snprintf(from, sizeof from, "%s.%ld", l->path, i - 1);
    snprintf(to, sizeof to, "%s.%ld", l->path, i);
    rename(from, to);
  }
  open_file(l, 0);
}

// The end of a line's JSON for this stream at time t: `","stream":"stdout","time":"…"}\n`.
static size_t line_end(char *out, int stream, const char *t) {
  return (size_t)sprintf(out, "\",\"stream\":\"%s\",\"time\":\"%s\"}\n", stream_names[stream], t);
}

// The stream's unfinished line, logged now (end: line_end's).
static void emit(struct json_log *l, int stream, const char *end, size_t end_len) {
  size_t len = l->line_len[stream];
  if (len == 0 || l->fd < 0) { l->line_len[stream] = 0; return; }
  if (l->out_len + len * 6 + 256 > sizeof l->out) flush(l);
  char *start = l->out + l->out_len, *p = start;
  memcpy(p, "{\"log\":\"", 8);
  p = json_escape(p + 8, l->line[stream], len);
  memcpy(p, end, end_len);
  p += end_len;
  size_t n = (size_t)(p - start);
  l->out_len += n;
  if (l->max_size > 0 && l->size > 0 && l->size + (long long)n > l->max_size) rotate(l, (size_t)(start - l->out));
  l->size += (long long)n;
  l->line_len[stream] = 0;
}

int json_log_open(struct json_log *l, const char *path, long long max_size, long max_file) {
  l->out_len = 0;
  l->line_len[0] = l->line_len[1] = 0;
  l->max_size = max_size;
  l->max_file = max_file > 0 ? max_file : 1;
  snprintf(l->path, sizeof l->path, "%s", path);
  open_file(l, 0);
  return l->fd >= 0 ? 0 : -errno;
}

void json_log_append(struct json_log *l, int stream, const char *p, size_t n) {
  if (l->fd < 0) return;
  char t[40], end[128];
  json_log_now(t, sizeof t);
  size_t end_len = line_end(end, stream, t);
  for (size_t i = 0; i < n;) {
    // Up to the next newline, or what fills the line.
    size_t room = sizeof l->line[stream] - l->line_len[stream];
    const char *nl = memchr(p + i, '\n', n - i < room ? n - i : room);
    size_t take = nl ? (size_t)(nl - (p + i)) + 1 : (n - i < room ? n - i : room);
    memcpy(l->line[stream] + l->line_len[stream], p + i, take);
    l->line_len[stream] += take;
    i += take;
    if (nl || l->line_len[stream] == sizeof l->line[stream]) emit(l, stream, end, end_len);
  }
  flush(l);
}

void json_log_end(struct json_log *l, int stream) {
  if (l->fd < 0 || l->line_len[stream] == 0) return;
  char t[40], end[128];
  json_log_now(t, sizeof t);
  size_t end_len = line_end(end, stream, t);
  emit(l, stream, end, end_len);
  flush(l);
}

void json_log_close(struct json_log *l) {
  if (l->fd < 0) return;
  json_log_end(l, 0);
  json_log_end(l, 1);
  close(l->fd);
  l->fd = -1;
}
