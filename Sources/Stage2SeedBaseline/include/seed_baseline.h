/*
 * A benchmark baseline: the *algorithm* of the kvm-unit-tests stage-2 library we replace
 * (shared/seed, "lib: arm64: Add stage2 page table management library"), re-implemented from
 * its description for a userspace run: map walks root→leaf once per page, allocating each
 * table with its own heap allocation; unmap recurses through and scans every entry of every
 * table it visits; no break-before-make, no TLB maintenance (userspace has none).
 * Tables come from a pool allocated and zeroed (so pre-faulted) by seed_init, as the Swift
 * builder's pool is, instead of one heap allocation each: the benchmark then times the same
 * kind of memory on both sides. A table is still zeroed when it is taken, as the seed does.
 * Written for this project; not the seed's text. Used only by `harness bench stage2`.
 */
#ifndef SEED_BASELINE_H
#define SEED_BASELINE_H
#include <stdint.h>

typedef struct seed_tables {
    uint64_t *root;
    unsigned page_shift;   /* 12, 14, 16 */
    unsigned stride;       /* page_shift - 3 */
    int root_level;        /* as the seed derives it from VA_BITS = 48 */
    int allow_blocks;
    uint64_t table_count;  /* tables allocated (root included) */
    unsigned char *pool;   /* pool_pages tables, allocated and zeroed by seed_init */
    uint64_t pool_pages;
    uint64_t pool_next;    /* first never-used pool page */
    uint64_t *free_list;   /* freed pages (indices), pool_pages entries */
    uint64_t free_count;
} seed_tables;

/* pool_pages: the most tables the set will hold at once (the root included). */
int seed_init(seed_tables *t, unsigned page_shift, int allow_blocks, uint64_t pool_pages);
int seed_map(seed_tables *t, uint64_t ipa, uint64_t pa, uint64_t size, uint64_t attrs);
void seed_unmap(seed_tables *t, uint64_t ipa, uint64_t size);
/* Output address for ipa, or UINT64_MAX if unmapped. */
uint64_t seed_walk(const seed_tables *t, uint64_t ipa);
void seed_destroy(seed_tables *t);

#endif
