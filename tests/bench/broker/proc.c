/*
 * proc.c - the servers bench_broker runs, and its sockets to them.
 *
 * Contract:
 *   Every server (klab broker, redis-server, nats-server) is started with
 *   spawn() on a port from free_port() (127.0.0.1, free a moment ago),
 *   its stdout and stderr appended to a log file that print_tail() shows
 *   when it fails; the child gets SIGKILL if this process dies first
 *   (PR_SET_PDEATHSIG), so no server outlives the benchmark.
 *   wait_port() waits up to 10 s for the port to accept, and is false at
 *   once if the child exits; stop() sends SIGTERM, then SIGKILL after
 *   10 s, and returns the exit status (-1 if it was killed).
 *   dial() connects with TCP_NODELAY; send_all() is false when the peer
 *   went away (SIGPIPE is ignored by main), write_all() dies instead.
 *   installed() and version_of() ask the shell about a peer's program;
 *   remove_one() is nftw's callback for removing the run's directory.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <arpa/inet.h>
#include <unistd.h>

#include "bench_broker.h"

int
remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

bool
installed(const char *prog)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null 2>&1", prog);
	return system(cmd) == 0;
}

/* The first line `cmd` prints (its first 60 characters), or "<prog> not installed". */
const char *
version_of(const char *cmd, char *out, size_t n)
{
	FILE *f = popen(cmd, "r");

	if (f == NULL || fgets(out, (int)(n < 61 ? n : 61), f) == NULL)
		snprintf(out, n, "%.*s not installed", (int)strcspn(cmd, " "), cmd);
	out[strcspn(out, "\n")] = '\0';
	if (strstr(out, " sha=") != NULL) /* redis-server: "Redis server v=7.0.15 sha=..." */
		*strstr(out, " sha=") = '\0';
	if (f != NULL)
		pclose(f);
	return out;
}

/* A port of 127.0.0.1 that was free a moment ago. */
int
free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) != 0)
		die("free_port", NULL);
	port = ntohs(a.sin_port);
	close(fd);
	return port;
}

/* A connected socket to 127.0.0.1:port, or -1. */
int
dial(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		close(fd);
		return -1;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

/*
 * Start argv[0] with stdout and stderr to `log`; the child is killed if
 * this process dies first (PR_SET_PDEATHSIG), so no server outlives us.
 */
pid_t
spawn(char *const argv[], const char *log)
{
	pid_t pid = fork();

	if (pid < 0)
		die("fork", NULL);
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execvp(argv[0], argv);
		_exit(127);
	}
	return pid;
}

/* Wait until 127.0.0.1:port accepts, up to 10 s; false if the child died. */
bool
wait_port(pid_t pid, int port)
{
	for (int i = 0; i < 1000; i++) {
		int fd = dial(port);

		if (fd >= 0) {
			close(fd);
			return true;
		}
		if (waitpid(pid, NULL, WNOHANG) == pid)
			return false;
		usleep(10000);
	}
	return false;
}

/* SIGTERM, then SIGKILL after 10 s; the exit status, or -1. */
int
stop(pid_t pid)
{
	int status;

	kill(pid, SIGTERM);
	for (int i = 0; i < 1000; i++) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
		usleep(10000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return -1;
}

void
print_tail(const char *path)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "tail -n 5 '%s' | sed 's/^/    /'", path);
	if (system(cmd) != 0)
		printf("    (no log)\n");
}

/* All n bytes written; false if the connection broke (EPIPE: SIGPIPE is ignored). */
bool
send_all(int fd, const void *p, size_t n)
{
	const char *c = p;

	while (n > 0) {
		ssize_t k = write(fd, c, n);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return false;
		c += k;
		n -= (size_t)k;
	}
	return true;
}

void
write_all(int fd, const void *p, size_t n)
{
	if (!send_all(fd, p, n))
		die("write", NULL);
}
