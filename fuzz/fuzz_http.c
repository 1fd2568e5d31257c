/* libFuzzer harness: the HTTP request path of the metrics endpoint. The server (real
 * registry with core, stream and sink series, ready) starts once on 127.0.0.1:0; each
 * input is sent as raw bytes on a new connection, the write side is shut, and the reply
 * is read until the server closes or FUZZ_READ_MS pass (a reply takes about a millisecond;
 * libmicrohttpd keeps some half-closed connections open until its own timeout, and
 * waiting for that would cut the executions a second by a hundred). Crashes and sanitizer
 * reports (in the server's thread too) are bugs. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "pipeline/metrics.h"
#include "pipeline/vp_log.h"

#define FUZZ_READ_MS 200

static int port;

static void start_server(void)
{
	pipe_metrics *m;
	pipe_metrics_server *srv;
	pipe_core_metrics core;
	pipe_stream_metrics st;
	pipe_sink_metrics sk;
	vp_log_set_level(VP_LOG_ERROR);
	/* Label values that need escaping, so /metrics renders them on every request. */
	if (pipe_metrics_new(&m) < 0 || pipe_metrics_add_core(m, "fuzz", &core) < 0 ||
	    pipe_metrics_add_stream(m, "cam \"1\"\\\n", &st) < 0 ||
	    pipe_metrics_add_sink(m, "sink-\xc3\xa9", &sk) < 0 ||
	    pipe_metrics_server_new(m, "127.0.0.1:0", &srv) < 0)
		abort();
	pipe_counter_add(st.frames_decoded, 42);
	pipe_histogram_observe(st.latency, 0.25);
	pipe_metrics_server_set_ready(srv, 1);
	port = pipe_metrics_server_port(srv);
	/* The server and its registry live until the process exits. */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!port)
		start_server();
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 0;
	struct timeval tv = { .tv_sec = FUZZ_READ_MS / 1000, .tv_usec = FUZZ_READ_MS % 1000 * 1000 };
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
	                         .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0) {
		for (size_t off = 0; off < size;) {
			ssize_t n = send(fd, data + off, size - off, MSG_NOSIGNAL);
			if (n <= 0)
				break;   /* the server may answer and close before reading everything */
			off += (size_t)n;
		}
		shutdown(fd, SHUT_WR);
		char buf[4096];
		while (recv(fd, buf, sizeof(buf), 0) > 0)
			;
	}
	close(fd);
	return 0;
}
