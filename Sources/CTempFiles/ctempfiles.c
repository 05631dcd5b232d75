#define _GNU_SOURCE
#include "ctempfiles.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CTEMP_SLOTS 8

static char paths[CTEMP_SLOTS][PATH_MAX];
static atomic_int used[CTEMP_SLOTS];
static struct sigaction previous[2];
static volatile sig_atomic_t forwarded[2];
static char spare[PATH_MAX]; /* no free slot: the file is still made, its name kept here, uncovered */

static int index_of(int signo) { return signo == SIGINT ? 0 : 1; }

int ctemp_mkstemp(const char *template_path, int *slot) {
    size_t n = strlen(template_path);
    *slot = -1;
    if (n >= PATH_MAX) { errno = ENAMETOOLONG; return -1; }
    char *buffer = NULL;
    for (int i = 0; i < CTEMP_SLOTS && !buffer; i++) {
        int expected = 0;
        if (atomic_compare_exchange_strong(&used[i], &expected, 2)) { /* 2 = name being written */
            memcpy(paths[i], template_path, n + 1);
            atomic_store(&used[i], 1);
            *slot = i;
            buffer = paths[i];
        }
    }
    if (!buffer) { memcpy(spare, template_path, n + 1); buffer = spare; }
    int fd = mkstemp(buffer);
    if (fd < 0) {
        int e = errno;
        ctemp_unregister(*slot);
        *slot = -1;
        errno = e;
    }
    return fd;
}

const char *ctemp_path(int slot) {
    return slot >= 0 && slot < CTEMP_SLOTS ? paths[slot] : spare;
}

void ctemp_unregister(int slot) {
    if (slot >= 0 && slot < CTEMP_SLOTS) atomic_store(&used[slot], 0);
}

/* Async-signal-safe: unlink, _exit and sigaction are in signal-safety(7). */
static void handler(int signo) {
    int k = index_of(signo);
    void (*before)(int) = previous[k].sa_handler;
    if (!(previous[k].sa_flags & SA_SIGINFO) && before != SIG_DFL && before != SIG_IGN && before != handler
        && !forwarded[k]) {
        forwarded[k] = 1;
        before(signo);
        return;
    }
    for (int i = 0; i < CTEMP_SLOTS; i++) {
        if (atomic_load(&used[i]) == 1) unlink(paths[i]);
    }
    _exit(128 + signo);
}

int ctemp_install_handlers(void) {
    int signals[2] = {SIGINT, SIGTERM};
    for (int s = 0; s < 2; s++) {
        struct sigaction now;
        if (sigaction(signals[s], NULL, &now) != 0) return -1;
        if (!(now.sa_flags & SA_SIGINFO) && now.sa_handler == handler) continue;
        if (!(now.sa_flags & SA_SIGINFO) && now.sa_handler == SIG_IGN) continue; /* ignored stays ignored */
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sigemptyset(&sa.sa_mask);
        sa.sa_handler = handler;
        previous[index_of(signals[s])] = now;
        forwarded[index_of(signals[s])] = 0;
        if (sigaction(signals[s], &sa, NULL) != 0) return -1;
    }
    return 0;
}
