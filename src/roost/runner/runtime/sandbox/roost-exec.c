/*
 * roost-exec: how every `runsc exec` of the sandbox runtime starts its command.
 *
 * gVisor applies the OCI seccomp profile (runsc --oci-seccomp) to the container's first
 * process only; processes started with `runsc exec` would run without it, while crun gives
 * every process the profile. So the sandbox driver execs this program first, as root with the
 * environment's capabilities, and it
 *
 *   1. sets no_new_privs -- which gVisor sets on every process anyway ("PR_SET_NO_NEW_PRIVS is
 *      assumed to always be set"), so nothing is lost, and it is what allows an unprivileged
 *      process to install a filter;
 *   2. installs the profile, precompiled to classic BPF by the runner, from BPF_FILE ("-"
 *      means none: only a test's deliberately weakened bundle says so);
 *   3. switches to UID:GID with no supplementary groups, which empties the capability sets of
 *      a non-root user the way crun's exec does (runsc's own --user would leave them full in
 *      the first program it starts);
 *   4. execs the command, so the filter (inherited over execve and fork) covers it and
 *      everything it starts.
 *
 * Any failure is fatal (exit 126): a command never runs with less isolation than asked for.
 * Built static on the runner host and bind-mounted read-only at /.roost/exec.
 *
 * Usage: roost-exec BPF_FILE UID GID PROGRAM [ARG...]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#define MAX_FILTER (64 * 1024)

static void die(const char *what) {
    fprintf(stderr, "roost-exec: %s: %s\n", what, strerror(errno));
    exit(126);
}

static void install_filter(const char *path) {
    static unsigned char buf[MAX_FILTER];
    size_t len = 0;
    ssize_t n;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        die("opening the seccomp filter");
    while ((n = read(fd, buf + len, sizeof(buf) - len)) > 0)
        len += (size_t)n;
    if (n < 0)
        die("reading the seccomp filter");
    close(fd);
    if (len == 0 || len % sizeof(struct sock_filter) != 0 || len == sizeof(buf)) {
        errno = EINVAL;
        die("the seccomp filter is malformed");
    }
    struct sock_fprog prog = {
        .len = (unsigned short)(len / sizeof(struct sock_filter)),
        .filter = (struct sock_filter *)buf,
    };
    if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) != 0)
        die("installing the seccomp filter");
}

int main(int argc, char **argv) {
    if (argc < 5) {
        fprintf(stderr, "usage: roost-exec BPF_FILE UID GID PROGRAM [ARG...]\n");
        return 126;
    }
    uid_t uid = (uid_t)strtoul(argv[2], NULL, 10);
    gid_t gid = (gid_t)strtoul(argv[3], NULL, 10);
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        die("setting no_new_privs");
    if (strcmp(argv[1], "-") != 0)
        install_filter(argv[1]);
    if (setgroups(0, NULL) != 0 || setresgid(gid, gid, gid) != 0)
        die("switching group");
    if (setresuid(uid, uid, uid) != 0)
        die("switching user");
    execvp(argv[4], argv + 4);
    fprintf(stderr, "roost-exec: %s: %s\n", argv[4], strerror(errno));
    return errno == ENOENT ? 127 : 126;
}
