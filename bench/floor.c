/* The floor under `gavel exec -- /bin/true` on this machine: what a program that does
 * nothing but write two receipts around running /bin/true costs, with no policy, no
 * signing, no Landlock and no seccomp. bench/exec.sh builds it the way gavel is
 * shipped (static-pie on glibc, so the same C start-up) and times it beside gavel and
 * bwrap, which says how much of gavel's time is the disk and how much is gavel.
 *
 *   floor none DIR     spawn /bin/true and wait; nothing written
 *   floor store DIR    two appends the way gavel's receipt store makes them durable
 *                      and crash-consistent (receipts.md's directory of files): an
 *                      anonymous file (O_TMPFILE) written and fsynced, linked under its
 *                      name, the directory fsynced. Four flushes per run.
 *   floor minimal DIR  two writes of the same size rewriting one preallocated file in
 *                      place, each followed by fdatasync: the least a durable write
 *                      costs on this disk (one flush each, the least "a decision
 *                      durable before the command runs, its outcome durable before
 *                      exit" can cost). Not a receipt store: it overwrites.
 *
 * Exits 0, or 2 with a message on any failed system call. DIR must exist.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* the sizes of gavel's decision and execution receipts for /bin/true */
static const size_t SIZES[2] = {1118, 2384};
static char bytes[4096];

static void check(int ok, const char *what) {
	if (!ok) {
		fprintf(stderr, "floor: %s: %s\n", what, strerror(errno));
		exit(2);
	}
}

static void append_like_the_store(int dir, size_t len) {
	int f = openat(dir, ".", O_WRONLY | O_TMPFILE | O_CLOEXEC, 0644);
	check(f >= 0, "open O_TMPFILE");
	check(write(f, bytes, len) == (ssize_t)len, "write");
	check(fsync(f) == 0, "fsync");
	/* a unique name per run, as a sequence number would be */
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	char name[64];
	snprintf(name, sizeof name, "%lld.%09ld-%zu.json", (long long)t.tv_sec, t.tv_nsec, len);
	check(linkat(f, "", dir, name, AT_EMPTY_PATH) == 0, "linkat");
	check(fsync(dir) == 0, "fsync of the directory");
	close(f);
}

static void rewrite_in_place(int dir, size_t len) {
	int f = openat(dir, "minimal", O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	check(f >= 0, "open");
	check(pwrite(f, bytes, len, 0) == (ssize_t)len, "pwrite");
	check(fdatasync(f) == 0, "fdatasync");
	close(f);
}

int main(int argc, char **argv) {
	if (argc != 3) {
		fprintf(stderr, "usage: floor none|store|minimal DIR\n");
		return 2;
	}
	void (*write_receipt)(int, size_t) = NULL;
	if (strcmp(argv[1], "store") == 0)
		write_receipt = append_like_the_store;
	else if (strcmp(argv[1], "minimal") == 0)
		write_receipt = rewrite_in_place;
	else if (strcmp(argv[1], "none") != 0) {
		fprintf(stderr, "floor: unknown mode %s (none, store or minimal)\n", argv[1]);
		return 2;
	}
	memset(bytes, 'x', sizeof bytes);
	int dir = open(argv[2], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	check(dir >= 0, argv[2]);

	if (write_receipt)
		write_receipt(dir, SIZES[0]);
	char *child[] = {"/bin/true", NULL};
	pid_t pid;
	errno = posix_spawn(&pid, child[0], NULL, NULL, child, environ);
	check(errno == 0, "posix_spawn /bin/true");
	int status;
	check(waitpid(pid, &status, 0) == pid, "waitpid");
	if (write_receipt)
		write_receipt(dir, SIZES[1]);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 2;
}
