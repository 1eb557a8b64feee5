/*
 * roost-init: PID 1 of every Roost environment.
 *
 * An environment has no main program: it lives until the runner stops it, and users start
 * processes in it with `crun exec` (shells, hooks, services). So PID 1 must (1) stay alive,
 * (2) reap every orphan that is re-parented to it -- otherwise zombies pile up from every
 * finished exec'd daemon -- and (3) on SIGTERM (the runner's graceful stop) pass SIGTERM to
 * every process in the environment, wait up to a grace period for them to exit, then exit.
 * The runner follows up with SIGKILL if needed. It is built static so it runs in any image
 * (busybox, distroless, Debian); it is bind-mounted read-only at /.roost/init.
 *
 * Usage: roost-init [GRACE_SECONDS]
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stopping;

static void on_term(int sig) { (void)sig; stopping = 1; }

static void reap(void) {
    while (waitpid(-1, NULL, WNOHANG) > 0) {
    }
}

static int others_alive(void) {
    /* waitpid(-1) fails with ECHILD once no child is left; orphans are our children too. */
    int r = waitpid(-1, NULL, WNOHANG);
    return !(r < 0 && errno == ECHILD);
}

int main(int argc, char **argv) {
    int grace = argc > 1 ? atoi(argv[1]) : 10;
    struct sigaction sa = {0};
    sigset_t mask, old;

    sa.sa_handler = on_term;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    sigemptyset(&mask);
    sigaddset(&mask, SIGCHLD);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGHUP);
    sigprocmask(SIG_BLOCK, &mask, &old);

    while (!stopping) {
        /* Sleep until a child exits or we are told to stop; no polling. */
        int sig;
        sigwait(&mask, &sig);
        if (sig == SIGTERM || sig == SIGINT || sig == SIGHUP)
            stopping = 1;
        reap();
    }

    kill(-1, SIGTERM); /* every process in the environment's PID namespace but us */
    time_t end = time(NULL) + grace;
    while (time(NULL) < end) {
        reap();
        if (!others_alive())
            return 0;
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    kill(-1, SIGKILL);
    reap();
    return 0;
}
