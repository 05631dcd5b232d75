/*
 * nvharness guest <-> host ABI (mirror of Sources/GuestProtocol/GuestProtocolABI.swift).
 *
 * Only `#define NVH_<NAME> <number>` lines: the file is included by the payload's
 * assembly and C, and Tests/GuestProtocolTests parses it and pins every value to the
 * Swift definition. All fields are little-endian; offsets are in bytes.
 */
#ifndef NVH_MAILBOX_H
#define NVH_MAILBOX_H

/* ---- Payload image header (at image offset 0) ---- */
#define NVH_IMAGE_MAGIC            0x444C594150484E56 /* "VNHPAYLD" little-endian bytes */
#define NVH_IMAGE_VERSION          1
#define NVH_IMAGE_OFF_MAGIC        0x08
#define NVH_IMAGE_OFF_VERSION      0x10
#define NVH_IMAGE_OFF_HEADER_SIZE  0x14
#define NVH_IMAGE_OFF_EL2_ENTRY    0x18
#define NVH_IMAGE_OFF_NESTED_ENTRY 0x20
#define NVH_IMAGE_OFF_EL2_VECTORS  0x28
#define NVH_IMAGE_OFF_EL1_VECTORS  0x30
#define NVH_IMAGE_HEADER_SIZE      0x38
/* Load the image at an address aligned to this (adrp-relative code, 2 KiB vectors). */
#define NVH_IMAGE_ALIGNMENT 0x10000

/* ---- Configuration block (host writes it; x0 at vEL2 entry points to it) ---- */
#define NVH_CONFIG_MAGIC      0x4E564843 /* "CHVN" */
#define NVH_CONFIG_VERSION    2
#define NVH_CFG_OFF_MAGIC     0
#define NVH_CFG_OFF_VERSION   4
#define NVH_CFG_OFF_FLAGS     8
#define NVH_CFG_OFF_DOORBELL  16
#define NVH_CFG_OFF_MESSAGE   24
#define NVH_CFG_OFF_EL2_SP    32
#define NVH_CFG_OFF_VTCR      40
#define NVH_CFG_OFF_VTTBR     48
#define NVH_CFG_OFF_HCR_SET   56
#define NVH_CFG_OFF_HCR_CLEAR 64
#define NVH_CFG_OFF_NESTED_SP 72
#define NVH_CFG_OFF_OPS       80
#define NVH_CFG_OFF_OP_COUNT  88
#define NVH_CFG_OFF_RESULTS   96
#define NVH_CONFIG_SIZE       104
/* Config flags */
#define NVH_CFG_FLAG_HELLO 0x1 /* send a HELLO message before entering the nested guest */
/* Host self-test: instead of HELLO, fill the message page with xorshift32 words seeded with
 * flags[63:32], ring the doorbell with sequence number 1, and halt. */
#define NVH_CFG_FLAG_GARBAGE       0x2
#define NVH_CFG_GARBAGE_SEED_SHIFT 32

/* ---- Message (payload -> host), one per vCPU, in RAM ---- */
#define NVH_MSG_MAGIC        0x4D48564E /* "NVHM" */
#define NVH_MSG_VERSION      1
#define NVH_MSG_OFF_MAGIC    0
#define NVH_MSG_OFF_VERSION  4
#define NVH_MSG_OFF_KIND     8
#define NVH_MSG_OFF_VECTOR   12
#define NVH_MSG_OFF_SEQ      16
#define NVH_MSG_OFF_ESR      24
#define NVH_MSG_OFF_FAR      32
#define NVH_MSG_OFF_HPFAR    40
#define NVH_MSG_OFF_ELR      48
#define NVH_MSG_OFF_SPSR     56
#define NVH_MSG_OFF_OP_INDEX 64
#define NVH_MSG_OFF_GPRS     72 /* x0..x30 of the trapped context, 31 x 8 bytes */
#define NVH_MSG_GPR_COUNT    31
/* ---- Reply (host -> payload), same page, written during the doorbell exit ---- */
#define NVH_RPL_OFF_SEQ         320 /* must equal the message's seq */
#define NVH_RPL_OFF_ACTION      328
#define NVH_RPL_OFF_FLAGS       332
#define NVH_RPL_OFF_ELR         336
#define NVH_RPL_OFF_VTTBR       344
#define NVH_RPL_OFF_VTCR        352
#define NVH_RPL_OFF_HCR         360
#define NVH_RPL_OFF_TLBI_COUNT  368 /* u64 */
#define NVH_RPL_OFF_TLBI        376 /* NVH_RPL_TLBI_MAX x {u64 op, u64 operand} */
#define NVH_RPL_TLBI_ENTRY_SIZE 16
#define NVH_RPL_TLBI_MAX        16
#define NVH_RPL_OFF_VNCR        632 /* VNCR_EL2 (FEAT_NV2), with NVH_RPL_FLAG_VNCR */
#define NVH_MESSAGE_SIZE        640

/* Message kinds */
/* vEL2 up; x0=CurrentEL x1=HCR_EL2 x2=ID_AA64MMFR0_EL1 x3=ID_AA64MMFR1_EL1 x4=ID_AA64MMFR2_EL1
 * x5=HCR_EL2 now x6=ID_AA64ISAR0_EL1 x7=ID_AA64MMFR4_EL1 */
#define NVH_KIND_HELLO 1
#define NVH_KIND_TRAP  2 /* synchronous exception from the nested guest taken to vEL2 */
#define NVH_KIND_DONE  3 /* nested guest finished its op list (hvc #NVH_HVC_DONE) */
/* nested guest took an exception at EL1; x0=ESR_EL1 x1=FAR_EL1 x2=ELR_EL1 x3=SPSR_EL1 x4=vector */
#define NVH_KIND_EL1_EXCEPTION 4
#define NVH_KIND_BAD_OP        5 /* op list entry with an unknown kind (x0 = kind) */
#define NVH_KIND_ACK           6 /* TLBIs of a TLBI_THEN_ACK reply done */
#define NVH_KIND_PANIC         7 /* exception at vEL2 itself, or a lower-EL IRQ/FIQ/SError */
#define NVH_KIND_BAD_REPLY     8 /* host reply failed validation; payload halts */
#define NVH_KIND_BAD_CONFIG    9 /* config magic/version wrong; payload halts */

/* Reply actions */
#define NVH_ACTION_RESUME        1 /* eret with ELR_EL2 as is (retries an abort; continues after hvc) */
#define NVH_ACTION_SKIP          2 /* ELR_EL2 += 4, eret */
#define NVH_ACTION_SET_ELR       3 /* ELR_EL2 = reply ELR, eret */
#define NVH_ACTION_STOP          4 /* halt at vEL2 */
#define NVH_ACTION_TLBI_THEN_ACK 5 /* do the TLBIs, then send ACK and wait for the next reply */

/* Reply flags (register writes are applied before the TLBIs, GPRS after them) */
#define NVH_RPL_FLAG_VTTBR 0x1
#define NVH_RPL_FLAG_VTCR  0x2
#define NVH_RPL_FLAG_HCR   0x4
#define NVH_RPL_FLAG_GPRS  0x8 /* reload x0..x30 from the message's GPR area */
#define NVH_RPL_FLAG_VNCR  0x10

/* TLB maintenance operations (payload issues dsb ishst; tlbi...; dsb ish; isb) */
#define NVH_TLBI_IPAS2E1IS    1 /* operand = Xt (IPA>>12, TTL) */
#define NVH_TLBI_IPAS2LE1IS   2
#define NVH_TLBI_IPAS2E1      3
#define NVH_TLBI_VMALLE1IS    4
#define NVH_TLBI_VMALLS12E1IS 5
#define NVH_TLBI_VMALLS12E1   6
#define NVH_TLBI_ALLE1IS      7
#define NVH_TLBI_RIPAS2E1IS   8 /* FEAT_TLBIRANGE; operand = range Xt */

/* ---- Op list (host writes; nested EL1 guest interprets) ---- */
#define NVH_OP_SIZE               32
#define NVH_OP_OFF_KIND           0 /* u32: kind in [15:0], flags above */
#define NVH_OP_KIND_MASK          0xFFFF
#define NVH_OP_FLAG_CHECK         0x10000 /* compare x11 with the op's value after every repetition */
#define NVH_OP_OFF_REPEAT         4       /* u32, 0 means 1 */
#define NVH_OP_OFF_ADDRESS        8       /* IPA (stage 1 off) or VA */
#define NVH_OP_OFF_VALUE          16
#define NVH_OP_OFF_AUX            24
#define NVH_RESULT_SIZE           32
#define NVH_RESULT_OFF_VALUE      0  /* last value produced by the op */
#define NVH_RESULT_OFF_COUNT      8  /* repetitions completed */
#define NVH_RESULT_OFF_MISMATCHES 16 /* NVH_OP_FLAG_CHECK: repetitions whose x11 differed from the value */
/* NVH_OP_FLAG_CHECK: 1-based repetition of the first one (0: none) */
#define NVH_RESULT_OFF_FIRST_MISMATCH 24

/* Op kinds. Fixed registers keep ESR_EL2.ISS.SRT predictable:
 * x10 = address, x11 = loaded / compare / result value, x12 = value to store, x13 = aux,
 * x19 = current op index (reported as the message's op index). */
#define NVH_OP_NOP          0
#define NVH_OP_LOAD8        1  /* ldrb w11, [x10] */
#define NVH_OP_LOAD16       2  /* ldrh w11, [x10] */
#define NVH_OP_LOAD32       3  /* ldr  w11, [x10] */
#define NVH_OP_LOAD64       4  /* ldr  x11, [x10] */
#define NVH_OP_STORE8       5  /* strb w12, [x10] */
#define NVH_OP_STORE16      6  /* strh w12, [x10] */
#define NVH_OP_STORE32      7  /* str  w12, [x10] */
#define NVH_OP_STORE64      8  /* str  x12, [x10] */
#define NVH_OP_EXEC         9  /* ic iallu; dsb ish; isb; x0 = value; blr x10; result = x0 */
#define NVH_OP_HVC          10 /* x0 = value; hvc #NVH_HVC_OP; result = x0 */
#define NVH_OP_SMC          11 /* x0 = value; smc #0; result = x0 */
#define NVH_OP_LDADD64      12 /* ldadd x12, x11, [x10] (FEAT_LSE) */
#define NVH_OP_CAS64        13 /* x11 = aux; cas x11, x12, [x10] (FEAT_LSE) */
#define NVH_OP_SYSREG_WRITE 14 /* aux = NVH_SYSREG_*; write value; isb */
#define NVH_OP_SYSREG_READ  15 /* aux = NVH_SYSREG_*; result = register */
#define NVH_OP_TLBI_VMALLE1 16 /* dsb ishst; tlbi vmalle1; dsb nsh; isb */
#define NVH_OP_BARRIER      17 /* dsb sy; isb */
#define NVH_OP_LDAR64       18 /* ldar x11, [x10] */
#define NVH_OP_WATCH64      19 /* watch x10 while another vCPU remaps it (below) */
/* x0 = x10; hvc #NVH_HVC_AT_S12E1R: vEL2 runs AT S12E1R x0 and returns PAR_EL1 in x0; result = x0 */
#define NVH_OP_AT_S12E1R 20
#define NVH_OP_AT_S12E1W 21 /* the same with AT S12E1W */
/* x0 = x10; hvc #NVH_HVC_EL2_LOAD64: vEL2 loads 64 bits at x0 (its own regime, MMU off) into x0 */
#define NVH_OP_EL2_LOAD64 22
#define NVH_OP_KIND_COUNT 23

/* WATCH64: x10 = watched address, x12 = flag address, x13 = record address, repeat = reads to
 * make once the flag reads >= 2. First read: ldr x11, [x10], then the record's READS = 1 (the
 * host waits for it). Then each read: ldar x14, [x12]; dsb ish; isb; ldr x11, [x10] (x14, the
 * flag that read saw, is in a TRAP's GPRs). Result value = last read, count = reads. */
#define NVH_WATCH_OFF_FIRST   0  /* the first value read */
#define NVH_WATCH_OFF_SECOND  8  /* the value after the first change (0: none) */
#define NVH_WATCH_OFF_CHANGES 16 /* reads that differed from the read before */
#define NVH_WATCH_OFF_STALE   24 /* reads of the first value after the flag read >= 1 */
#define NVH_WATCH_OFF_READS   32 /* reads made */
#define NVH_WATCH_OFF_FLAGGED 40 /* reads after the flag read >= 1 */
#define NVH_WATCH_SIZE        48

/* Sysreg selectors for SYSREG_WRITE / SYSREG_READ (EL1 registers of the nested guest) */
#define NVH_SYSREG_SCTLR_EL1 0
#define NVH_SYSREG_TCR_EL1   1
#define NVH_SYSREG_TTBR0_EL1 2
#define NVH_SYSREG_TTBR1_EL1 3
#define NVH_SYSREG_MAIR_EL1  4
/* An EL2 register: at EL1 only with HCR_EL2.NV = 1; with NV2 = 1 it is VNCR page offset 0x90 */
#define NVH_SYSREG_TPIDR_EL2 5
#define NVH_SYSREG_COUNT     6

/* hvc immediates the payload reserves */
#define NVH_HVC_OP            0x0001
#define NVH_HVC_DONE          0xD0DE
#define NVH_HVC_EL1_EXCEPTION 0xE1E1
#define NVH_HVC_BAD_OP        0x0BAD
/* Answered at vEL2 without a message: AT S12E1R/W of x0, PAR_EL1 back in x0 */
#define NVH_HVC_AT_S12E1R 0xA712
#define NVH_HVC_AT_S12E1W 0xA713
/* Answered at vEL2 without a message: 64-bit load of x0 at vEL2, the value back in x0 */
#define NVH_HVC_EL2_LOAD64 0xE210

/* vEL2 stack frame built by the vectors: x0..x30 (+ pad) */
#define NVH_FRAME_SIZE 256

#endif
