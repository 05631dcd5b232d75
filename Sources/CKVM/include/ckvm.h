#ifndef CKVM_H
#define CKVM_H
/*
 * The KVM uAPI as <linux/kvm.h> (linux-libc-dev) defines it, in a form Swift can use.
 *
 * Swift cannot import function-like macros (every ioctl number is one: _IO/_IOR/_IOW/_IOWR)
 * nor call the variadic ioctl(2), and reaches members of anonymous unions (kvm_run's exit
 * data) only awkwardly. So this shim:
 *   - exports each number the harness uses as an `extern const` defined from the kernel's
 *     own macro in ckvm.c (no number is written by hand anywhere in the project);
 *   - exposes kvm_run fields through small inline accessors compiled against the real struct;
 *   - wraps ioctl(2) in two non-variadic functions;
 *   - builds arm64 ONE_REG ids with the kernel's own ARM64_SYS_REG / KVM_REG_ARM_CORE macros.
 * Constants that only exist in arm64 headers, or only in recent headers (KVM_CAP_ARM_EL2 is
 * Linux 6.16+), are guarded: each has a `ckvm_has_*` flag, and its value is 0 when absent.
 */
#include <linux/kvm.h>
#include <stdint.h>
#include <stddef.h>
#include <stdbool.h>

/* ---- ioctl(2) without varargs ------------------------------------------------------- */
/* Returns ioctl's result; -1 with errno set on failure (the caller reads errno). */
int ckvm_ioctl_ptr(int fd, unsigned long request, void *argument);
int ckvm_ioctl_val(int fd, unsigned long request, unsigned long argument);

/* ---- mremap(2) without varargs -------------------------------------------------------- */
/* Moves the mapping [from, from + size) to `to` (MREMAP_MAYMOVE | MREMAP_FIXED), which
 * unmaps whatever was mapped at [to, to + size). Returns 0, or -1 with errno set. */
int ckvm_mremap_over(void *from, size_t size, void *to);

/* ---- API version ---------------------------------------------------------------------- */
extern const int ckvm_KVM_API_VERSION;

/* ---- system ioctls (on the /dev/kvm fd) ---------------------------------------------- */
extern const unsigned long ckvm_KVM_GET_API_VERSION;
extern const unsigned long ckvm_KVM_CREATE_VM;
extern const unsigned long ckvm_KVM_CHECK_EXTENSION;
extern const unsigned long ckvm_KVM_GET_VCPU_MMAP_SIZE;

/* ---- VM ioctls ---------------------------------------------------------------------------- */
extern const unsigned long ckvm_KVM_CREATE_VCPU;
extern const unsigned long ckvm_KVM_SET_USER_MEMORY_REGION;
extern const unsigned long ckvm_KVM_GET_DIRTY_LOG;
extern const unsigned long ckvm_KVM_CREATE_DEVICE;
extern const unsigned long ckvm_KVM_SET_DEVICE_ATTR;
extern const unsigned long ckvm_KVM_GET_DEVICE_ATTR;
extern const unsigned long ckvm_KVM_HAS_DEVICE_ATTR;
extern const unsigned long ckvm_KVM_ARM_PREFERRED_TARGET; /* 0 on non-arm64 headers */

/* ---- vCPU ioctls --------------------------------------------------------------------- */
extern const unsigned long ckvm_KVM_RUN;
extern const unsigned long ckvm_KVM_GET_ONE_REG;
extern const unsigned long ckvm_KVM_SET_ONE_REG;
extern const unsigned long ckvm_KVM_GET_REG_LIST;
extern const unsigned long ckvm_KVM_ARM_VCPU_INIT;        /* 0 on non-arm64 headers */

/* ---- capabilities ------------------------------------------------------------------------ */
extern const int ckvm_KVM_CAP_USER_MEMORY;
extern const int ckvm_KVM_CAP_NR_MEMSLOTS;
extern const int ckvm_KVM_CAP_ONE_REG;
extern const int ckvm_KVM_CAP_IMMEDIATE_EXIT;
extern const int ckvm_KVM_CAP_DEVICE_CTRL;
extern const int ckvm_KVM_CAP_ARM_PSCI_0_2;
extern const int ckvm_KVM_CAP_ARM_VM_IPA_SIZE;
extern const bool ckvm_has_KVM_CAP_ARM_EL2;        /* Linux 6.16+ headers */
extern const int ckvm_KVM_CAP_ARM_EL2;
extern const bool ckvm_has_KVM_CAP_ARM_EL2_E2H0;   /* Linux 6.16+ headers */
extern const int ckvm_KVM_CAP_ARM_EL2_E2H0;

/* ---- exit reasons (kvm_run.exit_reason) ----------------------------------------------- */
extern const uint32_t ckvm_KVM_EXIT_UNKNOWN;
extern const uint32_t ckvm_KVM_EXIT_EXCEPTION;
extern const uint32_t ckvm_KVM_EXIT_IO;
extern const uint32_t ckvm_KVM_EXIT_HYPERCALL;
extern const uint32_t ckvm_KVM_EXIT_DEBUG;
extern const uint32_t ckvm_KVM_EXIT_HLT;
extern const uint32_t ckvm_KVM_EXIT_MMIO;
extern const uint32_t ckvm_KVM_EXIT_SHUTDOWN;
extern const uint32_t ckvm_KVM_EXIT_FAIL_ENTRY;
extern const uint32_t ckvm_KVM_EXIT_INTR;
extern const uint32_t ckvm_KVM_EXIT_INTERNAL_ERROR;
extern const uint32_t ckvm_KVM_EXIT_SYSTEM_EVENT;
extern const uint32_t ckvm_KVM_EXIT_ARM_NISV;
extern const uint32_t ckvm_KVM_EXIT_IO_OUT;

/* system_event.type values */
extern const uint32_t ckvm_KVM_SYSTEM_EVENT_SHUTDOWN;
extern const uint32_t ckvm_KVM_SYSTEM_EVENT_RESET;
extern const uint32_t ckvm_KVM_SYSTEM_EVENT_CRASH;

/* internal.suberror values */
extern const uint32_t ckvm_KVM_INTERNAL_ERROR_EMULATION;
extern const uint32_t ckvm_KVM_INTERNAL_ERROR_SIMUL_EX;
extern const uint32_t ckvm_KVM_INTERNAL_ERROR_DELIVERY_EV;

/* ---- memslots ----------------------------------------------------------------------------- */
extern const uint32_t ckvm_KVM_MEM_LOG_DIRTY_PAGES;
extern const uint32_t ckvm_KVM_MEM_READONLY;

/* ---- devices (vGICv3) --------------------------------------------------------------------- */
extern const bool ckvm_has_arm64;                    /* arm64 uAPI headers present */
extern const uint32_t ckvm_KVM_DEV_TYPE_ARM_VGIC_V3;
extern const uint32_t ckvm_KVM_CREATE_DEVICE_TEST;
extern const uint32_t ckvm_KVM_DEV_ARM_VGIC_GRP_ADDR;    /* arm64 only, else 0 */
extern const uint32_t ckvm_KVM_DEV_ARM_VGIC_GRP_CTRL;
extern const uint32_t ckvm_KVM_DEV_ARM_VGIC_GRP_NR_IRQS;
extern const uint64_t ckvm_KVM_DEV_ARM_VGIC_CTRL_INIT;
extern const uint64_t ckvm_KVM_VGIC_V3_ADDR_TYPE_DIST;
extern const uint64_t ckvm_KVM_VGIC_V3_ADDR_TYPE_REDIST;
extern const uint64_t ckvm_KVM_VGIC_V3_DIST_SIZE;
extern const uint64_t ckvm_KVM_VGIC_V3_REDIST_SIZE;

/* ---- arm64 vCPU init features and registers -------------------------------------------------- */
extern const uint32_t ckvm_KVM_ARM_VCPU_PSCI_0_2;       /* bit number */
extern const bool ckvm_has_KVM_ARM_VCPU_HAS_EL2;
extern const uint32_t ckvm_KVM_ARM_VCPU_HAS_EL2;
extern const bool ckvm_has_KVM_ARM_VCPU_HAS_EL2_E2H0;
extern const uint32_t ckvm_KVM_ARM_VCPU_HAS_EL2_E2H0;
extern const uint32_t ckvm_kvm_vcpu_init_feature_words; /* elements of kvm_vcpu_init.features */

/* struct kvm_vcpu_init, arm64 only. On other hosts these return -1 with errno = ENOSYS. */
int ckvm_arm_preferred_target(int vm_fd, uint32_t *target);
int ckvm_arm_vcpu_init(int vcpu_fd, uint32_t target, const uint32_t *features, uint32_t n_words);

/* The VM type for KVM_CREATE_VM that requests an IPA size (KVM_VM_TYPE_ARM_IPA_SIZE); 0 off arm64. */
unsigned long ckvm_vm_type_arm_ipa_size(unsigned int bits);

/* ONE_REG ids, built with the kernel's macros (0 on non-arm64 headers). */
uint64_t ckvm_arm64_sys_reg_id(uint32_t op0, uint32_t op1, uint32_t crn, uint32_t crm, uint32_t op2);
uint64_t ckvm_arm64_core_reg_x(uint32_t n);  /* regs.regs[n], n < 31 */
uint64_t ckvm_arm64_core_reg_sp(void);       /* regs.sp (SP_EL0) */
uint64_t ckvm_arm64_core_reg_pc(void);       /* regs.pc */
uint64_t ckvm_arm64_core_reg_pstate(void);   /* regs.pstate */
uint64_t ckvm_arm64_core_reg_sp_el1(void);   /* sp_el1 */
uint64_t ckvm_arm64_core_reg_elr_el1(void);  /* elr_el1 */
/* Generic id fields (linux/kvm.h): the architecture and size of a ONE_REG id. */
extern const uint64_t ckvm_KVM_REG_ARCH_MASK;
extern const uint64_t ckvm_KVM_REG_ARM64;
extern const uint64_t ckvm_KVM_REG_SIZE_MASK;
extern const uint64_t ckvm_KVM_REG_SIZE_SHIFT;
extern const uint64_t ckvm_KVM_REG_ARM64_SYSREG;         /* arm64 only, else 0 */
extern const uint64_t ckvm_KVM_REG_ARM_COPROC_MASK;      /* arm64 only, else 0 */
/* Decode the op0..op2 fields of an arm64 sysreg ONE_REG id (0 if not a sysreg id). */
int ckvm_arm64_sys_reg_fields(uint64_t id, uint32_t fields[5]);

/* ---- struct kvm_reg_list ------------------------------------------------------------------- */
extern const size_t ckvm_kvm_reg_list_header_size;  /* offsetof(struct kvm_reg_list, reg) */

/* ---- struct kvm_dirty_log ------------------------------------------------------------------ */
int ckvm_get_dirty_log(int vm_fd, uint32_t slot, void *bitmap);

/* ---- struct kvm_run accessors ----------------------------------------------------------- */
static inline uint32_t ckvm_run_exit_reason(const struct kvm_run *run) { return run->exit_reason; }
static inline void ckvm_run_set_immediate_exit(struct kvm_run *run, uint8_t value) {
    *(volatile uint8_t *)&run->immediate_exit = value;
}
static inline uint8_t ckvm_run_immediate_exit(const struct kvm_run *run) {
    return *(const volatile uint8_t *)&run->immediate_exit;
}
static inline uint64_t ckvm_run_mmio_phys_addr(const struct kvm_run *run) { return run->mmio.phys_addr; }
static inline uint32_t ckvm_run_mmio_len(const struct kvm_run *run) { return run->mmio.len; }
static inline uint8_t ckvm_run_mmio_is_write(const struct kvm_run *run) { return run->mmio.is_write; }
static inline uint8_t *ckvm_run_mmio_data(struct kvm_run *run) { return run->mmio.data; }
static inline size_t ckvm_run_mmio_data_capacity(void) { return sizeof(((struct kvm_run *)0)->mmio.data); }
static inline uint32_t ckvm_run_system_event_type(const struct kvm_run *run) { return run->system_event.type; }
static inline uint32_t ckvm_run_system_event_ndata(const struct kvm_run *run) { return run->system_event.ndata; }
static inline uint64_t ckvm_run_system_event_data(const struct kvm_run *run, uint32_t i) {
    return i < sizeof(run->system_event.data) / sizeof(run->system_event.data[0]) ? run->system_event.data[i] : 0;
}
static inline uint32_t ckvm_run_system_event_data_capacity(void) {
    return sizeof(((struct kvm_run *)0)->system_event.data) / sizeof(uint64_t);
}
static inline uint32_t ckvm_run_internal_suberror(const struct kvm_run *run) { return run->internal.suberror; }
static inline uint32_t ckvm_run_internal_ndata(const struct kvm_run *run) { return run->internal.ndata; }
static inline uint64_t ckvm_run_internal_data(const struct kvm_run *run, uint32_t i) {
    return i < sizeof(run->internal.data) / sizeof(run->internal.data[0]) ? run->internal.data[i] : 0;
}
static inline uint64_t ckvm_run_fail_entry_reason(const struct kvm_run *run) {
    return run->fail_entry.hardware_entry_failure_reason;
}
static inline uint32_t ckvm_run_fail_entry_cpu(const struct kvm_run *run) { return run->fail_entry.cpu; }
static inline uint8_t ckvm_run_io_direction(const struct kvm_run *run) { return run->io.direction; }
static inline uint8_t ckvm_run_io_size(const struct kvm_run *run) { return run->io.size; }
static inline uint16_t ckvm_run_io_port(const struct kvm_run *run) { return run->io.port; }
static inline uint32_t ckvm_run_io_count(const struct kvm_run *run) { return run->io.count; }
static inline uint64_t ckvm_run_arm_nisv_esr_iss(const struct kvm_run *run) { return run->arm_nisv.esr_iss; }
static inline uint64_t ckvm_run_arm_nisv_fault_ipa(const struct kvm_run *run) { return run->arm_nisv.fault_ipa; }
static inline uint64_t ckvm_run_hw_exit_reason(const struct kvm_run *run) { return run->hw.hardware_exit_reason; }

/* ---- interrupting KVM_RUN: the watchdog and SIGINT/SIGTERM --------------------------------
 * KVM_RUN returns -1/EINTR when a signal is pending for the vCPU thread; a signal that
 * arrives just before the thread enters KVM_RUN is caught by kvm_run->immediate_exit, which
 * the handler sets (Documentation/virt/kvm/api.rst, "immediate_exit"). Signal handlers must
 * be async-signal-safe, which Swift cannot promise, so they live here.
 *
 * ckvm_vcpu_run(): one KVM_RUN on the calling thread with a watchdog: a POSIX timer
 * (CLOCK_MONOTONIC, TIMER_ABSTIME, SIGEV_THREAD_ID) signals this thread at deadline_ns, an
 * absolute ckvm_monotonic_ns() time (0 = no watchdog). The timer stays armed across calls with
 * the same deadline, and the clock is read only when a new deadline is armed or the watchdog
 * signal has come (so a run loop under one deadline makes no timer syscall and no clock read
 * per exit; a deadline that passed between calls is still seen before KVM_RUN). Returns KVM_RUN's result (errno set on -1) and sets *outcome to:
 *   0 = not interrupted by us, 1 = the deadline passed (KVM_RUN returned EINTR),
 *   2 = a stop signal (SIGINT/SIGTERM) has arrived. */
enum { CKVM_RUN_NORMAL = 0, CKVM_RUN_WATCHDOG = 1, CKVM_RUN_STOP = 2 };
int ckvm_vcpu_run(int vcpu_fd, struct kvm_run *run, uint64_t deadline_ns, int *outcome);
uint64_t ckvm_monotonic_ns(void);
/* Installs the SIGINT/SIGTERM stop handlers and the watchdog handler (idempotent; ckvm_vcpu_run
 * installs the watchdog handler by itself). Returns 0, or -1 with errno. */
int ckvm_install_signal_handlers(void);
/* The signal number the watchdog uses (SIGRTMIN + 1). */
int ckvm_watchdog_signal(void);
/* 0, or the number of the first SIGINT/SIGTERM received since install. */
int ckvm_stop_signal(void);
/* KVM_RUN calls a signal other than the watchdog's deadline or a stop interrupted (EINTR, retried
 * by the caller): a figure for the EINTR-storm test. */
uint64_t ckvm_spurious_interruptions(void);
/* Restores default disposition of SIGINT/SIGTERM and clears the stop flag (for tests). */
void ckvm_reset_stop_signal(void);

#endif
