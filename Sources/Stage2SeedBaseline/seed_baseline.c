#include "seed_baseline.h"
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* Descriptors hold host pointers as "physical" addresses (identity phys_to_virt). */
#define VALID 1ull
#define TABLE 2ull

static uint64_t addr_mask(const seed_tables *t) {
    return 0x0000FFFFFFFFFFFFull & ~((1ull << t->page_shift) - 1);
}

static uint64_t *new_table(seed_tables *t) {
    size_t bytes = (size_t)1 << t->page_shift;
    uint64_t page;
    if (t->free_count) page = t->free_list[--t->free_count];
    else if (t->pool_next < t->pool_pages) page = t->pool_next++;
    else return 0;
    uint64_t *p = (uint64_t *)(t->pool + (page << t->page_shift));
    memset(p, 0, bytes);
    t->table_count++;
    return p;
}

static void free_table(seed_tables *t, uint64_t *table) {
    t->free_list[t->free_count++] = (uint64_t)((unsigned char *)table - t->pool) >> t->page_shift;
    t->table_count--;
}

int seed_init(seed_tables *t, unsigned page_shift, int allow_blocks, uint64_t pool_pages) {
    memset(t, 0, sizeof(*t));
    t->page_shift = page_shift;
    t->stride = page_shift - 3;
    t->allow_blocks = allow_blocks;
    /* One buffer, 2 MiB aligned and offered to transparent huge pages from 2 MiB up, zeroed
     * here (pre-faulted) — as ByteBufferTableMemory does for the Swift builder. */
    size_t bytes = (size_t)pool_pages << page_shift, huge = (size_t)2 << 20;
    if (!bytes) return -1;
    t->pool = aligned_alloc(bytes >= huge ? huge : ((size_t)1 << page_shift), (bytes + huge - 1) & ~(huge - 1));
    t->free_list = malloc(pool_pages * sizeof(uint64_t));
    if (!t->pool || !t->free_list) return -1;
    if (bytes >= huge) madvise(t->pool, bytes & ~(huge - 1), MADV_HUGEPAGE);
    memset(t->pool, 0, bytes);
    memset(t->free_list, 0, pool_pages * sizeof(uint64_t));
    t->pool_pages = pool_pages;
    /* The seed's choice for VA_BITS = 48: 4K starts at level 0, 16K and 64K at level 1. */
    t->root_level = page_shift == 12 ? 0 : 1;
    t->root = new_table(t);
    return t->root ? 0 : -1;
}

static unsigned level_shift(const seed_tables *t, int level) {
    return t->page_shift + (unsigned)(3 - level) * t->stride;
}

static int is_block_level(const seed_tables *t, int level) {
    return level == 2 || (t->page_shift == 12 && level == 1);
}

int seed_map(seed_tables *t, uint64_t ipa, uint64_t pa, uint64_t size, uint64_t attrs) {
    uint64_t end = ipa + size, mask = addr_mask(t);
    uint64_t index_mask = (1ull << t->stride) - 1;
    while (ipa < end) {
        uint64_t *table = t->root;
        int level, done = 0;
        for (level = t->root_level; level < 3; level++) {
            unsigned shift = level_shift(t, level);
            uint64_t idx = (ipa >> shift) & index_mask, span = 1ull << shift;
            if (t->allow_blocks && is_block_level(t, level) && !(ipa & (span - 1)) && !(pa & (span - 1)) && ipa + span <= end) {
                table[idx] = pa | attrs | VALID;
                ipa += span; pa += span; done = 1;
                break;
            }
            uint64_t e = table[idx];
            if (e & VALID) {
                if (!(e & TABLE)) return -1;  /* block in the way */
                table = (uint64_t *)(uintptr_t)(e & mask);
            } else {
                uint64_t *next = new_table(t);
                if (!next) return -1;
                table[idx] = (uint64_t)(uintptr_t)next | TABLE | VALID;
                table = next;
            }
        }
        if (!done) {
            uint64_t idx = (ipa >> t->page_shift) & index_mask;
            table[idx] = pa | attrs | TABLE | VALID;
            ipa += 1ull << t->page_shift; pa += 1ull << t->page_shift;
        }
    }
    return 0;
}

static void free_tables(seed_tables *t, uint64_t *table, int level) {
    if (level < 3) {
        for (uint64_t i = 0; i < (1ull << t->stride); i++) {
            uint64_t e = table[i];
            if ((e & VALID) && (e & TABLE)) free_tables(t, (uint64_t *)(uintptr_t)(e & addr_mask(t)), level + 1);
        }
    }
    free_table(t, table);
}

/* Returns 1 when the table is empty afterwards (the caller frees it). */
static int unmap_level(seed_tables *t, uint64_t *table, uint64_t base, int level, uint64_t start, uint64_t end) {
    unsigned shift = level_shift(t, level);
    uint64_t span = 1ull << shift;
    int empty = 1;
    for (uint64_t i = 0; i < (1ull << t->stride); i++) {
        uint64_t e = table[i], a = base + i * span, b = a + span;
        if (b <= start || a >= end) {
            if (e & VALID) empty = 0;
            continue;
        }
        if (a >= start && b <= end) {
            if (e & VALID) {
                if ((e & TABLE) && level < 3) free_tables(t, (uint64_t *)(uintptr_t)(e & addr_mask(t)), level + 1);
                table[i] = 0;
            }
            continue;
        }
        if ((e & VALID) && (e & TABLE) && level < 3) {
            uint64_t *next = (uint64_t *)(uintptr_t)(e & addr_mask(t));
            if (unmap_level(t, next, a, level + 1, start, end)) {
                free_table(t, next);
                table[i] = 0;
            } else {
                empty = 0;
            }
        } else if (e & VALID) {
            empty = 0;   /* a block the range cuts: left mapped, as the seed does */
        }
    }
    return empty;
}

void seed_unmap(seed_tables *t, uint64_t ipa, uint64_t size) {
    unmap_level(t, t->root, 0, t->root_level, ipa, ipa + size);
}

uint64_t seed_walk(const seed_tables *t, uint64_t ipa) {
    const uint64_t *table = t->root;
    uint64_t mask = addr_mask(t), index_mask = (1ull << t->stride) - 1;
    for (int level = t->root_level; level <= 3; level++) {
        unsigned shift = level_shift(t, level);
        uint64_t e = table[(ipa >> shift) & index_mask];
        if (!(e & VALID)) return UINT64_MAX;
        if (level == 3 || !(e & TABLE)) {
            uint64_t span = 1ull << shift;
            return (e & mask & ~(span - 1)) | (ipa & (span - 1));
        }
        table = (const uint64_t *)(uintptr_t)(e & mask);
    }
    return UINT64_MAX;
}

void seed_destroy(seed_tables *t) {
    free(t->pool);
    free(t->free_list);
    memset(t, 0, sizeof(*t));
}
