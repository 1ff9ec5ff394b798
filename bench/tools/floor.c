/*
 * floor.c - the memory floor of a dense output, for bench/targets.lua:
 * the wall-clock time of writing `bytes` of freshly mapped memory, as a
 * job that produces that many bytes must at least spend.
 *
 *   floor BYTES [REPS]   prints "huge MS 4k MS": medians over REPS (5) of
 *                        mmap + madvise(MADV_HUGEPAGE) + memset + munmap,
 *                        and of mmap + memset + munmap (4 KiB pages)
 *
 * Only the memset is timed; every rep maps fresh memory.  The huge-page
 * mapping is 2 MiB aligned, as core/src/pages.c maps big outputs.
 */
#define _DEFAULT_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#define HUGE_PAGE ((size_t)2 << 20)

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* ms to write bytes of fresh memory; huge: ask for transparent huge pages */
static double one(size_t bytes, int huge)
{
    size_t len = (bytes + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
    uint8_t *raw = mmap(NULL, len + HUGE_PAGE, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED) {
        perror("floor: mmap");
        exit(1);
    }
    uint8_t *p = (uint8_t *)(((uintptr_t)raw + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1));
    if (huge)
        madvise(p, len, MADV_HUGEPAGE);
    double t0 = now();
    memset(p, 1, bytes);
    double t = (now() - t0) * 1000;
    munmap(raw, len + HUGE_PAGE);
    return t;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: floor BYTES [REPS]\n");
        return 2;
    }
    size_t bytes = (size_t)strtoull(argv[1], NULL, 10);
    int reps = argc > 2 ? atoi(argv[2]) : 5;
    if (reps < 1 || reps > 101 || bytes == 0) {
        fprintf(stderr, "floor: BYTES > 0 and 1 <= REPS <= 101\n");
        return 2;
    }
    double th[101], t4[101];
    for (int i = 0; i < reps; i++) {
        th[i] = one(bytes, 1);
        t4[i] = one(bytes, 0);
    }
    qsort(th, (size_t)reps, sizeof *th, cmp);
    qsort(t4, (size_t)reps, sizeof *t4, cmp);
    printf("huge %.3f 4k %.3f\n", th[reps / 2], t4[reps / 2]);
    return 0;
}
