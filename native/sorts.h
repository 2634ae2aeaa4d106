/* greenbench sorts: selection sort and heap sort over plain arrays.
 *
 * Hot loops only: callers (native/__init__.py) validate dtype, shape and
 * contiguity and pass a writable buffer and its length.  All functions sort
 * in place, ascending.
 *
 * Order for doubles (matches numpy.sort, with signed zeros pinned down):
 *   -inf < ... < -0.0 < +0.0 < ... < +inf < NaN
 * NaNs (any sign or payload) go last; their bits are kept, their relative
 * order is unspecified.  -0.0 is placed before +0.0 (numpy treats them as
 * equal and leaves their order to the algorithm).
 */
#ifndef GREENBENCH_SORTS_H
#define GREENBENCH_SORTS_H

#include <stddef.h>
#include <stdint.h>

void gb_heap_sort_i64(int64_t *a, size_t n);
void gb_heap_sort_f64(double *a, size_t n);
void gb_selection_sort_i64(int64_t *a, size_t n);
void gb_selection_sort_f64(double *a, size_t n);

/* compiler identification baked in at compile time (__VERSION__) */
const char *gb_compiler_version(void);
/* 1 when compiled with optimisation (__OPTIMIZE__ defined), else 0 */
int gb_optimized(void);

#endif
