/*
 * Minimal C run loops: the baseline `harness bench exits` compares the Swift run loop with.
 * They drive a vCPU the Swift Machine created (same VM, same guest, same exits), through
 * their own mapping of its kvm_run area.
 */
#ifndef CEXIT_H
#define CEXIT_H
#include <stddef.h>
#include <stdint.h>

typedef struct {
    int fd;
    void *run;
    size_t size;
} cexit_vcpu;

/* mmap the vCPU's kvm_run area (KVM_GET_VCPU_MMAP_SIZE bytes). 0 or -errno. */
int cexit_map(int vcpu_fd, size_t mmap_size, cexit_vcpu *out);
void cexit_unmap(cexit_vcpu *v);

/* Where a loop's time goes: inside KVM_RUN, and on the host between one KVM_RUN's return and
 * the next call. Pass NULL to skip the clock reads. */
typedef struct {
    long runs;
    uint64_t kvm_ns;
    uint64_t host_ns;
} cexit_timing;

/* Available in this build (arm64 uAPI present)? */
int cexit_supported(void);

/* KVM_RUN until `count` MMIO exits at `address` happened. Each exit's CLOCK_MONOTONIC time
 * (ns) goes to timestamps[i] if non-NULL. Returns count, -errno on an ioctl error, or
 * -(1000 + exit_reason) for any other exit. */
long cexit_mmio_loop(const cexit_vcpu *v, uint64_t address, long count, uint64_t *timestamps,
                      cexit_timing *timing);

/* Demand-fault handling the way the payload's mailbox expects it (guest/include/mailbox.h). */
typedef struct {
    uint8_t *message;               /* host pointer to the message page */
    uint64_t doorbell;              /* guest-physical doorbell address */
    uint64_t seq;                   /* last sequence number seen; updated */
    uint64_t ipa_base;              /* first IPA of the faulting range */
    unsigned page_shift;
    long pages;                     /* entries in the two arrays below */
    uint64_t *const *descriptor;    /* host pointer of each page's leaf descriptor */
    const uint64_t *value;          /* the descriptor each page gets */
    uint64_t ttl_bits;              /* TTL field for TLBI IPAS2E1IS (bits [47:44]) or 0 */
} cexit_fault_ctx;

/* Handles `count` stage-2 translation faults: run, check the doorbell and message, write the
 * leaf descriptor, reply RESUME with TLBI IPAS2E1IS + VMALLE1IS. Timestamps as above (time
 * each message arrived). Returns count or a negative error (-2000 - n: bad message n). */
long cexit_fault_loop(const cexit_vcpu *v, cexit_fault_ctx *ctx, long count, uint64_t *timestamps,
                       cexit_timing *timing);

#endif
