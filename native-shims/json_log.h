// Docker's json-file log, written by the monitor (a detached container) and by
// the CLI's copier thread (a foreground one): one JSON object a line,
// {"log":"…\n","stream":"stdout","time":"RFC 3339 nano"}, lines split at
// 16 KiB as Docker's, rotated container.log → .1 → … at --log-opt max-size.
#ifndef TSBOX_JSON_LOG_H
#define TSBOX_JSON_LOG_H
#include <stddef.h>

#define JSON_LOG_LINE_MAX 16384  // Docker splits longer lines at 16 KiB too

// The small fields first, the buffers after: an idle monitor touches only the first page.
struct json_log {
  int fd;  // -1: no log (not opened, or it failed)
  long long size, max_size;
  long max_file;
  size_t line_len[2], out_len;
  char path[4096];
  char line[2][JSON_LOG_LINE_MAX];  // 0 stdout, 1 stderr: the unfinished line
  char out[JSON_LOG_LINE_MAX * 6 + 256];  // formatted lines not written yet (one read's worth)
};

// Opens (appends to) path; max_size 0: never rotated. Returns 0 or -errno (l->fd is then -1).
int json_log_open(struct json_log *l, const char *path, long long max_size, long max_file);
// Bytes of one stream (0 stdout, 1 stderr) as read: whole lines are logged with
// this moment's time, the unfinished rest waits for its newline.
void json_log_append(struct json_log *l, int stream, const char *p, size_t n);
// The stream ended: its unfinished line is logged as it is.
void json_log_end(struct json_log *l, int stream);
// s[0..n) as a JSON string's body (no quotes) at p; returns the end. Room: 6 bytes a byte.
char *json_escape(char *p, const char *s, size_t n);
// Now as the log's times are written, RFC 3339 with nanoseconds in UTC (the monitor's state times too).
void json_log_now(char *out, size_t n);
// All of p[0..n) to fd through EINTR and short writes (the monitor's other files use it too): 0, or -1.
int json_log_write_all(int fd, const char *p, size_t n);
// Both streams' unfinished lines logged, the file closed.
void json_log_close(struct json_log *l);

#endif
