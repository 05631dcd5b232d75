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

/* Demand-fault handling the way the payload's mailbox expects it (guest/include/mailbox.h),
 * doing the same work per fault as the Swift session + Stage2 builder path it is compared with:
 * the full message validation, the cross-check of ESR/FAR/HPFAR against KVM's vCPU state
 * (three KVM_GET_ONE_REG, when cross_check is set), the fault decode, a stage-2 walk from the root
 * through the table pool (bounds-checked) to the leaf entry, which must be invalid, the leaf
 * descriptor composed and written, and the whole reply area written. */
typedef struct {
    uint8_t *message;               /* host pointer to the message page */
    uint64_t doorbell;              /* guest-physical doorbell address */
    uint64_t seq;                   /* last sequence number seen; updated */
    uint64_t op_count;              /* ops in the list (bounds the message's op index) */
    uint64_t ipa_base;              /* the faulting range: [ipa_base, ipa_base + pages << page_shift) */
    long pages;
    /* Stage 2: root table PA, start level, IPA size, granule (page_shift 12/14/16), and the
     * table pool (PA range and its host mapping) every table read must lie in. */
    uint64_t root;
    int start_level;
    unsigned ipa_bits;
    unsigned page_shift;
    uint64_t pool_base;
    uint64_t pool_size;
    uint8_t *pool_host;
    uint64_t output_pa;             /* every faulting page is mapped to this PA */
    uint64_t leaf_attributes;       /* descriptor attribute bits of the leaf */
    uint64_t ttl_bits;              /* TTL field for TLBI IPAS2E1IS (bits [47:44]) or 0 */
    uint64_t reg_ids[3];            /* ONE_REG ids of ESR_EL2, FAR_EL2, HPFAR_EL2 */
    int cross_check;                /* nonzero: read reg_ids and compare them with the message */
} cexit_fault_ctx;

/* Handles `count` stage-2 translation faults: run, check the doorbell and message, cross-check,
 * walk and write the leaf descriptor, reply RESUME with TLBI IPAS2E1IS + VMALLE1IS. Timestamps
 * as above (time each message arrived). Returns count or a negative error (-2000 - n: bad
 * message n; -3000 - n: stage-2 walk failed at check n). */
long cexit_fault_loop(const cexit_vcpu *v, cexit_fault_ctx *ctx, long count, uint64_t *timestamps,
                       cexit_timing *timing);

#endif
