/* Every number below comes from the kernel's own macro in <linux/kvm.h> / <asm/kvm.h>. */
#define _GNU_SOURCE
/* arm64 <asm/kvm.h> defines KVM_VGIC_V3_DIST_SIZE / _REDIST_SIZE with SZ_64K, which comes
 * from the kernel-internal <linux/sizes.h> that is not exported to user space. Give the name
 * its meaning (64 KiB) only when no header has. */
#ifndef SZ_64K
#define SZ_64K (1UL << 16)
#endif
#include "ckvm.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

/* A signal can interrupt any KVM ioctl (KVM_CREATE_VM returned EINTR in a storm of signals); all
 * but KVM_RUN are simply restarted. KVM_RUN's EINTR means "a signal came": its callers decide. */
int ckvm_ioctl_ptr(int fd, unsigned long request, void *argument) {
    int r;
    do { r = ioctl(fd, request, argument); } while (r < 0 && errno == EINTR && request != KVM_RUN);
    return r;
}
int ckvm_mremap_over(void *from, size_t size, void *to) {
    void *p = mremap(from, size, size, MREMAP_MAYMOVE | MREMAP_FIXED, to);
    return p == MAP_FAILED ? -1 : 0;
}
int ckvm_ioctl_val(int fd, unsigned long request, unsigned long argument) {
    int r;
    do { r = ioctl(fd, request, argument); } while (r < 0 && errno == EINTR && request != KVM_RUN);
    return r;
}

const int ckvm_KVM_API_VERSION = KVM_API_VERSION;

const unsigned long ckvm_KVM_GET_API_VERSION = KVM_GET_API_VERSION;
const unsigned long ckvm_KVM_CREATE_VM = KVM_CREATE_VM;
const unsigned long ckvm_KVM_CHECK_EXTENSION = KVM_CHECK_EXTENSION;
const unsigned long ckvm_KVM_GET_VCPU_MMAP_SIZE = KVM_GET_VCPU_MMAP_SIZE;

const unsigned long ckvm_KVM_CREATE_VCPU = KVM_CREATE_VCPU;
const unsigned long ckvm_KVM_SET_USER_MEMORY_REGION = KVM_SET_USER_MEMORY_REGION;
const unsigned long ckvm_KVM_GET_DIRTY_LOG = KVM_GET_DIRTY_LOG;
const unsigned long ckvm_KVM_CREATE_DEVICE = KVM_CREATE_DEVICE;
const unsigned long ckvm_KVM_SET_DEVICE_ATTR = KVM_SET_DEVICE_ATTR;
const unsigned long ckvm_KVM_GET_DEVICE_ATTR = KVM_GET_DEVICE_ATTR;
const unsigned long ckvm_KVM_HAS_DEVICE_ATTR = KVM_HAS_DEVICE_ATTR;

const unsigned long ckvm_KVM_RUN = KVM_RUN;
const unsigned long ckvm_KVM_GET_ONE_REG = KVM_GET_ONE_REG;
const unsigned long ckvm_KVM_SET_ONE_REG = KVM_SET_ONE_REG;
const unsigned long ckvm_KVM_GET_REG_LIST = KVM_GET_REG_LIST;

const int ckvm_KVM_CAP_USER_MEMORY = KVM_CAP_USER_MEMORY;
const int ckvm_KVM_CAP_NR_MEMSLOTS = KVM_CAP_NR_MEMSLOTS;
const int ckvm_KVM_CAP_ONE_REG = KVM_CAP_ONE_REG;
const int ckvm_KVM_CAP_IMMEDIATE_EXIT = KVM_CAP_IMMEDIATE_EXIT;
const int ckvm_KVM_CAP_DEVICE_CTRL = KVM_CAP_DEVICE_CTRL;
const int ckvm_KVM_CAP_ARM_PSCI_0_2 = KVM_CAP_ARM_PSCI_0_2;
const int ckvm_KVM_CAP_ARM_VM_IPA_SIZE = KVM_CAP_ARM_VM_IPA_SIZE;
#ifdef KVM_CAP_ARM_EL2
const bool ckvm_has_KVM_CAP_ARM_EL2 = true;
const int ckvm_KVM_CAP_ARM_EL2 = KVM_CAP_ARM_EL2;
#else
const bool ckvm_has_KVM_CAP_ARM_EL2 = false;
const int ckvm_KVM_CAP_ARM_EL2 = 0;
#endif
#ifdef KVM_CAP_ARM_EL2_E2H0
const bool ckvm_has_KVM_CAP_ARM_EL2_E2H0 = true;
const int ckvm_KVM_CAP_ARM_EL2_E2H0 = KVM_CAP_ARM_EL2_E2H0;
#else
const bool ckvm_has_KVM_CAP_ARM_EL2_E2H0 = false;
const int ckvm_KVM_CAP_ARM_EL2_E2H0 = 0;
#endif

const uint32_t ckvm_KVM_EXIT_UNKNOWN = KVM_EXIT_UNKNOWN;
const uint32_t ckvm_KVM_EXIT_EXCEPTION = KVM_EXIT_EXCEPTION;
const uint32_t ckvm_KVM_EXIT_IO = KVM_EXIT_IO;
const uint32_t ckvm_KVM_EXIT_HYPERCALL = KVM_EXIT_HYPERCALL;
const uint32_t ckvm_KVM_EXIT_DEBUG = KVM_EXIT_DEBUG;
const uint32_t ckvm_KVM_EXIT_HLT = KVM_EXIT_HLT;
const uint32_t ckvm_KVM_EXIT_MMIO = KVM_EXIT_MMIO;
const uint32_t ckvm_KVM_EXIT_SHUTDOWN = KVM_EXIT_SHUTDOWN;
const uint32_t ckvm_KVM_EXIT_FAIL_ENTRY = KVM_EXIT_FAIL_ENTRY;
const uint32_t ckvm_KVM_EXIT_INTR = KVM_EXIT_INTR;
const uint32_t ckvm_KVM_EXIT_INTERNAL_ERROR = KVM_EXIT_INTERNAL_ERROR;
const uint32_t ckvm_KVM_EXIT_SYSTEM_EVENT = KVM_EXIT_SYSTEM_EVENT;
const uint32_t ckvm_KVM_EXIT_ARM_NISV = KVM_EXIT_ARM_NISV;
const uint32_t ckvm_KVM_EXIT_IO_OUT = KVM_EXIT_IO_OUT;

const uint32_t ckvm_KVM_SYSTEM_EVENT_SHUTDOWN = KVM_SYSTEM_EVENT_SHUTDOWN;
const uint32_t ckvm_KVM_SYSTEM_EVENT_RESET = KVM_SYSTEM_EVENT_RESET;
const uint32_t ckvm_KVM_SYSTEM_EVENT_CRASH = KVM_SYSTEM_EVENT_CRASH;

const uint32_t ckvm_KVM_INTERNAL_ERROR_EMULATION = KVM_INTERNAL_ERROR_EMULATION;
const uint32_t ckvm_KVM_INTERNAL_ERROR_SIMUL_EX = KVM_INTERNAL_ERROR_SIMUL_EX;
const uint32_t ckvm_KVM_INTERNAL_ERROR_DELIVERY_EV = KVM_INTERNAL_ERROR_DELIVERY_EV;

const uint32_t ckvm_KVM_MEM_LOG_DIRTY_PAGES = KVM_MEM_LOG_DIRTY_PAGES;
const uint32_t ckvm_KVM_MEM_READONLY = KVM_MEM_READONLY;

const uint32_t ckvm_KVM_DEV_TYPE_ARM_VGIC_V3 = KVM_DEV_TYPE_ARM_VGIC_V3;
const uint32_t ckvm_KVM_CREATE_DEVICE_TEST = KVM_CREATE_DEVICE_TEST;

const uint64_t ckvm_KVM_REG_ARCH_MASK = KVM_REG_ARCH_MASK;
const uint64_t ckvm_KVM_REG_ARM64 = KVM_REG_ARM64;
const uint64_t ckvm_KVM_REG_SIZE_MASK = KVM_REG_SIZE_MASK;
const uint64_t ckvm_KVM_REG_SIZE_SHIFT = KVM_REG_SIZE_SHIFT;

const size_t ckvm_kvm_reg_list_header_size = offsetof(struct kvm_reg_list, reg);

unsigned long ckvm_vm_type_arm_ipa_size(unsigned int bits) {
#if defined(__aarch64__)
    return KVM_VM_TYPE_ARM_IPA_SIZE(bits);
#else
    (void)bits;
    return 0;
#endif
}

int ckvm_get_dirty_log(int vm_fd, uint32_t slot, void *bitmap) {
    struct kvm_dirty_log log;
    memset(&log, 0, sizeof log);
    log.slot = slot;
    log.dirty_bitmap = bitmap;
    return ioctl(vm_fd, KVM_GET_DIRTY_LOG, &log);
}

#if defined(__aarch64__)
/* ---- arm64: <asm/kvm.h> is the arm64 one ------------------------------------------------ */
const bool ckvm_has_arm64 = true;
const unsigned long ckvm_KVM_ARM_PREFERRED_TARGET = KVM_ARM_PREFERRED_TARGET;
const unsigned long ckvm_KVM_ARM_VCPU_INIT = KVM_ARM_VCPU_INIT;
const uint32_t ckvm_KVM_DEV_ARM_VGIC_GRP_ADDR = KVM_DEV_ARM_VGIC_GRP_ADDR;
const uint32_t ckvm_KVM_DEV_ARM_VGIC_GRP_CTRL = KVM_DEV_ARM_VGIC_GRP_CTRL;
const uint32_t ckvm_KVM_DEV_ARM_VGIC_GRP_NR_IRQS = KVM_DEV_ARM_VGIC_GRP_NR_IRQS;
const uint64_t ckvm_KVM_DEV_ARM_VGIC_CTRL_INIT = KVM_DEV_ARM_VGIC_CTRL_INIT;
const uint64_t ckvm_KVM_VGIC_V3_ADDR_TYPE_DIST = KVM_VGIC_V3_ADDR_TYPE_DIST;
const uint64_t ckvm_KVM_VGIC_V3_ADDR_TYPE_REDIST = KVM_VGIC_V3_ADDR_TYPE_REDIST;
const uint64_t ckvm_KVM_VGIC_V3_DIST_SIZE = KVM_VGIC_V3_DIST_SIZE;
const uint64_t ckvm_KVM_VGIC_V3_REDIST_SIZE = KVM_VGIC_V3_REDIST_SIZE;
const uint32_t ckvm_KVM_ARM_VCPU_PSCI_0_2 = KVM_ARM_VCPU_PSCI_0_2;
#ifdef KVM_ARM_VCPU_HAS_EL2
const bool ckvm_has_KVM_ARM_VCPU_HAS_EL2 = true;
const uint32_t ckvm_KVM_ARM_VCPU_HAS_EL2 = KVM_ARM_VCPU_HAS_EL2;
#else
const bool ckvm_has_KVM_ARM_VCPU_HAS_EL2 = false;
const uint32_t ckvm_KVM_ARM_VCPU_HAS_EL2 = 0;
#endif
#ifdef KVM_ARM_VCPU_HAS_EL2_E2H0
const bool ckvm_has_KVM_ARM_VCPU_HAS_EL2_E2H0 = true;
const uint32_t ckvm_KVM_ARM_VCPU_HAS_EL2_E2H0 = KVM_ARM_VCPU_HAS_EL2_E2H0;
#else
const bool ckvm_has_KVM_ARM_VCPU_HAS_EL2_E2H0 = false;
const uint32_t ckvm_KVM_ARM_VCPU_HAS_EL2_E2H0 = 0;
#endif
const uint32_t ckvm_kvm_vcpu_init_feature_words =
    sizeof(((struct kvm_vcpu_init *)0)->features) / sizeof(((struct kvm_vcpu_init *)0)->features[0]);
const uint64_t ckvm_KVM_REG_ARM64_SYSREG = KVM_REG_ARM64_SYSREG;
const uint64_t ckvm_KVM_REG_ARM_COPROC_MASK = KVM_REG_ARM_COPROC_MASK;

int ckvm_arm_preferred_target(int vm_fd, uint32_t *target) {
    struct kvm_vcpu_init init;
    memset(&init, 0, sizeof init);
    int r = ioctl(vm_fd, KVM_ARM_PREFERRED_TARGET, &init);
    if (r == 0) *target = init.target;
    return r;
}

int ckvm_arm_vcpu_init(int vcpu_fd, uint32_t target, const uint32_t *features, uint32_t n_words) {
    struct kvm_vcpu_init init;
    memset(&init, 0, sizeof init);
    if (n_words > ckvm_kvm_vcpu_init_feature_words) { errno = E2BIG; return -1; }
    init.target = target;
    for (uint32_t i = 0; i < n_words; i++) init.features[i] = features[i];
    return ioctl(vcpu_fd, KVM_ARM_VCPU_INIT, &init);
}

uint64_t ckvm_arm64_sys_reg_id(uint32_t op0, uint32_t op1, uint32_t crn, uint32_t crm, uint32_t op2) {
    return ARM64_SYS_REG(op0, op1, crn, crm, op2);
}

int ckvm_arm64_sys_reg_fields(uint64_t id, uint32_t fields[5]) {
    if ((id & KVM_REG_ARCH_MASK) != KVM_REG_ARM64 || (id & KVM_REG_ARM_COPROC_MASK) != KVM_REG_ARM64_SYSREG)
        return 0;
    fields[0] = (id & KVM_REG_ARM64_SYSREG_OP0_MASK) >> KVM_REG_ARM64_SYSREG_OP0_SHIFT;
    fields[1] = (id & KVM_REG_ARM64_SYSREG_OP1_MASK) >> KVM_REG_ARM64_SYSREG_OP1_SHIFT;
    fields[2] = (id & KVM_REG_ARM64_SYSREG_CRN_MASK) >> KVM_REG_ARM64_SYSREG_CRN_SHIFT;
    fields[3] = (id & KVM_REG_ARM64_SYSREG_CRM_MASK) >> KVM_REG_ARM64_SYSREG_CRM_SHIFT;
    fields[4] = (id & KVM_REG_ARM64_SYSREG_OP2_MASK) >> KVM_REG_ARM64_SYSREG_OP2_SHIFT;
    return 1;
}

/* Core registers: KVM_REG_ARM_CORE ids index struct kvm_regs in 32-bit words (api.rst, arm64). */
static uint64_t core_id(size_t offset) {
    return KVM_REG_ARM64 | KVM_REG_SIZE_U64 | KVM_REG_ARM_CORE | (offset / sizeof(__u32));
}
uint64_t ckvm_arm64_core_reg_x(uint32_t n) {
    if (n > 30) return 0;
    return core_id(offsetof(struct kvm_regs, regs.regs) + n * sizeof(__u64));
}
uint64_t ckvm_arm64_core_reg_sp(void) { return core_id(offsetof(struct kvm_regs, regs.sp)); }
uint64_t ckvm_arm64_core_reg_pc(void) { return core_id(offsetof(struct kvm_regs, regs.pc)); }
uint64_t ckvm_arm64_core_reg_pstate(void) { return core_id(offsetof(struct kvm_regs, regs.pstate)); }
uint64_t ckvm_arm64_core_reg_sp_el1(void) { return core_id(offsetof(struct kvm_regs, sp_el1)); }
uint64_t ckvm_arm64_core_reg_elr_el1(void) { return core_id(offsetof(struct kvm_regs, elr_el1)); }

#else
/* ---- not an arm64 host: the arm64 uAPI is absent from these headers ------------------------- */
const bool ckvm_has_arm64 = false;
const unsigned long ckvm_KVM_ARM_PREFERRED_TARGET = 0;
const unsigned long ckvm_KVM_ARM_VCPU_INIT = 0;
const uint32_t ckvm_KVM_DEV_ARM_VGIC_GRP_ADDR = 0;
const uint32_t ckvm_KVM_DEV_ARM_VGIC_GRP_CTRL = 0;
const uint32_t ckvm_KVM_DEV_ARM_VGIC_GRP_NR_IRQS = 0;
const uint64_t ckvm_KVM_DEV_ARM_VGIC_CTRL_INIT = 0;
const uint64_t ckvm_KVM_VGIC_V3_ADDR_TYPE_DIST = 0;
const uint64_t ckvm_KVM_VGIC_V3_ADDR_TYPE_REDIST = 0;
const uint64_t ckvm_KVM_VGIC_V3_DIST_SIZE = 0;
const uint64_t ckvm_KVM_VGIC_V3_REDIST_SIZE = 0;
const uint32_t ckvm_KVM_ARM_VCPU_PSCI_0_2 = 0;
const bool ckvm_has_KVM_ARM_VCPU_HAS_EL2 = false;
const uint32_t ckvm_KVM_ARM_VCPU_HAS_EL2 = 0;
const bool ckvm_has_KVM_ARM_VCPU_HAS_EL2_E2H0 = false;
const uint32_t ckvm_KVM_ARM_VCPU_HAS_EL2_E2H0 = 0;
const uint32_t ckvm_kvm_vcpu_init_feature_words = 0;
const uint64_t ckvm_KVM_REG_ARM64_SYSREG = 0;
const uint64_t ckvm_KVM_REG_ARM_COPROC_MASK = 0;

int ckvm_arm_preferred_target(int vm_fd, uint32_t *target) { (void)vm_fd; (void)target; errno = ENOSYS; return -1; }
int ckvm_arm_vcpu_init(int vcpu_fd, uint32_t target, const uint32_t *features, uint32_t n_words) {
    (void)vcpu_fd; (void)target; (void)features; (void)n_words; errno = ENOSYS; return -1;
}
uint64_t ckvm_arm64_sys_reg_id(uint32_t op0, uint32_t op1, uint32_t crn, uint32_t crm, uint32_t op2) {
    (void)op0; (void)op1; (void)crn; (void)crm; (void)op2; return 0;
}
int ckvm_arm64_sys_reg_fields(uint64_t id, uint32_t fields[5]) { (void)id; (void)fields; return 0; }
uint64_t ckvm_arm64_core_reg_x(uint32_t n) { (void)n; return 0; }
uint64_t ckvm_arm64_core_reg_sp(void) { return 0; }
uint64_t ckvm_arm64_core_reg_pc(void) { return 0; }
uint64_t ckvm_arm64_core_reg_pstate(void) { return 0; }
uint64_t ckvm_arm64_core_reg_sp_el1(void) { return 0; }
uint64_t ckvm_arm64_core_reg_elr_el1(void) { return 0; }
#endif

/* ---- interrupting KVM_RUN --------------------------------------------------------------- */

/* The kvm_run area of the KVM_RUN this thread is in (or about to enter), for the handler. */
static __thread struct kvm_run *volatile tls_run;
static __thread timer_t tls_timer;
static __thread int tls_has_timer;
static __thread int tls_unblocked;
static __thread uint64_t tls_armed_deadline; /* absolute CLOCK_MONOTONIC ns; 0 = disarmed */
/* Set by every watchdog signal this thread takes (and when a new deadline is armed): the next
 * ckvm_vcpu_run compares the clock with the deadline. While it is clear the deadline cannot have
 * passed unseen (the timer fires at the deadline and its handler sets it), so a run loop under
 * one deadline reads no clock per exit. */
static __thread volatile sig_atomic_t tls_watchdog_check;

static volatile sig_atomic_t stop_signal;
static atomic_int handlers_installed;

/* Threads currently inside ckvm_vcpu_run, so a SIGINT/SIGTERM taken on another thread can be
 * forwarded to them. 0 = free slot. pthread_t is an unsigned long on Linux/glibc. */
#define CKVM_MAX_RUNNING 64
static _Atomic unsigned long running_threads[CKVM_MAX_RUNNING];

int ckvm_watchdog_signal(void) { return SIGRTMIN + 1; }
int ckvm_stop_signal(void) { return stop_signal; }

/* Runs before main. The Swift runtime's dispatch needs a few descriptors to start (its main-queue
 * eventfd); without them it traps with SIGILL before any Swift code runs. So: at least 16 allowed
 * and 4 free now (probed with /dev/null), else say so and exit 125, "could not test". Only
 * getrlimit, open, close, write and _exit: nothing else is set up yet. */
__attribute__((constructor)) static void ckvm_check_descriptor_limit(void) {
    struct rlimit r;
    if (getrlimit(RLIMIT_NOFILE, &r) != 0) return;
    int probe[4], free_fds = 0;
    for (; free_fds < 4; free_fds++) {
        probe[free_fds] = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (probe[free_fds] < 0) break;
    }
    for (int i = 0; i < free_fds; i++) close(probe[i]);
    if (r.rlim_cur >= 16 && free_fds == 4) return;
    char text[240];
    int n = snprintf(text, sizeof text, "error: RLIMIT_NOFILE is %llu with %d descriptor%s free; the harness needs a "
                     "limit of at least 16 and 4 free (ulimit -n); could not test\n",
                     (unsigned long long)r.rlim_cur, free_fds, free_fds == 1 ? "" : "s");
    if (n > 0) { ssize_t w = write(2, text, (size_t)n); (void)w; }
    _exit(125);
}

static _Atomic uint64_t spurious_interruptions;
uint64_t ckvm_spurious_interruptions(void) { return atomic_load(&spurious_interruptions); }

static void mark_this_thread_interrupted(void) {
    struct kvm_run *run = tls_run;
    if (run) *(volatile uint8_t *)&run->immediate_exit = 1;
}

/* Async-signal-safe: stores to volatile/thread-local objects only. */
static void watchdog_handler(int signo) {
    (void)signo;
    int saved = errno;
    tls_watchdog_check = 1;
    mark_this_thread_interrupted();
    errno = saved;
}

/* Async-signal-safe: pthread_self, pthread_kill (signal-safety(7)), atomics, stores. */
static void stop_handler(int signo) {
    int saved = errno;
    if (stop_signal == 0) stop_signal = signo;
    mark_this_thread_interrupted();
    unsigned long self = (unsigned long)pthread_self();
    for (int i = 0; i < CKVM_MAX_RUNNING; i++) {
        unsigned long t = atomic_load(&running_threads[i]);
        if (t != 0 && t != self) pthread_kill((pthread_t)t, ckvm_watchdog_signal());
    }
    errno = saved;
}

static atomic_int watchdog_installed;

/* The watchdog handler only: installed by the first ckvm_vcpu_run (without it the timer signal's
 * default action would kill the process). */
static int install_watchdog_handler(void) {
    if (atomic_load(&watchdog_installed)) return 0;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = watchdog_handler;
    sa.sa_flags = 0; /* no SA_RESTART: KVM_RUN must return EINTR */
    if (sigaction(ckvm_watchdog_signal(), &sa, NULL) != 0) return -1;
    atomic_store(&watchdog_installed, 1);
    return 0;
}

int ckvm_install_signal_handlers(void) {
    if (install_watchdog_handler() != 0) return -1;
    if (atomic_exchange(&handlers_installed, 1)) return 0;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = stop_handler;
    sa.sa_flags = SA_RESETHAND; /* a second Ctrl-C kills the process the default way */
    if (sigaction(SIGINT, &sa, NULL) != 0) goto fail;
    if (sigaction(SIGTERM, &sa, NULL) != 0) goto fail;
    return 0;
fail:
    atomic_store(&handlers_installed, 0);
    return -1;
}

void ckvm_reset_stop_signal(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = stop_handler;
    sa.sa_flags = SA_RESETHAND;
    if (atomic_load(&handlers_installed)) {
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
    }
    stop_signal = 0;
}

static int register_running(unsigned long self) {
    for (int i = 0; i < CKVM_MAX_RUNNING; i++) {
        unsigned long expected = 0;
        if (atomic_compare_exchange_strong(&running_threads[i], &expected, self)) return i;
    }
    return -1; /* more than 64 vCPU threads: still works, only SIGINT forwarding is lost */
}

uint64_t ckvm_monotonic_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

int ckvm_vcpu_run(int vcpu_fd, struct kvm_run *run, uint64_t deadline_ns, int *outcome) {
    *outcome = CKVM_RUN_NORMAL;
    if (install_watchdog_handler() != 0) return -1;
    int want = atomic_load(&handlers_installed) ? 2 : 1;
    if (tls_unblocked < want) {
        /* Threads from libdispatch / the Swift concurrency pool start with most signals blocked;
         * a blocked signal stays pending and never interrupts KVM_RUN. Unblock ours here: the
         * watchdog signal, and once our stop handlers are installed SIGINT/SIGTERM too — in an
         * async Swift program the main thread may be gone (dispatch_main) and every remaining
         * thread blocks them, so a process-directed Ctrl-C would otherwise never be taken. */
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, ckvm_watchdog_signal());
        if (want == 2) {
            sigaddset(&set, SIGINT);
            sigaddset(&set, SIGTERM);
        }
        if (pthread_sigmask(SIG_UNBLOCK, &set, NULL) != 0) return -1;
        tls_unblocked = want;
    }
    if (deadline_ns != 0) {
        if (!tls_has_timer) {
            struct sigevent sev;
            memset(&sev, 0, sizeof sev);
            sev.sigev_notify = SIGEV_THREAD_ID;
            sev.sigev_signo = ckvm_watchdog_signal();
#ifdef sigev_notify_thread_id
            sev.sigev_notify_thread_id = gettid();
#else
            sev._sigev_un._tid = gettid();
#endif
            if (timer_create(CLOCK_MONOTONIC, &sev, &tls_timer) != 0) return -1;
            tls_has_timer = 1;
        }
        /* The timer stays armed across calls with the same deadline (a run loop with one
         * deadline per test costs no timer syscalls per exit). */
        if (deadline_ns != tls_armed_deadline) {
            struct itimerspec its;
            memset(&its, 0, sizeof its);
            its.it_value.tv_sec = (time_t)(deadline_ns / 1000000000ull);
            its.it_value.tv_nsec = (long)(deadline_ns % 1000000000ull);
            if (timer_settime(tls_timer, TIMER_ABSTIME, &its, NULL) != 0) return -1;
            tls_armed_deadline = deadline_ns;
            tls_watchdog_check = 1; /* a new deadline may already have passed */
        }
    } else if (tls_armed_deadline != 0) {
        struct itimerspec zero;
        memset(&zero, 0, sizeof zero);
        if (timer_settime(tls_timer, 0, &zero, NULL) != 0) return -1;
        tls_armed_deadline = 0;
    }

    int slot = register_running((unsigned long)pthread_self());
    tls_run = run;
    *(volatile uint8_t *)&run->immediate_exit = 0;
    atomic_signal_fence(memory_order_seq_cst);
    /* From here a watchdog or stop signal sets immediate_exit itself (tls_run is set). What
     * happened before is caught by looking: a stop already requested, or a deadline already
     * passed — then its timer signal came while tls_run was not set and left
     * tls_watchdog_check set (the clock is read only then, not on every exit). The flag is
     * cleared before the clock is read: a signal after the read sets immediate_exit. */
    if (stop_signal != 0) {
        *(volatile uint8_t *)&run->immediate_exit = 1;
    } else if (deadline_ns != 0 && tls_watchdog_check) {
        tls_watchdog_check = 0;
        atomic_signal_fence(memory_order_seq_cst);
        if (ckvm_monotonic_ns() >= deadline_ns) {
            tls_watchdog_check = 1;
            *(volatile uint8_t *)&run->immediate_exit = 1;
        }
    }
    int r = ioctl(vcpu_fd, KVM_RUN, 0);
    int e = errno;
    atomic_signal_fence(memory_order_seq_cst);
    tls_run = NULL;
    if (slot >= 0) atomic_store(&running_threads[slot], 0);
    *(volatile uint8_t *)&run->immediate_exit = 0;
    if (stop_signal != 0) *outcome = CKVM_RUN_STOP;
    else if (r < 0 && e == EINTR && deadline_ns != 0 && ckvm_monotonic_ns() >= deadline_ns) *outcome = CKVM_RUN_WATCHDOG;
    else if (r < 0 && e == EINTR) atomic_fetch_add(&spurious_interruptions, 1);
    errno = e;
    return r;
}
