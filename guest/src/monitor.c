/*
 * nvharness vEL2 monitor: fills the message, rings the doorbell, validates the host's
 * reply and acts on it. Freestanding; no writable globals (state lives in the host's
 * config block and message page, found through TPIDR_EL2).
 *
 * vEL2 runs with its stage-1 MMU off, so every data access is Device-nGnRnE: all
 * accesses here are naturally aligned 32/64-bit ones (compiled with -mstrict-align).
 */
#include "mailbox.h"

typedef unsigned long u64;
typedef unsigned int u32;

/* payload.S */
void nvh_doorbell(u64 address, u64 seq);
u64 nvh_tlbi(u64 op, u64 operand);
void nvh_tlbi_begin(void);
void nvh_tlbi_end(void);
void nvh_halt(void) __attribute__((noreturn));
u64 nvh_read_esr_el2(void);
u64 nvh_read_far_el2(void);
u64 nvh_read_hpfar_el2(void);
u64 nvh_read_elr_el2(void);
u64 nvh_read_spsr_el2(void);
u64 nvh_read_hcr_el2(void);
u64 nvh_read_currentel(void);
u64 nvh_read_tpidr_el2(void);
u64 nvh_read_id_aa64mmfr0(void);
u64 nvh_read_id_aa64mmfr1(void);
u64 nvh_read_id_aa64mmfr2(void);
u64 nvh_read_id_aa64isar0(void);
u64 nvh_read_id_aa64mmfr4(void);
void nvh_write_elr_el2(u64);
void nvh_write_hcr_el2(u64);
void nvh_write_vtcr_el2(u64);
void nvh_write_vttbr_el2(u64);
void nvh_write_vncr_el2(u64);
u64 nvh_at_s12e1r(u64 va);
u64 nvh_at_s12e1w(u64 va);

#define U64(base, off) (*(volatile u64 *)((base) + (off)))
#define U32(base, off) (*(volatile u32 *)((base) + (off)))

/* ESR_EL2.EC for HVC from AArch64 (Arm ARM D24.2.43 ESR_EL2, EC 0b010110). */
#define EC_HVC64 0x16
/* Vector offset / 0x80: 8 = lower EL using AArch64, synchronous (Arm ARM D1.3.1). */
#define VECTOR_LOWER_A64_SYNC 8

static void halt_after(u64 msg, u64 cfg, u32 kind);

/* Sends the message (kind) and waits for the reply; returns the validated action
 * after applying its register writes and TLB maintenance. */
static u32 exchange(u64 cfg, u64 msg, u32 kind) {
    u64 seq = U64(msg, NVH_MSG_OFF_SEQ) + 1;
    U32(msg, NVH_MSG_OFF_MAGIC) = NVH_MSG_MAGIC;
    U32(msg, NVH_MSG_OFF_VERSION) = NVH_MSG_VERSION;
    U32(msg, NVH_MSG_OFF_KIND) = kind;
    U64(msg, NVH_MSG_OFF_SEQ) = seq;
    U64(msg, NVH_RPL_OFF_SEQ) = 0;
    U32(msg, NVH_RPL_OFF_ACTION) = 0;
    U32(msg, NVH_RPL_OFF_FLAGS) = 0;
    U64(msg, NVH_RPL_OFF_TLBI_COUNT) = 0;

    nvh_doorbell(U64(cfg, NVH_CFG_OFF_DOORBELL), seq);

    /* The host answered during the doorbell exit. */
    u32 action = U32(msg, NVH_RPL_OFF_ACTION);
    u32 flags = U32(msg, NVH_RPL_OFF_FLAGS);
    u64 count = U64(msg, NVH_RPL_OFF_TLBI_COUNT);
    if (U64(msg, NVH_RPL_OFF_SEQ) != seq || action < NVH_ACTION_RESUME || action > NVH_ACTION_TLBI_THEN_ACK ||
        count > NVH_RPL_TLBI_MAX ||
        (flags & ~(u32)(NVH_RPL_FLAG_VTTBR | NVH_RPL_FLAG_VTCR | NVH_RPL_FLAG_HCR | NVH_RPL_FLAG_GPRS |
                        NVH_RPL_FLAG_VNCR)) != 0)
        halt_after(msg, cfg, NVH_KIND_BAD_REPLY);

    /* Register writes first, so TLBIs that act on "the current VMID" see the new one. */
    if (flags & NVH_RPL_FLAG_VTCR) nvh_write_vtcr_el2(U64(msg, NVH_RPL_OFF_VTCR));
    if (flags & NVH_RPL_FLAG_VTTBR) nvh_write_vttbr_el2(U64(msg, NVH_RPL_OFF_VTTBR));
    if (flags & NVH_RPL_FLAG_HCR) nvh_write_hcr_el2(U64(msg, NVH_RPL_OFF_HCR));
    if (flags & NVH_RPL_FLAG_VNCR) nvh_write_vncr_el2(U64(msg, NVH_RPL_OFF_VNCR));

    if (count != 0) {
        nvh_tlbi_begin();
        for (u64 i = 0; i < count; i++) {
            u64 entry = msg + NVH_RPL_OFF_TLBI + i * NVH_RPL_TLBI_ENTRY_SIZE;
            if (nvh_tlbi(U64(entry, 0), U64(entry, 8)) != 0) halt_after(msg, cfg, NVH_KIND_BAD_REPLY);
        }
        nvh_tlbi_end();
    }
    return action;
}

/* Report kind (no reply expected to be acted on) and stop at vEL2. */
static void halt_after(u64 msg, u64 cfg, u32 kind) {
    u64 seq = U64(msg, NVH_MSG_OFF_SEQ) + 1;
    U32(msg, NVH_MSG_OFF_MAGIC) = NVH_MSG_MAGIC;
    U32(msg, NVH_MSG_OFF_VERSION) = NVH_MSG_VERSION;
    U32(msg, NVH_MSG_OFF_KIND) = kind;
    U64(msg, NVH_MSG_OFF_SEQ) = seq;
    nvh_doorbell(U64(cfg, NVH_CFG_OFF_DOORBELL), seq);
    nvh_halt();
}

static void fill_state(u64 msg, u32 vector, const u64 *frame) {
    U32(msg, NVH_MSG_OFF_VECTOR) = vector;
    U64(msg, NVH_MSG_OFF_ESR) = nvh_read_esr_el2();
    U64(msg, NVH_MSG_OFF_FAR) = nvh_read_far_el2();
    U64(msg, NVH_MSG_OFF_HPFAR) = nvh_read_hpfar_el2();
    U64(msg, NVH_MSG_OFF_ELR) = nvh_read_elr_el2();
    U64(msg, NVH_MSG_OFF_SPSR) = nvh_read_spsr_el2();
    U64(msg, NVH_MSG_OFF_OP_INDEX) = frame ? frame[19] : ~(u64)0;
    for (u32 i = 0; i < NVH_MSG_GPR_COUNT; i++)
        U64(msg, NVH_MSG_OFF_GPRS + i * 8) = frame ? frame[i] : 0;
}

/* NVH_CFG_FLAG_GARBAGE: the whole message page becomes xorshift32 words (Marsaglia 13/17/5;
 * the seed is made odd, so never 0), the doorbell carries 1 (what a first message carries, so
 * the host has to judge the page itself), then halt. */
static void send_garbage(u64 cfg, u64 msg) {
    u32 x = (u32)(U64(cfg, NVH_CFG_OFF_FLAGS) >> NVH_CFG_GARBAGE_SEED_SHIFT) | 1;
    for (u32 off = 0; off < NVH_MESSAGE_SIZE; off += 4) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        U32(msg, off) = x;
    }
    nvh_doorbell(U64(cfg, NVH_CFG_OFF_DOORBELL), 1);
    nvh_halt();
}

/* Called from nvh_el2_entry with the (validated) config; returns it. */
u64 nvh_el2_start(u64 cfg) {
    u64 msg = U64(cfg, NVH_CFG_OFF_MESSAGE);
    if (U64(cfg, NVH_CFG_OFF_FLAGS) & NVH_CFG_FLAG_GARBAGE) send_garbage(cfg, msg);
    u64 hcr_before = nvh_read_hcr_el2();
    u64 hcr = (hcr_before | U64(cfg, NVH_CFG_OFF_HCR_SET)) & ~U64(cfg, NVH_CFG_OFF_HCR_CLEAR);

    U64(msg, NVH_MSG_OFF_SEQ) = 0;
    nvh_write_vtcr_el2(U64(cfg, NVH_CFG_OFF_VTCR));
    nvh_write_vttbr_el2(U64(cfg, NVH_CFG_OFF_VTTBR));
    nvh_write_hcr_el2(hcr);
    /* Nothing cached for this VMID may survive from before (Arm ARM D8.13 TLB maintenance). */
    nvh_tlbi_begin();
    nvh_tlbi(NVH_TLBI_VMALLS12E1IS, 0);
    nvh_tlbi_end();

    if (U64(cfg, NVH_CFG_OFF_FLAGS) & NVH_CFG_FLAG_HELLO) {
        u64 regs[NVH_MSG_GPR_COUNT];
        for (u32 i = 0; i < NVH_MSG_GPR_COUNT; i++)
            regs[i] = 0;
        regs[0] = nvh_read_currentel();
        regs[1] = hcr_before;
        regs[2] = nvh_read_id_aa64mmfr0();
        regs[3] = nvh_read_id_aa64mmfr1();
        regs[4] = nvh_read_id_aa64mmfr2();
        regs[5] = nvh_read_hcr_el2();
        regs[6] = nvh_read_id_aa64isar0();
        regs[7] = nvh_read_id_aa64mmfr4();
        fill_state(msg, 0, regs);
        U64(msg, NVH_MSG_OFF_OP_INDEX) = ~(u64)0;
        u32 action = exchange(cfg, msg, NVH_KIND_HELLO);
        while (action == NVH_ACTION_TLBI_THEN_ACK)
            action = exchange(cfg, msg, NVH_KIND_ACK);
        if (action == NVH_ACTION_STOP) nvh_halt();
    }
    return cfg;
}

void nvh_el2_bad_config(u64 cfg) {
    (void)cfg; /* nothing in it can be trusted, not even the doorbell address */
}

/* Every vEL2 exception. frame = x0..x30 of the interrupted context (restored on return). */
void nvh_el2_exception(u64 vector, u64 *frame) {
    u64 cfg = nvh_read_tpidr_el2();
    u64 msg = U64(cfg, NVH_CFG_OFF_MESSAGE);
    u64 esr = nvh_read_esr_el2();
    u32 kind;

    if (vector == VECTOR_LOWER_A64_SYNC) {
        kind = NVH_KIND_TRAP;
        if ((esr >> 26) == EC_HVC64) {
            u64 imm = esr & 0xffff;
            /* Address translation for the nested guest: answered here, ELR_EL2 is past the hvc. */
            if (imm == NVH_HVC_AT_S12E1R || imm == NVH_HVC_AT_S12E1W) {
                frame[0] = imm == NVH_HVC_AT_S12E1R ? nvh_at_s12e1r(frame[0]) : nvh_at_s12e1w(frame[0]);
                return;
            }
            /* A load at vEL2 for the nested guest (MMU off: x0 is a guest-physical address). */
            if (imm == NVH_HVC_EL2_LOAD64) {
                frame[0] = U64(frame[0], 0);
                return;
            }
            if (imm == NVH_HVC_DONE)
                kind = NVH_KIND_DONE;
            else if (imm == NVH_HVC_EL1_EXCEPTION)
                kind = NVH_KIND_EL1_EXCEPTION;
            else if (imm == NVH_HVC_BAD_OP)
                kind = NVH_KIND_BAD_OP;
        }
    } else {
        kind = NVH_KIND_PANIC;
    }

    fill_state(msg, (u32)vector, frame);
    if (kind == NVH_KIND_PANIC) halt_after(msg, cfg, kind);

    u32 action = exchange(cfg, msg, kind);
    while (action == NVH_ACTION_TLBI_THEN_ACK)
        action = exchange(cfg, msg, NVH_KIND_ACK);

    if (U32(msg, NVH_RPL_OFF_FLAGS) & NVH_RPL_FLAG_GPRS)
        for (u32 i = 0; i < NVH_MSG_GPR_COUNT; i++)
            frame[i] = U64(msg, NVH_MSG_OFF_GPRS + i * 8);

    switch (action) {
    case NVH_ACTION_RESUME:
        break;
    case NVH_ACTION_SKIP:
        nvh_write_elr_el2(nvh_read_elr_el2() + 4);
        break;
    case NVH_ACTION_SET_ELR:
        nvh_write_elr_el2(U64(msg, NVH_RPL_OFF_ELR));
        break;
    default: /* NVH_ACTION_STOP */
        nvh_halt();
    }
}

/* The compiler may emit calls to these for aggregate copies; keep them byte-wise and
 * volatile so they cannot turn into calls to themselves. */
void *memset(void *d, int c, unsigned long n) {
    volatile unsigned char *p = d;
    while (n--)
        *p++ = (unsigned char)c;
    return d;
}

void *memcpy(void *d, const void *s, unsigned long n) {
    volatile unsigned char *p = d;
    const volatile unsigned char *q = s;
    while (n--)
        *p++ = *q++;
    return d;
}
