/* Minimal C baseline run loops for `harness bench exits` (see include/cexit.h). */
#define _GNU_SOURCE
#include "cexit.h"
#include "mailbox.h"

#include <errno.h>
#include <linux/kvm.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>

static uint64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

int cexit_supported(void)
{
#if defined(__aarch64__)
    return 1;
#else
    return 0; /* the nested benchmark needs arm64; the run-loop-only one uses any KVM */
#endif
}

int cexit_map(int vcpu_fd, size_t mmap_size, cexit_vcpu *out)
{
    void *p = mmap(NULL, mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu_fd, 0);
    if (p == MAP_FAILED)
        return -errno;
    out->fd = vcpu_fd;
    out->run = p;
    out->size = mmap_size;
    return 0;
}

void cexit_unmap(cexit_vcpu *v)
{
    if (v->run)
        munmap(v->run, v->size);
    v->run = NULL;
}

/* One KVM_RUN, with the time split when asked. */
static int timed_run(const cexit_vcpu *v, cexit_timing *t, uint64_t *last_return)
{
    if (!t)
        return ioctl(v->fd, KVM_RUN, 0);
    uint64_t start = now_ns();
    if (*last_return)
        t->host_ns += start - *last_return;
    int r = ioctl(v->fd, KVM_RUN, 0);
    uint64_t end = now_ns();
    t->kvm_ns += end - start;
    t->runs++;
    *last_return = end;
    return r;
}

long cexit_mmio_loop(const cexit_vcpu *v, uint64_t address, long count, uint64_t *timestamps, cexit_timing *timing)
{
    struct kvm_run *run = v->run;
    uint64_t last = 0;
    for (long i = 0; i < count;) {
        if (timed_run(v, timing, &last) < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (run->exit_reason != KVM_EXIT_MMIO || run->mmio.phys_addr != address)
            return -(1000 + (long)run->exit_reason);
        if (timestamps)
            timestamps[i] = now_ns();
        i++;
    }
    return count;
}

#define U64(base, off) (*(volatile uint64_t *)((base) + (off)))
#define U32(base, off) (*(volatile uint32_t *)((base) + (off)))

long cexit_fault_loop(const cexit_vcpu *v, cexit_fault_ctx *c, long count, uint64_t *timestamps,
                       cexit_timing *timing)
{
    struct kvm_run *run = v->run;
    uint8_t *m = c->message;
    uint64_t last = 0;
    for (long i = 0; i < count;) {
        if (timed_run(v, timing, &last) < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (run->exit_reason != KVM_EXIT_MMIO || run->mmio.phys_addr != c->doorbell)
            return -(1000 + (long)run->exit_reason);
        uint64_t seq = c->seq + 1, data = 0;
        memcpy(&data, run->mmio.data, 8);
        if (!run->mmio.is_write || run->mmio.len != 8 || data != seq)
            return -2001;
        /* The message is untrusted: check magic, version, kind and sequence number. */
        if (U32(m, NVH_MSG_OFF_MAGIC) != NVH_MSG_MAGIC || U32(m, NVH_MSG_OFF_VERSION) != NVH_MSG_VERSION ||
            U32(m, NVH_MSG_OFF_KIND) != NVH_KIND_TRAP || U64(m, NVH_MSG_OFF_SEQ) != seq)
            return -2002;
        if (timestamps)
            timestamps[i] = now_ns();
        /* HPFAR_EL2.FIPA = IPA[55:12] in bits [47:4] (we take [43:4], bit 63 is NS). */
        uint64_t ipa = ((U64(m, NVH_MSG_OFF_HPFAR) >> 4) & ((1ull << 40) - 1)) << 12;
        uint64_t page = (ipa - c->ipa_base) >> c->page_shift;
        if (ipa < c->ipa_base || page >= (uint64_t)c->pages)
            return -2003;
        *c->descriptor[page] = c->value[page];
        U64(m, NVH_RPL_OFF_TLBI) = NVH_TLBI_IPAS2E1IS;
        U64(m, NVH_RPL_OFF_TLBI + 8) = (ipa >> 12) | c->ttl_bits;
        U64(m, NVH_RPL_OFF_TLBI + 16) = NVH_TLBI_VMALLE1IS;
        U64(m, NVH_RPL_OFF_TLBI + 24) = 0;
        U64(m, NVH_RPL_OFF_TLBI_COUNT) = 2;
        U32(m, NVH_RPL_OFF_FLAGS) = 0;
        U32(m, NVH_RPL_OFF_ACTION) = NVH_ACTION_RESUME;
        U64(m, NVH_RPL_OFF_SEQ) = seq;
        c->seq = seq;
        i++;
    }
    return count;
}
