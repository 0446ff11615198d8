/* p2p — the peer transport between two processes on loopback.
 *
 *   p2p PLUGIN_DIR [RUNS]
 *
 * Forks an echo node; both load the transport plugin the way aria-core does
 * and talk through its vtable (WebSocket, aria.v2 frames). Measures, RUNS
 * times each (default 5), and prints medians:
 *   - round trip of a 64-byte TEXT message (2000 in a row; median and p99),
 *   - one-way throughput of activation-sized BINARY frames: 2560 floats as
 *     f32 (10240 bytes) and as f16 (5120 bytes), 20000 frames per run,
 * and, as the baseline in the same program, the round trip of 64 bytes over
 * a plain TCP loopback socket, so the transport's overhead is a ratio. */
#include "config.h"
#include "cpu.h"
#include "host.h"
#include "loader.h"
#include "registry.h"

#include "aria/transport.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define RTT_N 2000
#define FRAMES 20000

static const aria_transport_vt *vt;
static int finished; /* the measures are done: closes are expected */

typedef struct side {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    aria_conn *conn;
    uint64_t got_msgs, got_bytes;
    uint64_t last_echo;
    int closed;
    int client; /* the measuring side, not the echo node */
} side;

static void ev_open(void *u, aria_conn *c, int inbound)
{
    (void)inbound;
    side *s = u;
    pthread_mutex_lock(&s->mu);
    s->conn = c;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

static void ev_close(void *u, aria_conn *c, aria_err why, const char *d)
{
    (void)c;
    side *s = u;
    /* the connection is freed once this returns: a bench cannot go on */
    if (!s->client && getenv("P2P_DEBUG"))
        fprintf(stderr, "p2p echo: connection closed (%s): %s\n", aria_strerror(why), d ? d : "");
    if (s->client && s->conn && !__atomic_load_n(&finished, __ATOMIC_ACQUIRE)) {
        fprintf(stderr, "p2p: connection closed (%s): %s\n", aria_strerror(why), d ? d : "");
        _exit(1);
    }
    pthread_mutex_lock(&s->mu);
    s->conn = NULL;
    s->closed = 1;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

/* the echo node: TEXT comes back as it is; BINARY is counted, and a TEXT
 * "n" is sent when the count reaches the number announced by "count N" */
static uint64_t want_frames;
static void echo_msg(void *u, aria_conn *c, const void *d, size_t n, uint32_t kind)
{
    side *s = u;
    if (kind == ARIA_MSG_TEXT) {
        if (n > 6 && !memcmp(d, "count ", 6)) {
            char b[32];
            snprintf(b, sizeof b, "%.*s", (int)(n - 6), (const char *)d + 6);
            want_frames = strtoull(b, NULL, 10);
            s->got_msgs = 0;
            return;
        }
        while (vt->send(c, d, n, kind) == ARIA_ERR_BUSY)
            usleep(50);
        return;
    }
    if (++s->got_msgs == want_frames)
        vt->send(c, "n", 1, ARIA_MSG_TEXT);
}

static void client_msg(void *u, aria_conn *c, const void *d, size_t n, uint32_t kind)
{
    (void)c;
    (void)d;
    (void)kind;
    side *s = u;
    pthread_mutex_lock(&s->mu);
    s->got_msgs++;
    s->got_bytes += n;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, size_t n)
{
    qsort(v, n, sizeof *v, cmp_d);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static aria_transport *make(side *s, int echo)
{
    aria_transport_opts o = {.hdr = {sizeof o, ARIA_TRANSPORT_VERSION},
                             .subprotocol = "aria.v2",
                             .max_message_bytes = 64u << 20,
                             .ping_interval_ms = 20000,
                             .dead_after_ms = 30000,
                             .redial_min_ms = 100,
                             .redial_max_ms = 1000};
    aria_transport_events ev = {.user = s,
                                .on_open = ev_open,
                                .on_message = echo ? echo_msg : client_msg,
                                .on_close = ev_close};
    aria_transport *t = NULL;
    aria_msg why = {{0}};
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    if (vt->create(NULL, &o, &ev, &t, &why) != ARIA_OK) {
        fprintf(stderr, "p2p: transport: %s\n", why.text);
        exit(1);
    }
    return t;
}

/* TCP baseline: 64 bytes back and forth over loopback */
static double tcp_rtt_us(void)
{
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof a;
    bind(ls, (struct sockaddr *)&a, sizeof a);
    listen(ls, 1);
    getsockname(ls, (struct sockaddr *)&a, &al);
    pid_t pid = fork();
    if (pid == 0) {
        int c = accept(ls, NULL, NULL);
        int one = 1;
        setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        char b[64];
        for (;;) {
            size_t got = 0;
            while (got < 64) {
                ssize_t r = read(c, b + got, 64 - got);
                if (r <= 0)
                    _exit(0);
                got += (size_t)r;
            }
            if (write(c, b, 64) != 64)
                _exit(0);
        }
    }
    close(ls);
    int c = socket(AF_INET, SOCK_STREAM, 0);
    connect(c, (struct sockaddr *)&a, sizeof a);
    int one = 1;
    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    static double v[RTT_N];
    char b[64] = {0};
    for (int i = 0; i < RTT_N; i++) {
        double t0 = now_s();
        if (write(c, b, 64) != 64)
            break;
        size_t got = 0;
        while (got < 64) {
            ssize_t r = read(c, b + got, 64 - got);
            if (r <= 0)
                break;
            got += (size_t)r;
        }
        v[i] = (now_s() - t0) * 1e6;
    }
    close(c);
    waitpid(pid, NULL, 0);
    return median(v, RTT_N);
}

static void wait_msgs(side *s, uint64_t n)
{
    pthread_mutex_lock(&s->mu);
    while (s->got_msgs < n && !s->closed)
        pthread_cond_wait(&s->cv, &s->mu);
    pthread_mutex_unlock(&s->mu);
    if (s->closed) {
        fprintf(stderr, "p2p: the echo node closed the connection\n");
        exit(1);
    }
}

int main(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help")) {
        fprintf(stderr, "usage: p2p PLUGIN_DIR [RUNS]\n");
        return 2;
    }
    int runs = argc > 2 ? atoi(argv[2]) : 5;
    if (runs < 1)
        runs = 1;
    signal(SIGPIPE, SIG_IGN);
    ari_config *cfg = ari_config_new();
    ari_registry reg;
    aria_cpu_info cpu;
    aria_host host;
    ari_registry_init(&reg);
    ari_cpu_detect(NULL, &cpu);
    ari_host_init(&host, cfg, &reg, &cpu, "/tmp", 1);
    aria_msg why = {{0}};
    if (ari_load_dir(&reg, argv[1], &host, cfg, &why) < 0) {
        fprintf(stderr, "p2p: %s: %s\n", argv[1], why.text);
        return 1;
    }
    const ari_iface *f = ari_registry_iface(&reg, ARIA_IFACE_TRANSPORT, 0);
    if (!f) {
        fprintf(stderr, "p2p: no transport plugin in %s\n", argv[1]);
        return 1;
    }
    vt = f->vt;

    int pfd[2];
    if (pipe(pfd) != 0)
        return 1;
    pid_t echo = fork();
    if (echo == 0) {
        side s = {0};
        aria_transport *t = make(&s, 1);
        if (vt->listen(t, "ws://127.0.0.1:0", &why) != ARIA_OK) {
            fprintf(stderr, "p2p: listen: %s\n", why.text);
            _exit(1);
        }
        char url[256];
        vt->bound_url(t, 0, url, sizeof url);
        if (write(pfd[1], url, sizeof url) != (ssize_t)sizeof url)
            _exit(1);
        pause(); /* until killed */
        _exit(0);
    }
    char url[256];
    if (read(pfd[0], url, sizeof url) != (ssize_t)sizeof url) {
        fprintf(stderr, "p2p: the echo node did not start\n");
        return 1;
    }
    side s = {.client = 1};
    aria_transport *t = make(&s, 0);
    if (vt->dial(t, url, 0, &why) != ARIA_OK) {
        fprintf(stderr, "p2p: dial %s: %s\n", url, why.text);
        return 1;
    }
    pthread_mutex_lock(&s.mu);
    while (!s.conn && !s.closed)
        pthread_cond_wait(&s.cv, &s.mu);
    pthread_mutex_unlock(&s.mu);
    if (!s.conn) {
        fprintf(stderr, "p2p: cannot connect to %s\n", url);
        return 1;
    }

    double *rtt_med = calloc((size_t)runs, sizeof(double));
    double *rtt_p99 = calloc((size_t)runs, sizeof(double));
    double *tcp_med = calloc((size_t)runs, sizeof(double));
    double *mbs32 = calloc((size_t)runs, sizeof(double));
    double *mbs16 = calloc((size_t)runs, sizeof(double));
    double *fps32 = calloc((size_t)runs, sizeof(double));
    static double v[RTT_N];
    char small[64];
    memset(small, 'x', sizeof small);
    size_t sizes[2] = {2560 * 4, 2560 * 2};
    char *frame = calloc(1, sizes[0]);
    for (int r = 0; r < runs; r++) {
        for (int i = 0; i < RTT_N; i++) {
            uint64_t want = s.got_msgs + 1;
            double t0 = now_s();
            vt->send(s.conn, small, sizeof small, ARIA_MSG_TEXT);
            wait_msgs(&s, want);
            v[i] = (now_s() - t0) * 1e6;
        }
        rtt_med[r] = median(v, RTT_N);
        rtt_p99[r] = v[RTT_N * 99 / 100];
        tcp_med[r] = tcp_rtt_us();
        for (int k = 0; k < 2; k++) {
            char cnt[32];
            snprintf(cnt, sizeof cnt, "count %d", FRAMES);
            uint64_t want = s.got_msgs + 1;
            vt->send(s.conn, cnt, strlen(cnt), ARIA_MSG_TEXT);
            double t0 = now_s();
            for (int i = 0; i < FRAMES; i++) {
                aria_err e;
                while ((e = vt->send(s.conn, frame, sizes[k], ARIA_MSG_BINARY)) == ARIA_ERR_BUSY)
                    usleep(20);
                if (e != ARIA_OK) {
                    fprintf(stderr, "p2p: send: %s\n", aria_strerror(e));
                    sleep(2); /* for on_close to say why */
                    return 1;
                }
            }
            wait_msgs(&s, want);
            double dt = now_s() - t0;
            if (k == 0) {
                mbs32[r] = (double)FRAMES * (double)sizes[0] / dt / 1e6;
                fps32[r] = FRAMES / dt;
            } else {
                mbs16[r] = (double)FRAMES * (double)sizes[1] / dt / 1e6;
            }
        }
        fprintf(stderr, "run %d/%d: rtt %.1f us (tcp %.1f), f32 frames %.0f MB/s, f16 %.0f MB/s\n",
                r + 1, runs, rtt_med[r], tcp_med[r], mbs32[r], mbs16[r]);
    }
    double rm = median(rtt_med, (size_t)runs), tm = median(tcp_med, (size_t)runs);
    printf("transport %s, loopback, %d runs (medians)\n", vt->name, runs);
    printf("| measure | value |\n|---|---|\n");
    printf("| round trip, 64-byte TEXT | %.1f us (p99 %.1f us) |\n", rm,
           median(rtt_p99, (size_t)runs));
    printf("| round trip, raw TCP 64 bytes (baseline) | %.1f us |\n", tm);
    printf("| transport / TCP round trip | %.2fx |\n", rm / tm);
    printf("| 2560 x f32 frames (10240 B) | %.0f frames/s, %.0f MB/s |\n",
           median(fps32, (size_t)runs), median(mbs32, (size_t)runs));
    printf("| 2560 x f16 frames (5120 B) | %.0f MB/s |\n", median(mbs16, (size_t)runs));
    __atomic_store_n(&finished, 1, __ATOMIC_RELEASE);
    vt->destroy(t);
    kill(echo, SIGKILL);
    waitpid(echo, NULL, 0);
    ari_registry_fini(&reg);
    ari_config_free(cfg);
    free(frame);
    free(rtt_med);
    free(rtt_p99);
    free(tcp_med);
    free(mbs32);
    free(mbs16);
    free(fps32);
    return 0;
}
