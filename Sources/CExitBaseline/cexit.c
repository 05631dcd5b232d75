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

/* KVM_GET_ONE_REG of a 64-bit register; 0 or -errno. */
static int get_one_reg(int fd, uint64_t id, uint64_t *value)
{
    struct kvm_one_reg reg = { .id = id, .addr = (uint64_t)(uintptr_t)value };
    return ioctl(fd, KVM_GET_ONE_REG, &reg) < 0 ? -errno : 0;
}

/* The leaf entry's host pointer for `ipa`, walking from the root through the pool, or NULL.
 * Stage-2 descriptors (Arm ARM D8.3 "Translation table descriptor formats"): bit 0 valid,
 * bit 1 table (levels 0-2) / page (level 3); next-level table address = bits [47:page_shift]. */
static uint64_t *walk_to_leaf(const cexit_fault_ctx *c, uint64_t ipa, long *why)
{
    unsigned stride = c->page_shift - 3;
    uint64_t table = c->root;
    for (int level = c->start_level; level <= 3; level++) {
        unsigned shift = c->page_shift + (unsigned)(3 - level) * stride;
        unsigned bits = level == c->start_level ? c->ipa_bits - shift : stride;
        uint64_t index = (ipa >> shift) & ((1ull << bits) - 1);
        uint64_t pa = table + index * 8;
        if (pa < c->pool_base || pa - c->pool_base > c->pool_size - 8) {
            *why = 1;
            return NULL;
        }
        uint64_t *entry = (uint64_t *)(c->pool_host + (pa - c->pool_base));
        if (level == 3)
            return entry;
        uint64_t d = *(volatile uint64_t *)entry;
        if ((d & 3) != 3) { /* the range's tables exist: a block or hole here is an error */
            *why = 2;
            return NULL;
        }
        table = d & ((1ull << 48) - 1) & ~((1ull << c->page_shift) - 1);
    }
    *why = 3;
    return NULL;
}

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
        /* The message is untrusted: magic, version, kind, vector, sequence number, op index. */
        if (U32(m, NVH_MSG_OFF_MAGIC) != NVH_MSG_MAGIC || U32(m, NVH_MSG_OFF_VERSION) != NVH_MSG_VERSION ||
            U32(m, NVH_MSG_OFF_KIND) != NVH_KIND_TRAP || U32(m, NVH_MSG_OFF_VECTOR) >= 16 ||
            U64(m, NVH_MSG_OFF_SEQ) != seq || U64(m, NVH_MSG_OFF_OP_INDEX) >= c->op_count)
            return -2002;
        uint64_t esr = U64(m, NVH_MSG_OFF_ESR), far = U64(m, NVH_MSG_OFF_FAR), hpfar = U64(m, NVH_MSG_OFF_HPFAR);
        if (c->cross_check) {
            uint64_t k[3];
            for (int r = 0; r < 3; r++)
                if (get_one_reg(v->fd, c->reg_ids[r], &k[r]) != 0)
                    return -2004;
            if (k[0] != esr || k[1] != far || k[2] != hpfar)
                return -2005;
        }
        if (timestamps)
            timestamps[i] = now_ns();
        /* ESR_EL2.EC (bits [31:26]) 0x24 = data abort from a lower EL; ISS.DFSC (bits [5:0])
         * 0b0001LL = translation fault at level LL (Arm ARM D24.2.40 ESR_EL2, ISS encoding for
         * an exception from a Data Abort). */
        if (((esr >> 26) & 0x3f) != 0x24 || (esr & 0x3c) != 0x04)
            return -2006;
        /* HPFAR_EL2.FIPA (bits [47:4]) = IPA[55:12]; the page offset comes from FAR_EL2. */
        uint64_t ipa = ((hpfar >> 4) & ((1ull << 44) - 1)) << 12 | (far & 0xfff);
        uint64_t page_size = 1ull << c->page_shift;
        uint64_t page_ipa = ipa & ~(page_size - 1);
        if (ipa >> c->ipa_bits || page_ipa < c->ipa_base || (page_ipa - c->ipa_base) >> c->page_shift >= (uint64_t)c->pages)
            return -2003;
        long why = 0;
        uint64_t *leaf = walk_to_leaf(c, page_ipa, &why);
        if (!leaf)
            return -(3000 + why);
        if (*(volatile uint64_t *)leaf & 1) /* already mapped: not a fresh map */
            return -3004;
        /* Level-3 page descriptor: output address | attributes | 0b11. */
        *(volatile uint64_t *)leaf = c->output_pa | c->leaf_attributes | 3;
        U64(m, NVH_RPL_OFF_TLBI) = NVH_TLBI_IPAS2E1IS;
        U64(m, NVH_RPL_OFF_TLBI + 8) = ((page_ipa >> 12) & 0xFFFFFFFFFull) | c->ttl_bits;
        U64(m, NVH_RPL_OFF_TLBI + 16) = NVH_TLBI_VMALLE1IS;
        U64(m, NVH_RPL_OFF_TLBI + 24) = 0;
        U64(m, NVH_RPL_OFF_TLBI_COUNT) = 2;
        U64(m, NVH_RPL_OFF_ELR) = 0;
        U64(m, NVH_RPL_OFF_VTTBR) = 0;
        U64(m, NVH_RPL_OFF_VTCR) = 0;
        U64(m, NVH_RPL_OFF_HCR) = 0;
        U32(m, NVH_RPL_OFF_FLAGS) = 0;
        U32(m, NVH_RPL_OFF_ACTION) = NVH_ACTION_RESUME;
        U64(m, NVH_RPL_OFF_SEQ) = seq;
        c->seq = seq;
        i++;
    }
    return count;
}
