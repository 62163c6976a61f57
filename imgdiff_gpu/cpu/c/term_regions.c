/* A frame's clip noise regions: the C of imgdiff_gpu/clip_noise.py's region_peak, which scipy did in
 * several passes over the band of rows the pixels reaching the cut span (binary_dilation by `join`
 * city-block steps, 8-connected label, the maximum over each region's pixels, find_objects).
 *
 * Those pixels are few (tens to a few hundred in a 720p frame of codec noise), so the regions are built
 * from them alone: each one's diamond of city-block radius `join` (clipped to the frame: within a
 * rectangle a pixel's city-block distance is also its distance by steps that stay inside, so this is
 * the dilation) is a run of columns on each of its 2 * join + 1 rows; the runs of each row, merged,
 * are joined to the previous row's runs they touch (8-connected: their columns overlap within one);
 * a region's number is its first run's order, row by row, as scipy numbers its labels (each region's
 * first pixel in raster order is its first run's first column). Called by imgdiff_gpu/cpu/term_regions.py.
 * No CUDA twin: a frame's noise peak is measured on the CPU whatever device compared the frames.
 */
#include "core.h"

typedef struct {
    int32_t row, low, high; /* columns low .. high inclusive */
} run_t;

typedef struct {
    void *items;
    size_t count, capacity, size;
} growing_t;

/* A pointer to a new last item, or NULL when memory runs out. */
static void *grow_by_one(growing_t *g)
{
    if (g->count == g->capacity) {
        size_t capacity = g->capacity ? 2 * g->capacity : 256;
        void *items = realloc(g->items, capacity * g->size);
        if (items == NULL) {
            return NULL;
        }
        g->items = items;
        g->capacity = capacity;
    }
    return (char *)g->items + g->size * g->count++;
}

/* The regions of `term` (height x width float32, rows `row_stride` floats apart) into *out: `count` rows of
 * [peak, top, left, bottom, right] (bottom and right one past the box), numbered as scipy numbers them.
 * 0, or -1 when memory runs out. */
static int regions_of(const float *term, Py_ssize_t row_stride, Py_ssize_t height, Py_ssize_t width, float cut,
                      int join, double **out, Py_ssize_t *count)
{
    int failed = -1;
    growing_t seeds_x = {NULL, 0, 0, sizeof(int32_t)}, runs = {NULL, 0, 0, sizeof(run_t)};
    int32_t *row_seeds = calloc((size_t)height + 1, sizeof *row_seeds); /* seeds of row y: [row_seeds[y], [y + 1]) */
    int32_t *row_runs = NULL, *parent = NULL, *label = NULL;
    double *regions = NULL;
    *out = NULL;
    *count = 0;
    if (row_seeds == NULL) {
        goto done;
    }
    Py_ssize_t top = -1, bottom = -1;
    for (Py_ssize_t y = 0; y < height; y++) {
        const float *row = term + y * row_stride;
        row_seeds[y] = (int32_t)seeds_x.count;
        for (Py_ssize_t x = 0; x < width; x++) {
            if (row[x] >= cut) {
                int32_t *slot = grow_by_one(&seeds_x);
                if (slot == NULL) {
                    goto done;
                }
                *slot = (int32_t)x;
                if (top < 0) {
                    top = y;
                }
                bottom = y;
            }
        }
    }
    row_seeds[height] = (int32_t)seeds_x.count;
    if (seeds_x.count == 0) {
        failed = 0;
        goto done;
    }
    const int32_t *xs = seeds_x.items;
    const Py_ssize_t first = top - join > 0 ? top - join : 0, last = bottom + join + 1 < height ? bottom + join + 1 : height;
    row_runs = malloc(((size_t)(last - first) + 1) * sizeof *row_runs);
    if (row_runs == NULL) {
        goto done;
    }
    int32_t next[64]; /* per source row of the window (2 * join + 1 <= 64), its next seed */
    for (Py_ssize_t y = first; y < last; y++) {
        row_runs[y - first] = (int32_t)runs.count;
        for (int d = -join; d <= join; d++) {
            next[d + join] = (y + d >= 0 && y + d < height) ? row_seeds[y + d] : 0;
        }
        run_t *current = NULL;
        for (;;) { /* merge the window's rows of seeds by their diamonds' first column */
            int best = -1;
            int32_t best_low = 0;
            for (int d = -join; d <= join; d++) {
                if (y + d < 0 || y + d >= height || next[d + join] >= row_seeds[y + d + 1]) {
                    continue;
                }
                int32_t low = xs[next[d + join]] - (join - abs(d));
                if (best < 0 || low < best_low) {
                    best = d + join;
                    best_low = low;
                }
            }
            if (best < 0) {
                break;
            }
            int32_t high = xs[next[best]] + (join - abs(best - join));
            next[best]++;
            int32_t low = best_low > 0 ? best_low : 0;
            high = high < width - 1 ? high : (int32_t)width - 1;
            if (current != NULL && low <= current->high + 1) {
                current->high = high > current->high ? high : current->high;
                continue;
            }
            current = grow_by_one(&runs);
            if (current == NULL) {
                goto done;
            }
            *current = (run_t){(int32_t)y, low, high};
        }
    }
    row_runs[last - first] = (int32_t)runs.count;
    const run_t *all = runs.items;
    const int32_t run_count = (int32_t)runs.count;
    parent = malloc((size_t)run_count * sizeof *parent);
    label = malloc((size_t)run_count * sizeof *label);
    if (parent == NULL || label == NULL) {
        goto done;
    }
    for (int32_t i = 0; i < run_count; i++) {
        parent[i] = i;
    }
    for (Py_ssize_t y = first + 1; y < last; y++) {
        int32_t above = row_runs[y - 1 - first];
        const int32_t above_end = row_runs[y - first];
        for (int32_t i = row_runs[y - first]; i < row_runs[y + 1 - first]; i++) {
            while (above < above_end && all[above].high + 1 < all[i].low) {
                above++;
            }
            for (int32_t j = above; j < above_end && all[j].low <= all[i].high + 1; j++) {
                union_join(parent, i, j);
            }
        }
    }
    Py_ssize_t regions_count = 0;
    for (int32_t i = 0; i < run_count; i++) {
        label[i] = union_root(parent, i) == i ? (int32_t)regions_count++ : label[parent[i]];
    }
    regions = malloc((size_t)regions_count * 5 * sizeof *regions);
    if (regions == NULL) {
        goto done;
    }
    for (Py_ssize_t r = 0; r < regions_count; r++) {
        double *region = regions + 5 * r;
        region[0] = -INFINITY;
        region[1] = region[2] = INFINITY;
        region[3] = region[4] = -INFINITY;
    }
    for (int32_t i = 0; i < run_count; i++) {
        double *region = regions + 5 * label[i];
        region[1] = NUMBA_MIN(region[1], (double)all[i].row);
        region[2] = NUMBA_MIN(region[2], (double)all[i].low);
        region[3] = NUMBA_MAX(region[3], (double)all[i].row + 1.0);
        region[4] = NUMBA_MAX(region[4], (double)all[i].high + 1.0);
    }
    for (Py_ssize_t y = top; y <= bottom; y++) {
        const int32_t end = row_runs[y + 1 - first];
        int32_t run = row_runs[y - first];
        for (int32_t s = row_seeds[y]; s < row_seeds[y + 1]; s++) { /* seeds and runs both left to right */
            while (run < end && all[run].high < xs[s]) {
                run++;
            }
            double *region = regions + 5 * label[run];
            region[0] = NUMBA_MAX(region[0], (double)term[y * row_stride + xs[s]]);
        }
    }
    *out = regions;
    regions = NULL;
    *count = regions_count;
    failed = 0;
done:
    free(seeds_x.items);
    free(runs.items);
    free(row_seeds);
    free(row_runs);
    free(parent);
    free(label);
    free(regions);
    return failed;
}

PyObject *core_term_regions(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *oterm;
    float cut;
    int join;
    if (!PyArg_ParseTuple(args, "Ofi", &oterm, &cut, &join)) {
        return NULL;
    }
    PyObject *result = NULL;
    array_t a[1] = {0};
    static const elem_t FLOATS[] = {ELEM_F32};
    if (get_strided_array(oterm, &a[0], "term", 2) < 0 || expect_type(&a[0], "term", FLOATS, 1) < 0) {
        goto done;
    }
    if (join < 0 || join > 31 || a[0].view.strides[1] != (Py_ssize_t)sizeof(float) ||
        a[0].view.strides[0] % (Py_ssize_t)sizeof(float) != 0) {
        PyErr_SetString(PyExc_ValueError, "term_regions: 0 <= join <= 31 and a term of contiguous rows");
        goto done;
    }
    double *regions;
    Py_ssize_t count;
    int failed;
    Py_BEGIN_ALLOW_THREADS
    failed = regions_of(a[0].view.buf, a[0].view.strides[0] / (Py_ssize_t)sizeof(float), a[0].view.shape[0],
                        a[0].view.shape[1], cut, join, &regions, &count);
    Py_END_ALLOW_THREADS
    if (failed) {
        PyErr_NoMemory();
        goto done;
    }
    result = PyBytes_FromStringAndSize((const char *)regions, count * 5 * (Py_ssize_t)sizeof(double));
    free(regions);
done:
    release_arrays(a, 1);
    return result;
}
