/* greenbench sorts: textbook selection sort and heap sort (see sorts.h).
 *
 * The comparison loops use a plain `<` only.  Doubles get two O(n) passes
 * around the sort instead of a NaN-aware comparator in the hot loop:
 * NaNs are moved to the end first, and after sorting the run of zeros
 * (which `<` treats as equal) is rewritten as all -0.0 then all +0.0.
 */
#include "sorts.h"

#include <math.h>

#define GB_SWAP(T, x, y) do { T gb_tmp_ = (x); (x) = (y); (y) = gb_tmp_; } while (0)

/* Max-heap sift-down of a[root] within a[0 .. end-1]. */
#define GB_DEFINE_SORTS(T, SUFFIX)                                             \
    static void sift_down_##SUFFIX(T *a, size_t root, size_t end)             \
    {                                                                          \
        T v = a[root];                                                         \
        for (;;) {                                                             \
            size_t child = 2 * root + 1;                                       \
            if (child >= end) {                                                \
                break;                                                         \
            }                                                                  \
            if (child + 1 < end && a[child] < a[child + 1]) {                  \
                child++;                                                       \
            }                                                                  \
            if (!(v < a[child])) {                                             \
                break;                                                         \
            }                                                                  \
            a[root] = a[child];                                                \
            root = child;                                                      \
        }                                                                      \
        a[root] = v;                                                           \
    }                                                                          \
                                                                               \
    static void heap_sort_##SUFFIX(T *a, size_t n)                            \
    {                                                                          \
        if (n < 2) {                                                           \
            return;                                                            \
        }                                                                      \
        for (size_t i = n / 2; i-- > 0;) {                                     \
            sift_down_##SUFFIX(a, i, n);                                       \
        }                                                                      \
        for (size_t end = n - 1; end > 0; end--) {                             \
            GB_SWAP(T, a[0], a[end]);                                          \
            sift_down_##SUFFIX(a, 0, end);                                     \
        }                                                                      \
    }                                                                          \
                                                                               \
    static void selection_sort_##SUFFIX(T *a, size_t n)                       \
    {                                                                          \
        for (size_t i = 0; i + 1 < n; i++) {                                   \
            size_t m = i;                                                      \
            for (size_t j = i + 1; j < n; j++) {                               \
                if (a[j] < a[m]) {                                             \
                    m = j;                                                     \
                }                                                              \
            }                                                                  \
            if (m != i) {                                                      \
                GB_SWAP(T, a[i], a[m]);                                        \
            }                                                                  \
        }                                                                      \
    }

GB_DEFINE_SORTS(int64_t, i64)
GB_DEFINE_SORTS(double, f64)

/* Move every NaN behind the non-NaN values; returns how many are not NaN. */
static size_t nans_to_end(double *a, size_t n)
{
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isnan(a[i])) {
            GB_SWAP(double, a[w], a[i]);
            w++;
        }
    }
    return w;
}

/* a[0 .. m-1] is sorted by `<` and NaN-free: put its -0.0s before its +0.0s. */
static void order_signed_zeros(double *a, size_t m)
{
    size_t lo = 0, hi = m;
    while (lo < hi) { /* first index with a[i] >= 0.0 (a zero, if any) */
        size_t mid = lo + (hi - lo) / 2;
        if (a[mid] < 0.0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    size_t end = lo, negative = 0;
    while (end < m && a[end] == 0.0) {
        negative += signbit(a[end]) != 0;
        end++;
    }
    for (size_t i = lo; i < end; i++) {
        a[i] = (i - lo < negative) ? -0.0 : 0.0;
    }
}

void gb_heap_sort_i64(int64_t *a, size_t n) { heap_sort_i64(a, n); }

void gb_selection_sort_i64(int64_t *a, size_t n) { selection_sort_i64(a, n); }

void gb_heap_sort_f64(double *a, size_t n)
{
    size_t m = nans_to_end(a, n);
    heap_sort_f64(a, m);
    order_signed_zeros(a, m);
}

void gb_selection_sort_f64(double *a, size_t n)
{
    size_t m = nans_to_end(a, n);
    selection_sort_f64(a, m);
    order_signed_zeros(a, m);
}

const char *gb_compiler_version(void)
{
#ifdef __VERSION__
    return __VERSION__;
#else
    return "unknown";
#endif
}

int gb_optimized(void)
{
#ifdef __OPTIMIZE__
    return 1;
#else
    return 0;
#endif
}
