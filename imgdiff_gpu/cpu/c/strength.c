/* Difference strength in one fused pass: plane stacks and SSIM map to the per-pixel strength.
 *
 * C twin of the kernel behind imgdiff_gpu/cpu/strength.py (strength_map), which holds the
 * definition and prepares the arrays; mirrors kernels/strength.cu. Strips of 16 to 64
 * rows with a halo run in parallel. Per pixel, with w * the SSIM window (borders reflected):
 * luma shift |w * dY| and opacity shift |w * dA| over the luma threshold (a threshold of its
 * own per pixel with luma_scale), chroma shift |(w * dCr, w * dCb)| over the chroma
 * threshold, coarse evidence as given, structure min((1 - S) / (1 - t_ssim), (w * |dY|) /
 * t_texture); the strength is the largest, and 0 unless a pixel that differs at all (and
 * is not suppressed) lies within NEAR px (Chebyshev). The right luma is read with the pair's
 * own offset added (a float32 sum, as detection.unbiased writes it), so dY loses the offset
 * without a copy of the plane stack. Into a uint8 `out`, each pixel's level instead (0 below
 * the low cut-off, 1 from it, 2 from the high one, of the same float32 value), as
 * kernels/strength.cu writes them: a byte a pixel rather than four, and no pass to compare.
 * Given the pairs' integer pixels and their layout instead of plane stacks, each input row's
 * planes are computed as the strip reads it (planes.c, the values of plane_stack), so no stack
 * of 12 bytes a pixel is ever written.
 */
#include "core.h"

/* Rows per strip: a strip filters its 2 * halo rows of halo as well, so tall strips waste
 * less, but there must be enough of them to keep every thread busy (as ssim.py's). */
#define MIN_STRIP_ROWS 16
#define MAX_STRIP_ROWS 64
#define STRIP_BYTES (4 << 20) /* so a very wide image keeps the 16 rows, and its scratch, of before */
#define NEAR 3 /* pixels: how far evidence may stand from a changed pixel */

typedef struct {
    const float *left, *right;
    const double *ssim_map;
    const double *w;
    int taps, planes, quantities;
    double inv_luma, inv_chroma, inv_texture, inv_ssim;
    float luma_offset;
    float level_low, level_high;
    const uint8_t *suppress;
    const float *luma_scale, *coarse;
    const uint8_t *luma_rows; /* levels only: the rows whose luma term may reach the low cut-off; NULL: all */
    int from_pixels; /* left and right are NULL: the planes come from these */
    plane_source left_pixels, right_pixels;
    Py_ssize_t height, width, strip_rows;
    float *out;       /* the strength, or NULL */
    uint8_t *levels; /* or its levels */
} strength_job;

/* One row of the filtered quantities' inputs (dY, |dY|, dCr, dCb, dA: one row each of
 * `stride` float64, each a float32 difference widened exactly) and of "differs at all",
 * borders reflected; index halo + c holds column c. */
IMGDIFF_INLINE void load_differences_of(const strength_job *job, Py_ssize_t source, const float *l, const float *r,
                                        int halo, double *row, Py_ssize_t stride, uint8_t *changed, int planes)
{
    const Py_ssize_t width = job->width;
    const float offset = job->luma_offset;
    for (Py_ssize_t c = 0; c < width; c++) {
        float d_y = l[c * planes] - (r[c * planes] + offset);
        row[halo + c] = d_y;
        row[stride + halo + c] = fabsf(d_y);
        changed[halo + c] = d_y != 0;
    }
    for (int p = 1; p < planes; p++) {
        double *target = row + (p + 1) * stride + halo;
        for (Py_ssize_t c = 0; c < width; c++) {
            float d = l[c * planes + p] - r[c * planes + p];
            target[c] = d;
            changed[halo + c] |= d != 0;
        }
    }
    if (job->suppress != NULL) {
        const uint8_t *suppressed = job->suppress + source * width;
        for (Py_ssize_t c = 0; c < width; c++) {
            changed[halo + c] &= !suppressed[c];
        }
    }
    /* scipy's 'reflect': column -1 - k is column k, width + k is width - 1 - k, written in
     * this order so that images narrower than the halo reflect again */
    for (int k = 0; k < halo; k++) {
        for (int q = 0; q < job->quantities; q++) {
            double *line = row + q * stride;
            line[halo - 1 - k] = line[halo + k];
            line[halo + width + k] = line[halo + width - 1 - k];
        }
        changed[halo - 1 - k] = changed[halo + k];
        changed[halo + width + k] = changed[halo + width - 1 - k];
    }
}

/* load_differences_of for a literal plane count, so the planes' interleaving is known and
 * the loops vectorize; the row's planes from the stacks, or computed into `planes_row`
 * (two rows of width x planes) from the pixels. */
IMGDIFF_INLINE void load_differences(const strength_job *job, Py_ssize_t source, int halo, double *row,
                                     Py_ssize_t stride, uint8_t *changed, float *planes_row)
{
    const Py_ssize_t row_floats = job->width * job->planes;
    const float *l = planes_row, *r = planes_row + row_floats;
    if (job->from_pixels) {
        planes_of_row(&job->left_pixels, source, planes_row);
        planes_of_row(&job->right_pixels, source, planes_row + row_floats);
    } else {
        l = job->left + source * row_floats;
        r = job->right + source * row_floats;
    }
    switch (job->planes) {
    case 1:
        load_differences_of(job, source, l, r, halo, row, stride, changed, 1);
        break;
    case 2:
        load_differences_of(job, source, l, r, halo, row, stride, changed, 2);
        break;
    case 3:
        load_differences_of(job, source, l, r, halo, row, stride, changed, 3);
        break;
    default:
        load_differences_of(job, source, l, r, halo, row, stride, changed, 4);
        break;
    }
}

/* One output row's strength (into out_row) or levels (into levels_row) from its filtered
 * means (see the top of this file), for literal flags: which terms the pair has, and which
 * output. */
IMGDIFF_INLINE void combine_row(const strength_job *job, const double *means, const double *ssim_row,
                                const float *coarse_row, const uint8_t *near, float *out_row, uint8_t *levels_row,
                                int has_coarse, int colour, int alpha, int as_levels)
{
    const Py_ssize_t width = job->width;
    const double *luma = means, *texture = means + width, *d_cr = means + 2 * width, *d_cb = means + 3 * width;
    const double *d_alpha = means + (job->quantities - 1) * width;
    const double inv_luma = job->inv_luma, inv_chroma = job->inv_chroma, inv_ssim = job->inv_ssim,
                 inv_texture = job->inv_texture;
    for (Py_ssize_t j = 0; j < width; j++) {
        double strength = fabs(luma[j]) * inv_luma;
        if (has_coarse) {
            double coarse = (double)coarse_row[j];
            strength = NUMBA_MAX(strength, coarse);
        }
        if (colour) {
            double chroma = sqrt(fma(d_cr[j], d_cr[j], d_cb[j] * d_cb[j])) * inv_chroma;
            strength = NUMBA_MAX(strength, chroma);
        }
        if (alpha) {
            double opacity = fabs(d_alpha[j]) * inv_luma;
            strength = NUMBA_MAX(strength, opacity);
        }
        double from_ssim = (1.0 - ssim_row[j]) * inv_ssim, from_texture = texture[j] * inv_texture;
        double structural = NUMBA_MIN(from_ssim, from_texture);
        float value = (float)NUMBA_MAX(strength, structural);
        /* value where a changed pixel is near, else +0: as a mask of its bits, so no branch */
        uint32_t bits;
        memcpy(&bits, &value, sizeof bits);
        bits &= 0u - (uint32_t)(near[j] != 0);
        if (as_levels) {
            memcpy(&value, &bits, sizeof bits);
            levels_row[j] = (uint8_t)((value >= job->level_low) + (value >= job->level_high));
        } else {
            memcpy(out_row + j, &bits, sizeof bits);
        }
    }
}

#define COMBINE(has_coarse, colour, alpha, as_levels) \
    combine_row(job, means, ssim_row, coarse_row, near, out_row, levels_row, has_coarse, colour, alpha, as_levels)
#define COMBINE_FOR_PLANES(has_coarse, as_levels) \
    do { \
        switch (planes) { \
        case 1: \
            COMBINE(has_coarse, 0, 0, as_levels); \
            break; \
        case 2: \
            COMBINE(has_coarse, 0, 1, as_levels); \
            break; \
        case 3: \
            COMBINE(has_coarse, 1, 0, as_levels); \
            break; \
        default: \
            COMBINE(has_coarse, 1, 1, as_levels); \
            break; \
        } \
    } while (0)

/* Whether a pixel of rows [first, last) (reflected) differs at all and is not suppressed: else
 * no pixel within NEAR of those rows' middle ones differs, and their strength is +0 whatever
 * the evidence (two renderings of a page, identical but for an edit, are mostly such rows). */
IMGDIFF_CLONES static int any_change(const strength_job *job, Py_ssize_t first, Py_ssize_t last, int halo,
                                     double *row, Py_ssize_t stride, uint8_t *changed, float *planes_row)
{
    for (Py_ssize_t i = first; i < last; i++) {
        load_differences(job, reflect(i, job->height), halo, row, stride, changed, planes_row);
        uint8_t any = 0;
        for (Py_ssize_t j = 0; j < job->width; j++) {
            any |= changed[halo + j];
        }
        if (any) {
            return 1;
        }
    }
    return 0;
}

/* The largest |(dCr, dCb)| of input row `source` of two colour plane stacks, in float64 from the
 * float32 differences the pass filters. */
IMGDIFF_CLONES static double largest_chroma_step(const strength_job *job, Py_ssize_t source)
{
    const Py_ssize_t width = job->width, planes = job->planes;
    const float *l = job->left + source * width * planes, *r = job->right + source * width * planes;
    /* the largest in 8 lanes, so the loop vectorizes (a largest value is the same in any order; a NaN step
     * replaces nothing in a lane as in one chain) */
    double lanes[8] = {0.0};
    Py_ssize_t j = 0;
    for (; j + 8 <= width; j += 8) {
        for (int q = 0; q < 8; q++) {
            const double d_cr = l[(j + q) * planes + 1] - r[(j + q) * planes + 1];
            const double d_cb = l[(j + q) * planes + 2] - r[(j + q) * planes + 2];
            const double step = d_cr * d_cr + d_cb * d_cb;
            lanes[q] = step > lanes[q] ? step : lanes[q];
        }
    }
    for (; j < width; j++) {
        const double d_cr = l[j * planes + 1] - r[j * planes + 1];
        const double d_cb = l[j * planes + 2] - r[j * planes + 2];
        const double step = d_cr * d_cr + d_cb * d_cb;
        lanes[0] = step > lanes[0] ? step : lanes[0];
    }
    double largest = 0.0;
    for (int q = 0; q < 8; q++) {
        largest = lanes[q] > largest ? lanes[q] : largest;
    }
    return sqrt(largest) * (1.0 + 1e-9); /* sqrt rounds: never below the steps' own */
}

/* What a quantity the pass filters is evidence for: its rows are filtered only where that term may
 * change a level (strength_strip). TERM_ANY: any term at all (the row's level may be other than 0). */
enum term_kind { TERM_LUMA = 0, TERM_TEXTURE = 1, TERM_CHROMA = 2, TERM_ANY = 3, TERM_KINDS = 4 };

/* The term quantity q feeds: w * dY, |dY|, then dCr and dCb of a colour pair; -1 for dA (always filtered). */
static inline int kind_of(int q, int colour)
{
    if (q < TERM_CHROMA) {
        return q;
    }
    return colour && q < 4 ? TERM_CHROMA : -1;
}

/* The level of a strength of +0 (a pixel with no changed pixel near). */
static inline uint8_t level_of_zero(const strength_job *job)
{
    const float zero = 0.0f;
    return (uint8_t)((zero >= job->level_low) + (zero >= job->level_high));
}

/* Levels only: a term that stays below the low cut-off at every pixel of an output row changes
 * no level there (the strength is the largest of the terms: with it the largest is either
 * another term or below the cut-off, rounding monotonically), so its quantities are not
 * filtered for that row (taken as 0: every term is >= 0), nor along the input rows that only
 * such rows read. Per output row, with a margin over the rounding:
 *  - structure min((1 - S) / (1 - t_ssim), texture): where every (1 - S) / (1 - t_ssim) stays
 *    below, |dY| is not filtered (a quarter of a colour pair's filtering, on most rows of two encodes);
 *  - luma |w * dY| / (t_luma * scale), scale >= 1: where the caller's luma_rows says the row's
 *    largest |w * dY| (its float32 filter's, 1 % of margin) stays below t_luma times the cut-off;
 *  - chroma |(w * dCr, w * dCb)| / t_chroma, of plane stacks: the window is a weighted average
 *    (weights > 0, summing to 1), so at most the largest |(dCr, dCb)| of the input rows it reads;
 *    where that stays below, dCr and dCb are not filtered (between two encodes of a video, codec
 *    noise reaches it on a few % of the rows). From the pixels the planes would be computed
 *    twice for it, as much as the filtering it saves: there, every row's chroma is filtered.
 * An output row where none of these terms, nor the coarse evidence, may reach it (and the pair has
 * no opacity) has level 0 throughout, as a pixel with no changed pixel near has: it is written so,
 * and the input rows that only such rows read are not even loaded.
 * Fills need[kind][output row] and along[kind][input row] (which input rows each kind filters;
 * TERM_ANY: which are loaded at all); `chroma_peaks` is scratch, one per input row. */
/* Whether some (1 - ssim) * inv_ssim of the row is not below `cut` (NaN: not below), 16 values a step so the
 * comparisons vectorize, stopping at the first step that finds one. */
IMGDIFF_CLONES static int reaches_cut(const double *restrict ssim_row, double inv_ssim, double cut, Py_ssize_t width)
{
    Py_ssize_t j = 0;
    for (; j + 16 <= width; j += 16) {
        int found = 0;
        for (int q = 0; q < 16; q++) {
            found |= !((1.0 - ssim_row[j + q]) * inv_ssim < cut);
        }
        if (found) {
            return 1;
        }
    }
    for (; j < width; j++) {
        if (!((1.0 - ssim_row[j]) * inv_ssim < cut)) {
            return 1;
        }
    }
    return 0;
}

/* Whether some value of the float32 row is not below `cut` (NaN: not below), likewise. */
IMGDIFF_CLONES static int any_reaches(const float *restrict row, double cut, Py_ssize_t width)
{
    Py_ssize_t j = 0;
    for (; j + 16 <= width; j += 16) {
        int found = 0;
        for (int q = 0; q < 16; q++) {
            found |= !((double)row[j + q] < cut);
        }
        if (found) {
            return 1;
        }
    }
    for (; j < width; j++) {
        if (!((double)row[j] < cut)) {
            return 1;
        }
    }
    return 0;
}

static void rows_each_term_needs(const strength_job *job, Py_ssize_t top, Py_ssize_t bottom, int halo,
                                 double *chroma_peaks, uint8_t *need[TERM_KINDS], uint8_t *along[TERM_KINDS])
{
    const int radius = job->taps / 2, planes = job->planes;
    const Py_ssize_t height = job->height, width = job->width, rows = bottom - top + 2 * halo;
    const int strip_height = (int)(bottom - top);
    const int alpha = planes == 2 || planes == 4;
    const int levels_only = job->levels != NULL, colour = planes >= 3;
    const double below_low = (double)job->level_low * (1.0 - 1e-6);
    for (int i = 0; i < strip_height; i++) {
        const double *ssim_row = job->ssim_map + (top + i) * width;
        const int structure = !levels_only || reaches_cut(ssim_row, job->inv_ssim, below_low, width);
        need[TERM_TEXTURE][i] = (uint8_t)structure;
        need[TERM_LUMA][i] = (uint8_t)(!levels_only || job->luma_rows == NULL || job->luma_rows[top + i]);
        need[TERM_CHROMA][i] = (uint8_t)colour;
    }
    if (levels_only && colour && !job->from_pixels) {
        /* the largest |(dCr, dCb)| of each input row, over the chroma threshold; then per output row */
        for (Py_ssize_t i = 0; i < rows; i++) {
            chroma_peaks[i] = largest_chroma_step(job, reflect(top - halo + i, height)) * job->inv_chroma;
        }
        for (int i = 0; i < strip_height; i++) {
            double reach = 0.0;
            for (int k = i + halo - radius; k <= i + halo + radius; k++) {
                reach = chroma_peaks[k] > reach ? chroma_peaks[k] : reach;
            }
            need[TERM_CHROMA][i] = !(reach < below_low); /* NaN: not below */
        }
    }
    for (int i = 0; i < strip_height; i++) {
        const int coarse = job->coarse != NULL && any_reaches(job->coarse + (top + i) * width, below_low, width);
        need[TERM_ANY][i] = (uint8_t)(!levels_only || alpha || coarse || need[TERM_LUMA][i] ||
                                      need[TERM_TEXTURE][i] || need[TERM_CHROMA][i]);
    }
    for (int kind = 0; kind < TERM_KINDS; kind++) {
        /* input row i is filtered for output rows i - halo - radius .. i - halo + radius, and loaded (the
         * filters, and the changed pixels within NEAR) for output rows i - 2 halo .. i */
        const Py_ssize_t before = kind == TERM_ANY ? 2 * halo : halo + radius;
        const Py_ssize_t after = kind == TERM_ANY ? 0 : radius - halo;
        for (Py_ssize_t i = 0; i < rows; i++) {
            uint8_t any = 0;
            for (Py_ssize_t o = i - before; o <= i + after; o++) {
                any |= o >= 0 && o < strip_height && need[kind][o];
            }
            along[kind][i] = any;
        }
    }
}

/* One strip; `work` holds its buffers (laid out below; core_strength sizes it as work_bytes: keep the two in step). */
IMGDIFF_CLONES static void strength_strip(const strength_job *job, Py_ssize_t strip, char *work)
{
    const int taps = job->taps, radius = taps / 2, halo = radius > NEAR ? radius : NEAR;
    const int quantities = job->quantities, planes = job->planes;
    const double *w = job->w;
    const Py_ssize_t height = job->height, width = job->width, stride = width + 2 * halo;
    const Py_ssize_t top = strip * job->strip_rows;
    const Py_ssize_t bottom = strip_end(strip, job->strip_rows, height);
    const Py_ssize_t rows = bottom - top + 2 * halo;
    double *means = (double *)work;                              /* quantities x width */
    double *row = means + quantities * width;                    /* quantities x stride */
    float *filtered = (float *)(row + quantities * stride);      /* quantities x rows x width */
    uint8_t *near_row = (uint8_t *)(filtered + quantities * rows * width); /* rows x width */
    uint8_t *changed = near_row + rows * width;                 /* stride */
    uint8_t *near = changed + stride;                           /* width */
    double *chroma_peaks = (double *)(((uintptr_t)(near + width) + 15) & ~(uintptr_t)15); /* rows */
    uint8_t *need_rows = (uint8_t *)(chroma_peaks + rows);          /* TERM_KINDS x strip rows: per output row */
    uint8_t *along_rows = need_rows + TERM_KINDS * job->strip_rows; /* TERM_KINDS x rows: per input row */
    float *planes_row = (float *)(((uintptr_t)(along_rows + TERM_KINDS * rows) + 15) & ~(uintptr_t)15); /* 2 x width x planes */
    if (!any_change(job, top - NEAR, bottom + NEAR, halo, row, stride, changed, planes_row)) {
        /* every pixel's strength +0 (as combine_row masks it), or that value's level */
        for (Py_ssize_t y = top; y < bottom; y++) {
            if (job->levels != NULL) {
                memset(job->levels + y * width, level_of_zero(job), width);
            } else {
                memset(job->out + y * width, 0, width * sizeof(float));
            }
        }
        return;
    }
    uint8_t *need[TERM_KINDS], *along[TERM_KINDS];
    for (int kind = 0; kind < TERM_KINDS; kind++) {
        need[kind] = need_rows + kind * job->strip_rows, along[kind] = along_rows + kind * rows;
    }
    rows_each_term_needs(job, top, bottom, halo, chroma_peaks, need, along);
    const int colour = planes >= 3;
    const uint8_t zero_level = level_of_zero(job);
    for (Py_ssize_t i = 0; i < rows; i++) {
        if (!along[TERM_ANY][i]) {
            continue; /* read by no output row that computes a level */
        }
        load_differences(job, reflect(top - halo + i, height), halo, row, stride, changed, planes_row);
        const int offset = halo - radius; /* the filter reads from the halo the window needs */
        for (int q = 0; q < quantities; q++) {
            const int kind = kind_of(q, colour);
            if (kind >= 0 && !along[kind][i]) {
                continue;
            }
#define ALONG(t) filter_along_f((t), w, row + q * stride + offset, filtered + (q * rows + i) * width, width)
            DISPATCH_TAPS(taps, ALONG);
#undef ALONG
        }
        uint8_t *near_i = near_row + i * width;
        for (Py_ssize_t j = 0; j < width; j++) {
            uint8_t hit = 0;
            for (int k = halo - NEAR; k <= halo + NEAR; k++) {
                hit |= changed[j + k];
            }
            near_i[j] = hit;
        }
    }
    for (Py_ssize_t i = 0; i < bottom - top; i++) {
        if (!need[TERM_ANY][i]) {
            memset(job->levels + (top + i) * width, zero_level, width);
            continue;
        }
        const Py_ssize_t first = i + halo - radius;
        for (int q = 0; q < quantities; q++) {
            const int kind = kind_of(q, colour);
            if (kind >= 0 && !need[kind][i]) {
                memset(means + q * width, 0, width * sizeof(double));
                continue;
            }
#define ACROSS(t) filter_across_f((t), w, filtered + q * rows * width, width, first, means + q * width, width)
            DISPATCH_TAPS(taps, ACROSS);
#undef ACROSS
        }
        memcpy(near, near_row + (i + halo - NEAR) * width, width);
        for (int k = halo - NEAR + 1; k <= halo + NEAR; k++) {
            const uint8_t *above = near_row + (i + k) * width;
            for (Py_ssize_t j = 0; j < width; j++) {
                near[j] |= above[j];
            }
        }
        const Py_ssize_t y = top + i;
        float *out_row = job->out != NULL ? job->out + y * width : NULL;
        uint8_t *levels_row = job->levels != NULL ? job->levels + y * width : NULL;
        const double *ssim_row = job->ssim_map + y * width;
        double *luma = means;
        if (job->luma_scale != NULL) { /* a luma threshold of its own at each pixel */
            const float *scale_row = job->luma_scale + y * width;
            for (Py_ssize_t j = 0; j < width; j++) {
                luma[j] = luma[j] / (double)scale_row[j];
            }
        }
        const float *coarse_row = job->coarse != NULL ? job->coarse + y * width : NULL;
        /* the terms a pair has are known per call: one loop each, without branches, vectorizes */
        if (levels_row != NULL && coarse_row != NULL) {
            COMBINE_FOR_PLANES(1, 1);
        } else if (levels_row != NULL) {
            COMBINE_FOR_PLANES(0, 1);
        } else if (coarse_row != NULL) {
            COMBINE_FOR_PLANES(1, 0);
        } else {
            COMBINE_FOR_PLANES(0, 0);
        }
    }
}

/* strength_strip as run_strips calls it. */
static void strength_strip_of(const void *job, Py_ssize_t strip, void *work)
{
    strength_strip(job, strip, work);
}

PyObject *core_strength(PyObject *self, PyObject *args)
{
    PyObject *oleft, *oright, *omap, *ow, *osuppress, *oscale, *ocoarse, *oout, *olayout = Py_None,
             *oluma_rows = Py_None;
    strength_job job;
    memset(&job, 0, sizeof job);
    if (!PyArg_ParseTuple(args, "OOOOddddOOOOfff|OO", &oleft, &oright, &omap, &ow, &job.inv_luma, &job.inv_chroma,
                          &job.inv_texture, &job.inv_ssim, &osuppress, &oscale, &ocoarse, &oout, &job.luma_offset,
                          &job.level_low, &job.level_high, &olayout, &oluma_rows)) {
        return NULL;
    }
    /* (left scale, right scale, colour, alpha): left and right are integer pixels */
    job.from_pixels = olayout != Py_None;
    if (job.from_pixels &&
        !PyArg_ParseTuple(olayout, "ddpp", &job.left_pixels.scale, &job.right_pixels.scale, &job.left_pixels.colour,
                          &job.left_pixels.alpha)) {
        return NULL;
    }
    job.right_pixels.colour = job.left_pixels.colour;
    job.right_pixels.alpha = job.left_pixels.alpha;
    array_t a[9] = {0};
    PyObject *result = NULL;
    static const elem_t F32[] = {ELEM_F32}, F64[] = {ELEM_F64}, BOOL[] = {ELEM_BOOL, ELEM_U8},
                        OUT[] = {ELEM_F32, ELEM_U8};
    if (get_array(oleft, &a[0], "left", 3, 0, 0) < 0 || get_array(oright, &a[1], "right", 3, 0, 0) < 0 ||
        get_array(omap, &a[2], "ssim_map", 2, 0, 0) < 0 || get_array(ow, &a[3], "weights", 1, 0, 0) < 0 ||
        get_array(osuppress, &a[4], "suppress", 2, 0, 1) < 0 || get_array(oscale, &a[5], "luma_scale", 2, 0, 1) < 0 ||
        get_array(ocoarse, &a[6], "coarse", 2, 0, 1) < 0 || get_array(oout, &a[7], "out", 2, 1, 0) < 0 ||
        get_array(oluma_rows, &a[8], "luma_rows", 1, 0, 1) < 0) {
        goto done;
    }
    const Py_ssize_t *shape = a[0].view.shape;
    if (job.from_pixels) {
        if (plane_source_of(&a[0], &job.left_pixels) < 0 || plane_source_of(&a[1], &job.right_pixels) < 0 ||
            expect_shape(&a[1], "right", shape, 2) < 0) {
            goto done;
        }
    } else if (expect_type(&a[0], "left", F32, 1) < 0 || expect_type(&a[1], "right", F32, 1) < 0 ||
               expect_shape(&a[1], "right", shape, 3) < 0) {
        goto done;
    }
    if (expect_type(&a[2], "ssim_map", F64, 1) < 0 ||
        expect_shape(&a[2], "ssim_map", shape, 2) < 0 || expect_type(&a[3], "weights", F64, 1) < 0 ||
        expect_type(&a[7], "out", OUT, 2) < 0 || expect_shape(&a[7], "out", shape, 2) < 0 ||
        (a[4].present && (expect_type(&a[4], "suppress", BOOL, 2) < 0 || expect_shape(&a[4], "suppress", shape, 2) < 0)) ||
        (a[5].present && (expect_type(&a[5], "luma_scale", F32, 1) < 0 || expect_shape(&a[5], "luma_scale", shape, 2) < 0)) ||
        (a[6].present && (expect_type(&a[6], "coarse", F32, 1) < 0 || expect_shape(&a[6], "coarse", shape, 2) < 0)) ||
        (a[8].present && (expect_type(&a[8], "luma_rows", BOOL, 2) < 0 || expect_shape(&a[8], "luma_rows", shape, 1) < 0))) {
        goto done;
    }
    job.height = shape[0];
    job.width = shape[1];
    job.planes = job.from_pixels ? job.left_pixels.planes : (int)shape[2];
    job.taps = (int)a[3].view.shape[0];
    if (job.planes < 1 || job.planes > 4 || job.taps % 2 != 1) {
        PyErr_SetString(PyExc_ValueError, "strength: needs 1 to 4 planes and an odd window");
        goto done;
    }
    const int colour = job.planes >= 3, alpha = job.planes == 2 || job.planes == 4;
    job.quantities = 2 + (colour ? 2 : 0) + (alpha ? 1 : 0); /* dY, |dY|, then dCr, dCb, then dA */
    job.left = job.from_pixels ? NULL : a[0].view.buf;
    job.right = job.from_pixels ? NULL : a[1].view.buf;
    job.ssim_map = a[2].view.buf;
    job.w = a[3].view.buf;
    job.suppress = a[4].present ? a[4].view.buf : NULL;
    job.luma_scale = a[5].present ? a[5].view.buf : NULL;
    job.coarse = a[6].present ? a[6].view.buf : NULL;
    job.luma_rows = a[8].present ? a[8].view.buf : NULL;
    job.out = a[7].type == ELEM_F32 ? a[7].view.buf : NULL;
    job.levels = a[7].type == ELEM_U8 ? a[7].view.buf : NULL;
    const int radius = job.taps / 2, halo = radius > NEAR ? radius : NEAR;
    int threads = 1;
#ifdef _OPENMP
    threads = omp_get_max_threads();
#endif
    const size_t q = job.quantities, width = job.width, stride = width + 2 * halo;
    /* about four strips per thread, and each thread's filtered rows within STRIP_BYTES */
    Py_ssize_t fitting = MAX_STRIP_ROWS;
    if (width > 0) {
        fitting = (Py_ssize_t)(STRIP_BYTES / (q * width * sizeof(float))) - 2 * halo;
    }
    job.strip_rows = (job.height + 4 * threads - 1) / (4 * threads);
    job.strip_rows = job.strip_rows < fitting ? job.strip_rows : fitting;
    job.strip_rows = job.strip_rows < MIN_STRIP_ROWS ? MIN_STRIP_ROWS
                     : job.strip_rows > MAX_STRIP_ROWS ? MAX_STRIP_ROWS
                                                       : job.strip_rows;
    const size_t rows = job.strip_rows + 2 * halo;
    const size_t work_bytes = q * width * sizeof(double) + q * rows * width * sizeof(float) +
                              q * stride * sizeof(double) + rows * width + stride + width + 15 +
                              rows * sizeof(double) + 4 * (size_t)job.strip_rows + 4 * rows + 15 +
                              (job.from_pixels ? 2 * width * job.planes * sizeof(float) : 0);
    const Py_ssize_t strips = (job.height + job.strip_rows - 1) / job.strip_rows;
    if (run_strips(&job, strips, work_bytes, strength_strip_of) < 0) {
        goto done;
    }
    result = Py_NewRef(Py_None);
done:
    release_arrays(a, 9);
    return result;
}
