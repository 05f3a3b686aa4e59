/*
 * An open-loop HTTP/1.1 load generator at a fixed rate, for the one figure wrk cannot give:
 * latency at half of the maximum load (Debian's wrk has no rate limit; wrk2 is not packaged, and
 * h2load's --rps falls behind its rate on this machine). Built and run by fixed-rate.ts.
 *
 * Why C: at the nginx data plane's half load (~20,000 req/s) the generator in Node sent in 1 ms
 * bursts, took its time between a response's arrival and its reading (direct's p50 0.37 ms, against
 * 0.05 ms here), and fell behind the rate against the data plane (18,800 of 21,400 req/s in one
 * run). This one sends each request at its due time and reads each response as it arrives. (Its
 * CPU, about half a core at that rate, as the Node one's, is mostly the kernel's loopback work,
 * which any client pays.)
 *
 *   fixed-rate PORT RATE SECONDS WARMUP_SECONDS CONNECTIONS < request
 *
 * Request i is due at t0 + i/RATE whatever happened before (open loop, as wrk2) and goes out on
 * the first idle keep-alive connection (a busy one is never written to: no pipelining). Two
 * latencies are kept per request: from its write to its last byte (service time, what wrk
 * reports) and from its due time (wrk2's correction for coordinated omission). Requests due in
 * the first WARMUP_SECONDS are left out of both. Responses are parsed only as far as framing
 * needs: status line, then Content-Length or chunked. Prints one JSON object.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BUFFER 65536

struct conn {
  int fd;
  int busy;
  char buf[BUFFER];
  size_t len;
  double sent_at, due_at;
};

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

static void die(const char *what) {
  fprintf(stderr, "fixed-rate: %s: %s\n", what, strerror(errno));
  exit(1);
}

/* Where the value of header `name` (lower case, with its colon) begins in the head b..end, and
   where its line ends; NULL if the head has no such header. */
static const char *header(const char *b, const char *end, const char *name, const char **line_end) {
  size_t len = strlen(name);
  for (const char *nl = memchr(b, '\n', end - b); nl; nl = memchr(nl + 1, '\n', end - nl - 1)) {
    if (strncasecmp(nl + 1, name, len) == 0) {
      *line_end = memchr(nl + 1, '\r', end + 1 - (nl + 1));
      return nl + 1 + len;
    }
  }
  return NULL;
}

/* Bytes of the first complete response in b; 0 if incomplete, -1 if it cannot be parsed. Sets
   *closes when the response says Connection: close. */
static long response_length(const char *b, size_t n, int *closes) {
  const char *end = memmem(b, n, "\r\n\r\n", 4), *eol, *value;
  if (!end) return 0;
  size_t body = end - b + 4;
  value = header(b, end, "connection:", &eol);
  *closes = value && memmem(value, eol - value, "close", 5);
  if ((value = header(b, end, "content-length:", &eol))) {
    size_t total = body + strtoul(value, NULL, 10);
    return n >= total ? (long)total : 0;
  }
  value = header(b, end, "transfer-encoding:", &eol);
  if (!value || !memmem(value, eol - value, "chunked", 7)) return -1;
  for (size_t at = body;;) {
    const char *chunk_eol = memmem(b + at, n - at, "\r\n", 2);
    if (!chunk_eol) return 0;
    char *digits_end;
    size_t size = strtoul(b + at, &digits_end, 16);
    if (digits_end == b + at) return -1;
    at = chunk_eol - b + 2 + size + 2;
    if (n < at) return 0;
    if (size == 0) return (long)at;
  }
}

static int by_value(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double percentile(double *sorted, size_t n, double p) {
  if (n == 0) return -1;
  size_t i = (size_t)ceil((p / 100) * n);
  return sorted[(i == 0 ? 1 : i > n ? n : i) - 1];
}

/* Opens connection i (again, after the server closed it) and watches it for reading. */
static void open_conn(int ep, struct conn *c, int i, int port) {
  struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
  int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
  if (fd < 0 || connect(fd, (struct sockaddr *)&to, sizeof to) < 0) die("connect");
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  struct epoll_event ev = { .events = EPOLLIN, .data.u32 = i };
  if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) die("epoll_ctl");
  c->fd = fd;
  c->busy = 0;
  c->len = 0;
}

static void reopen(int ep, struct conn *c, int i, int port) {
  close(c->fd);
  open_conn(ep, c, i, port);
}

int main(int argc, char **argv) {
  if (argc != 6) {
    fprintf(stderr, "usage: fixed-rate PORT RATE SECONDS WARMUP_SECONDS CONNECTIONS < request\n");
    return 2;
  }
  int port = atoi(argv[1]), nconn = atoi(argv[5]);
  double rate = atof(argv[2]), seconds = atof(argv[3]), warmup = atof(argv[4]);
  char request[16384];
  size_t request_len = fread(request, 1, sizeof request, stdin);
  if (port <= 0 || rate <= 0 || seconds <= 0 || nconn <= 0 || request_len == 0) {
    fprintf(stderr, "fixed-rate: bad arguments or empty request\n");
    return 2;
  }

  signal(SIGPIPE, SIG_IGN);
  int ep = epoll_create1(0);
  struct conn *conns = calloc(nconn, sizeof *conns);
  int *idle = malloc(nconn * sizeof *idle), nidle = 0;
  for (int i = 0; i < nconn; i++) {
    open_conn(ep, &conns[i], i, port);
    idle[nidle++] = i;
  }

  size_t total = (size_t)(rate * seconds), issued = 0, completed = 0, errors = 0, kept = 0;
  double *service = malloc(total * sizeof *service), *corrected = malloc(total * sizeof *corrected);
  double t0 = now_s(), give_up = t0 + seconds + 10;
  struct epoll_event events[256];
  while (completed < total) {
    double now = now_s();
    if (now > give_up) break;
    /* Every request due by now goes out, on an idle connection if there is one; the rest wait for one. */
    while (issued < total && nidle > 0 && t0 + issued / rate <= now) {
      int i = idle[--nidle];
      struct conn *c = &conns[i];
      c->due_at = t0 + issued / rate;
      c->sent_at = now_s();
      c->busy = 1;
      issued++;
      if (write(c->fd, request, request_len) != (ssize_t)request_len) {
        /* Closed by the server as this was sent: the request is lost, and counted as an error. */
        reopen(ep, c, i, port);
        errors++;
        completed++;
        idle[nidle++] = i;
      }
    }
    double wait = issued < total && nidle > 0 ? t0 + issued / rate - now_s() : 0.01;
    struct timespec timeout = { 0, 0 };
    if (wait > 0) timeout = (struct timespec){ (time_t)wait, (long)((wait - (time_t)wait) * 1e9) };
    int n = epoll_pwait2(ep, events, 256, &timeout, NULL);
    if (n < 0 && errno != EINTR) die("epoll_pwait2");
    for (int e = 0; e < n; e++) {
      int i = events[e].data.u32;
      struct conn *c = &conns[i];
      ssize_t got = read(c->fd, c->buf + c->len, BUFFER - c->len);
      if (got <= 0) {
        /* The server closed a keep-alive connection (its limit of requests, say): opened again. A
           request it was carrying counts as an error; an idle connection is on the idle list already. */
        int was_busy = c->busy;
        reopen(ep, c, i, port);
        if (was_busy) {
          errors++;
          completed++;
          idle[nidle++] = i;
        }
        continue;
      }
      c->len += got;
      int closing;
      long used = response_length(c->buf, c->len, &closing);
      if (used < 0 || (used == 0 && c->len == BUFFER)) {
        fprintf(stderr, "fixed-rate: cannot parse the response\n");
        return 1;
      }
      if (used == 0) continue;
      double done = now_s();
      int status = atoi(c->buf + 9);
      if (status < 200 || status > 299) errors++;
      if (c->due_at - t0 >= warmup) {
        service[kept] = (done - c->sent_at) * 1000;
        corrected[kept] = (done - c->due_at) * 1000;
        kept++;
      }
      memmove(c->buf, c->buf + used, c->len - used);
      c->len -= used;
      completed++;
      if (closing) reopen(ep, c, i, port);
      c->busy = 0;
      idle[nidle++] = i;
    }
  }
  double elapsed = now_s() - t0;
  qsort(service, kept, sizeof *service, by_value);
  qsort(corrected, kept, sizeof *corrected, by_value);
  printf("{\"rate\":%g,\"achievedRps\":%.1f,\"requests\":%zu,\"errors\":%zu,"
         "\"p50\":%.4f,\"p99\":%.4f,\"p999\":%.4f,"
         "\"corrected\":{\"p50\":%.4f,\"p99\":%.4f,\"p999\":%.4f}}\n",
         rate, completed / elapsed, completed, errors + (total - completed),
         percentile(service, kept, 50), percentile(service, kept, 99), percentile(service, kept, 99.9),
         percentile(corrected, kept, 50), percentile(corrected, kept, 99), percentile(corrected, kept, 99.9));
  return 0;
}
