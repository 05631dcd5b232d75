/*
 * nvharness vEL2 payload: image header, vEL2 entry and vectors, and the nested EL1
 * op-list interpreter. The decisions (message, reply, TLB maintenance) are in monitor.c.
 *
 * Position independent: only PC-relative addressing (adr/adrp/b/bl); the host may load
 * the image at any NVH_IMAGE_ALIGNMENT-aligned address. Everything lives in one section
 * so the header can hold label differences. No writable data: all state is in the
 * host-provided config block, message page and stacks.
 */
#include "mailbox.h"

    .arch armv8.1-a           /* LDADD/CAS are only executed when an op asks for them */
    .section .text.nvh, "ax"
    .global nvh_image_start
nvh_image_start:
    b       nvh_el2_entry
    .word   0
    .quad   NVH_IMAGE_MAGIC
    .word   NVH_IMAGE_VERSION
    .word   NVH_IMAGE_HEADER_SIZE
    .quad   nvh_el2_entry - nvh_image_start
    .quad   nvh_nested_entry - nvh_image_start
    .quad   nvh_el2_vectors - nvh_image_start
    .quad   nvh_el1_vectors - nvh_image_start
    .if (. - nvh_image_start) != NVH_IMAGE_HEADER_SIZE
    .error "image header size mismatch"
    .endif

/*
 * vEL2 entry. x0 = config block (host-written). PSTATE = EL2h, DAIF masked.
 */
nvh_el2_entry:
    msr     tpidr_el2, x0
    ldr     w1, [x0, #NVH_CFG_OFF_MAGIC]
    movz    w2, #(NVH_CONFIG_MAGIC & 0xffff)
    movk    w2, #(NVH_CONFIG_MAGIC >> 16), lsl #16
    cmp     w1, w2
    b.ne    nvh_bad_config
    ldr     w1, [x0, #NVH_CFG_OFF_VERSION]
    cmp     w1, #NVH_CONFIG_VERSION
    b.ne    nvh_bad_config
    ldr     x1, [x0, #NVH_CFG_OFF_EL2_SP]
    mov     sp, x1
    adr     x1, nvh_el2_vectors
    msr     vbar_el2, x1
    isb
    bl      nvh_el2_start          /* C: HELLO, VTCR/VTTBR/HCR; returns the config in x0 */
    /* Nested EL1 guest: x0 = ops, x1 = count, x2 = results, x3 = nested SP */
    mov     x9, x0
    ldr     x3, [x9, #NVH_CFG_OFF_NESTED_SP]
    ldr     x2, [x9, #NVH_CFG_OFF_RESULTS]
    ldr     x1, [x9, #NVH_CFG_OFF_OP_COUNT]
    ldr     x0, [x9, #NVH_CFG_OFF_OPS]
    adr     x10, nvh_nested_entry
    msr     elr_el2, x10
    mov     x10, #0x3c5             /* SPSR_EL2: M = EL1h, DAIF masked (Arm ARM C5.2.19) */
    msr     spsr_el2, x10
    mov     x9, #0
    mov     x10, #0
    isb
    eret

nvh_bad_config:
    bl      nvh_el2_bad_config     /* C: reports if the message address can be trusted */
1:  wfi
    b       1b

/*
 * vEL2 vectors (VBAR_EL2; Arm ARM D1.3.x "Exception vectors"): 16 entries of 0x80 bytes.
 * Each saves x0/x1, passes its index in x0 and the frame in x1 to the common path.
 */
.macro EL2_VECTOR index
    .balign 0x80
    sub     sp, sp, #NVH_FRAME_SIZE
    stp     x0, x1, [sp, #0]
    mov     x0, #\index
    b       nvh_el2_common
.endm

    .balign 0x800
nvh_el2_vectors:
    EL2_VECTOR 0
    EL2_VECTOR 1
    EL2_VECTOR 2
    EL2_VECTOR 3
    EL2_VECTOR 4
    EL2_VECTOR 5
    EL2_VECTOR 6
    EL2_VECTOR 7
    EL2_VECTOR 8
    EL2_VECTOR 9
    EL2_VECTOR 10
    EL2_VECTOR 11
    EL2_VECTOR 12
    EL2_VECTOR 13
    EL2_VECTOR 14
    EL2_VECTOR 15

nvh_el2_common:
    stp     x2, x3, [sp, #16]
    stp     x4, x5, [sp, #32]
    stp     x6, x7, [sp, #48]
    stp     x8, x9, [sp, #64]
    stp     x10, x11, [sp, #80]
    stp     x12, x13, [sp, #96]
    stp     x14, x15, [sp, #112]
    stp     x16, x17, [sp, #128]
    stp     x18, x19, [sp, #144]
    stp     x20, x21, [sp, #160]
    stp     x22, x23, [sp, #176]
    stp     x24, x25, [sp, #192]
    stp     x26, x27, [sp, #208]
    stp     x28, x29, [sp, #224]
    str     x30, [sp, #240]
    mov     x1, sp
    bl      nvh_el2_exception      /* C: report, wait for the reply, act on it */
    ldp     x2, x3, [sp, #16]
    ldp     x4, x5, [sp, #32]
    ldp     x6, x7, [sp, #48]
    ldp     x8, x9, [sp, #64]
    ldp     x10, x11, [sp, #80]
    ldp     x12, x13, [sp, #96]
    ldp     x14, x15, [sp, #112]
    ldp     x16, x17, [sp, #128]
    ldp     x18, x19, [sp, #144]
    ldp     x20, x21, [sp, #160]
    ldp     x22, x23, [sp, #176]
    ldp     x24, x25, [sp, #192]
    ldp     x26, x27, [sp, #208]
    ldp     x28, x29, [sp, #224]
    ldr     x30, [sp, #240]
    ldp     x0, x1, [sp, #0]
    add     sp, sp, #NVH_FRAME_SIZE
    eret

/* The doorbell: one 64-bit store of the sequence number to the unbacked MMIO page. */
    .global nvh_doorbell
nvh_doorbell:                        /* x0 = doorbell address, x1 = seq */
    dsb     sy
    str     x1, [x0]
    dsb     sy
    ret

/* TLB maintenance by code; x0 = NVH_TLBI_*, x1 = operand. Returns 0, or 1 if unknown.
 * The caller brackets a batch with nvh_tlbi_begin / nvh_tlbi_end. */
    .global nvh_tlbi
nvh_tlbi:
    cmp     x0, #NVH_TLBI_IPAS2E1IS
    b.ne    1f
    tlbi    ipas2e1is, x1
    b       9f
1:  cmp     x0, #NVH_TLBI_IPAS2LE1IS
    b.ne    2f
    tlbi    ipas2le1is, x1
    b       9f
2:  cmp     x0, #NVH_TLBI_IPAS2E1
    b.ne    3f
    tlbi    ipas2e1, x1
    b       9f
3:  cmp     x0, #NVH_TLBI_VMALLE1IS
    b.ne    4f
    tlbi    vmalle1is
    b       9f
4:  cmp     x0, #NVH_TLBI_VMALLS12E1IS
    b.ne    5f
    tlbi    vmalls12e1is
    b       9f
5:  cmp     x0, #NVH_TLBI_VMALLS12E1
    b.ne    6f
    tlbi    vmalls12e1
    b       9f
6:  cmp     x0, #NVH_TLBI_ALLE1IS
    b.ne    7f
    tlbi    alle1is
    b       9f
7:  cmp     x0, #NVH_TLBI_RIPAS2E1IS
    b.ne    8f
    .arch_extension tlb-rmi
    tlbi    ripas2e1is, x1
    b       9f
8:  mov     x0, #1
    ret
9:  mov     x0, #0
    ret

    .global nvh_tlbi_begin
nvh_tlbi_begin:
    dsb     ishst
    ret
    .global nvh_tlbi_end
nvh_tlbi_end:
    dsb     ish
    isb
    ret

/* System-register access for the C monitor (names must be literal in mrs/msr). */
.macro SYSREG_GETTER name, reg
    .global \name
\name:
    mrs     x0, \reg
    ret
.endm
.macro SYSREG_SETTER name, reg
    .global \name
\name:
    msr     \reg, x0
    isb
    ret
.endm
    SYSREG_GETTER nvh_read_esr_el2, esr_el2
    SYSREG_GETTER nvh_read_far_el2, far_el2
    SYSREG_GETTER nvh_read_hpfar_el2, hpfar_el2
    SYSREG_GETTER nvh_read_elr_el2, elr_el2
    SYSREG_GETTER nvh_read_spsr_el2, spsr_el2
    SYSREG_GETTER nvh_read_hcr_el2, hcr_el2
    SYSREG_GETTER nvh_read_currentel, currentel
    SYSREG_GETTER nvh_read_tpidr_el2, tpidr_el2
    SYSREG_GETTER nvh_read_id_aa64mmfr0, id_aa64mmfr0_el1
    SYSREG_GETTER nvh_read_id_aa64mmfr1, id_aa64mmfr1_el1
    SYSREG_GETTER nvh_read_id_aa64mmfr2, id_aa64mmfr2_el1
    SYSREG_GETTER nvh_read_id_aa64isar0, id_aa64isar0_el1
    SYSREG_GETTER nvh_read_id_aa64mmfr4, s3_0_c0_c7_4      /* ID_AA64MMFR4_EL1 (Arm ARM D24.2) */
    SYSREG_SETTER nvh_write_elr_el2, elr_el2
    SYSREG_SETTER nvh_write_hcr_el2, hcr_el2
    SYSREG_SETTER nvh_write_vtcr_el2, vtcr_el2
    SYSREG_SETTER nvh_write_vttbr_el2, vttbr_el2
    SYSREG_SETTER nvh_write_vncr_el2, s3_4_c2_c2_0        /* VNCR_EL2 (FEAT_NV2, Arm ARM D24.2) */

/* Address translation of the nested guest's regime (EL1&0, both stages); returns PAR_EL1. */
    .global nvh_at_s12e1r
nvh_at_s12e1r:
    at      s12e1r, x0
    isb
    mrs     x0, par_el1
    ret
    .global nvh_at_s12e1w
nvh_at_s12e1w:
    at      s12e1w, x0
    isb
    mrs     x0, par_el1
    ret

    .global nvh_halt
nvh_halt:
1:  wfi
    b       1b

/* ======================================================================
 * Nested EL1 guest: op-list interpreter.
 * In: x0 = ops, x1 = op count, x2 = results, x3 = SP (0: leave SP_EL1 alone).
 * Registers: x19 op index, x20 ops, x21 count, x22 results, x23 op pointer,
 * x24 repeat count, x25 repetitions done, x10 address, x11 loaded/result,
 * x12 value, x13 aux, x26 op flags, x27 mismatches, x28 first mismatching repetition.
 * ====================================================================== */
nvh_nested_entry:
    adr     x9, nvh_el1_vectors
    msr     vbar_el1, x9
    isb
    cbz     x3, 1f
    mov     sp, x3
1:  mov     x20, x0
    mov     x21, x1
    mov     x22, x2
    mov     x19, #0
op_next:
    cmp     x19, x21
    b.hs    op_done
    add     x23, x20, x19, lsl #5
    ldr     w9, [x23, #NVH_OP_OFF_KIND]
    mov     w26, w9                   /* flags: NVH_OP_FLAG_CHECK is bit 16 */
    and     w9, w9, #NVH_OP_KIND_MASK
    ldr     w24, [x23, #NVH_OP_OFF_REPEAT]
    cbnz    w24, 1f
    mov     w24, #1
1:  mov     x25, #0
    mov     x27, #0
    mov     x28, #0
    mov     x11, #0
op_repeat:
    ldr     x10, [x23, #NVH_OP_OFF_ADDRESS]
    ldr     x12, [x23, #NVH_OP_OFF_VALUE]
    ldr     x13, [x23, #NVH_OP_OFF_AUX]
    cmp     w9, #NVH_OP_KIND_COUNT
    b.hs    op_bad
    adr     x14, op_table
    add     x14, x14, x9, lsl #2
    br      x14
op_table:
    b       op_nop
    b       op_load8
    b       op_load16
    b       op_load32
    b       op_load64
    b       op_store8
    b       op_store16
    b       op_store32
    b       op_store64
    b       op_exec
    b       op_hvc
    b       op_smc
    b       op_ldadd
    b       op_cas
    b       op_sysreg_write
    b       op_sysreg_read
    b       op_tlbi_vmalle1
    b       op_barrier
    b       op_ldar
    b       op_watch
    b       op_at_s12e1r
    b       op_at_s12e1w
    b       op_el2_load64
    .if (. - op_table) != (NVH_OP_KIND_COUNT * 4)
    .error "op table does not match NVH_OP_KIND_COUNT"
    .endif

op_nop:
    b       op_finish
op_load8:
    ldrb    w11, [x10]
    b       op_finish
op_load16:
    ldrh    w11, [x10]
    b       op_finish
op_load32:
    ldr     w11, [x10]
    b       op_finish
op_load64:
    ldr     x11, [x10]
    b       op_finish
op_store8:
    strb    w12, [x10]
    b       op_finish
op_store16:
    strh    w12, [x10]
    b       op_finish
op_store32:
    str     w12, [x10]
    b       op_finish
op_store64:
    str     x12, [x10]
    b       op_finish
op_exec:
    ic      iallu
    dsb     ish
    isb
    mov     x0, x12
    blr     x10
    mov     x11, x0
    b       op_finish
op_hvc:
    mov     x0, x12
    hvc     #NVH_HVC_OP
    mov     x11, x0
    b       op_finish
op_smc:
    mov     x0, x12
    smc     #0
    mov     x11, x0
    b       op_finish
op_ldadd:
    ldadd   x12, x11, [x10]
    b       op_finish
op_cas:
    mov     x11, x13
    cas     x11, x12, [x10]
    b       op_finish
op_ldar:
    ldar    x11, [x10]
    b       op_finish
/* WATCH64 (mailbox.h). x15 first, x16 previous, x17 second, x18 changes, x5 stale,
 * x6 reads, x7 flagged, x8 reads left once the flag reads >= 2. */
op_watch:
    mov     x14, #0
    ldr     x11, [x10]
    mov     x15, x11
    mov     x16, x11
    mov     x17, #0
    mov     x18, #0
    mov     x5, #0
    mov     x6, #1
    mov     x7, #0
    mov     x8, x24
    str     x6, [x13, #NVH_WATCH_OFF_READS]    /* the host waits for the first read */
1:  ldar    x14, [x12]
    dsb     ish                                /* the walk for the next load comes after the flag read */
    isb
    ldr     x11, [x10]
    add     x6, x6, #1
    cbz     x14, 3f
    add     x7, x7, #1
    cmp     x11, x15
    b.ne    2f
    add     x5, x5, #1                         /* the first value after the flag: stale */
2:  cmp     x14, #2
    b.lo    3f
    sub     x8, x8, #1
3:  cmp     x11, x16
    b.eq    4f
    add     x18, x18, #1
    mov     x16, x11
    cmp     x18, #1
    b.ne    4f
    mov     x17, x11
4:  cbnz    x8, 1b
    str     x15, [x13, #NVH_WATCH_OFF_FIRST]
    str     x17, [x13, #NVH_WATCH_OFF_SECOND]
    str     x18, [x13, #NVH_WATCH_OFF_CHANGES]
    str     x5, [x13, #NVH_WATCH_OFF_STALE]
    str     x6, [x13, #NVH_WATCH_OFF_READS]
    str     x7, [x13, #NVH_WATCH_OFF_FLAGGED]
    add     x14, x22, x19, lsl #5
    str     x11, [x14, #NVH_RESULT_OFF_VALUE]
    str     x6, [x14, #NVH_RESULT_OFF_COUNT]
    str     xzr, [x14, #NVH_RESULT_OFF_MISMATCHES]     /* the record holds what it found */
    str     xzr, [x14, #NVH_RESULT_OFF_FIRST_MISMATCH]
    add     x19, x19, #1
    b       op_next
/* AT S12E1R/W needs EL2 (Arm ARM C5.4): the vEL2 monitor runs it and returns PAR_EL1. */
op_at_s12e1r:
    mov     x0, x10
    hvc     #NVH_HVC_AT_S12E1R
    mov     x11, x0
    b       op_finish
op_at_s12e1w:
    mov     x0, x10
    hvc     #NVH_HVC_AT_S12E1W
    mov     x11, x0
    b       op_finish
/* A load at vEL2 (e.g. of its VNCR page), answered by the monitor without a message. */
op_el2_load64:
    mov     x0, x10
    hvc     #NVH_HVC_EL2_LOAD64
    mov     x11, x0
    b       op_finish
op_tlbi_vmalle1:
    dsb     ishst
    tlbi    vmalle1
    dsb     nsh
    isb
    b       op_finish
op_barrier:
    dsb     sy
    isb
    b       op_finish
op_sysreg_write:
    cmp     x13, #NVH_SYSREG_SCTLR_EL1
    b.ne    1f
    msr     sctlr_el1, x12
    b       2f
1:  cmp     x13, #NVH_SYSREG_TCR_EL1
    b.ne    1f
    msr     tcr_el1, x12
    b       2f
1:  cmp     x13, #NVH_SYSREG_TTBR0_EL1
    b.ne    1f
    msr     ttbr0_el1, x12
    b       2f
1:  cmp     x13, #NVH_SYSREG_TTBR1_EL1
    b.ne    1f
    msr     ttbr1_el1, x12
    b       2f
1:  cmp     x13, #NVH_SYSREG_MAIR_EL1
    b.ne    1f
    msr     mair_el1, x12
    b       2f
1:  cmp     x13, #NVH_SYSREG_TPIDR_EL2
    b.ne    op_bad
    msr     tpidr_el2, x12          /* HCR_EL2.{NV, NV2} = {1, 1}: a store to the VNCR page */
2:  isb
    mov     x11, x12
    b       op_finish
op_sysreg_read:
    cmp     x13, #NVH_SYSREG_SCTLR_EL1
    b.ne    1f
    mrs     x11, sctlr_el1
    b       op_finish
1:  cmp     x13, #NVH_SYSREG_TCR_EL1
    b.ne    1f
    mrs     x11, tcr_el1
    b       op_finish
1:  cmp     x13, #NVH_SYSREG_TTBR0_EL1
    b.ne    1f
    mrs     x11, ttbr0_el1
    b       op_finish
1:  cmp     x13, #NVH_SYSREG_TTBR1_EL1
    b.ne    1f
    mrs     x11, ttbr1_el1
    b       op_finish
1:  cmp     x13, #NVH_SYSREG_MAIR_EL1
    b.ne    1f
    mrs     x11, mair_el1
    b       op_finish
1:  cmp     x13, #NVH_SYSREG_TPIDR_EL2
    b.ne    op_bad
    mrs     x11, tpidr_el2          /* HCR_EL2.{NV, NV2} = {1, 1}: a load from the VNCR page */
    b       op_finish

op_finish:
    add     x25, x25, #1
    tbz     w26, #16, 1f              /* NVH_OP_FLAG_CHECK: every repetition must load the value */
    ldr     x12, [x23, #NVH_OP_OFF_VALUE]
    cmp     x11, x12
    b.eq    1f
    cbnz    x27, 2f
    mov     x28, x25
2:  add     x27, x27, #1
1:  add     x14, x22, x19, lsl #5
    str     x11, [x14, #NVH_RESULT_OFF_VALUE]
    str     x25, [x14, #NVH_RESULT_OFF_COUNT]
    str     x27, [x14, #NVH_RESULT_OFF_MISMATCHES]
    str     x28, [x14, #NVH_RESULT_OFF_FIRST_MISMATCH]
    cmp     x25, x24
    b.lo    op_repeat
    add     x19, x19, #1
    b       op_next

op_bad:                               /* x0 = kind, x1 = aux; host normally stops */
    mov     x0, x9
    mov     x1, x13
    hvc     #NVH_HVC_BAD_OP
    add     x19, x19, #1
    b       op_next

op_done:
    hvc     #NVH_HVC_DONE
    b       op_done

/*
 * Nested EL1 vectors: any exception taken to EL1 is forwarded to vEL2 with
 * x0 = ESR_EL1, x1 = FAR_EL1, x2 = ELR_EL1, x3 = SPSR_EL1, x4 = vector index; on
 * return ELR_EL1 = x2 (the host may change it through the GPR reply) and eret.
 * x0..x4 are clobbered.
 */
.macro EL1_VECTOR index
    .balign 0x80
    mov     x4, #\index
    b       nvh_el1_forward
.endm

    .balign 0x800
nvh_el1_vectors:
    EL1_VECTOR 0
    EL1_VECTOR 1
    EL1_VECTOR 2
    EL1_VECTOR 3
    EL1_VECTOR 4
    EL1_VECTOR 5
    EL1_VECTOR 6
    EL1_VECTOR 7
    EL1_VECTOR 8
    EL1_VECTOR 9
    EL1_VECTOR 10
    EL1_VECTOR 11
    EL1_VECTOR 12
    EL1_VECTOR 13
    EL1_VECTOR 14
    EL1_VECTOR 15

nvh_el1_forward:
    mrs     x0, esr_el1
    mrs     x1, far_el1
    mrs     x2, elr_el1
    mrs     x3, spsr_el1
    hvc     #NVH_HVC_EL1_EXCEPTION
    msr     elr_el1, x2
    isb
    eret

