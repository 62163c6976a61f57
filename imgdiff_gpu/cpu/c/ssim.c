/* The SSIM map of two 2-D images in one fused float64 pass.
 *
 * C twin of the kernel behind imgdiff_gpu/cpu/ssim.py (ssim_map_2d, ssim_map_and_bounds),
 * which chooses the strips and validates; mirrors kernels/ssim.cu. Strips of output rows
 * run in parallel; each walks its input rows once (borders reflected like scipy.ndimage's
 * 'reflect'), filters the four moments (x, y, x^2 + y^2, xy) horizontally into a ring of
 * the last `taps` + 1 rows, each stored twice (slots s and s + taps + 1) so the windows of
 * every two consecutive output rows are a run of consecutive slots, then filters the two
 * windows vertically together (each ring row loaded once for both: 12 loads for two rows of
 * an 11-tap window instead of 22, the sums the same, bit for bit) and applies the formula,
 * a block of BLOCK_COLUMNS columns at a time so the ring stays in L2.
 *
 * ssim_screen is the same pass with the video screen's luma bounds computed from the window
 * means as each output row is done (screen_row; imgdiff_gpu/cpu/ssim.py ssim_map_and_screen):
 * the map is the same, bit for bit.
 */
#include "core.h"

#define BLOCK_COLUMNS 256

/* What the video screen (imgdiff_gpu/screening.py) takes from the pass besides the map and the two
 * statistics: the luma shift s = ux - uy - bias (its window means, float64) as a float32 plane, its
 * largest |s| per row and (per strip) per column, and per strip the largest |s| over a lower bound of
 * the strength pass's luma threshold scale at the counted pixels (see shift_over_scale). */
typedef struct {
    double bias;
    double masking;    /* the masking per unit of shared contrast, over the luma threshold (0: none) */
    double floor;      /* |s| below this needs no scale (the threshold times 1 - MARGIN: scales are >= 1) */
    double slack;      /* taken off each variance first, times its second moment: the full path's float32 rounding */
    const float *row_factors, *column_factors; /* the window's border noise factors */
    float *shift;                              /* H x W */
    float *row_peaks;                          /* H */
    float *column_peaks;                       /* strips x W */
    float *row_masked; /* H, or NULL: each row's largest |s| / scale bound at a counted pixel (as `masked`) */
} screen_extras;

typedef struct {
    const void *x, *y;
    Py_ssize_t x_row, x_column, y_row, y_column; /* strides, in elements (a plane of a stack: 1 pixel is P) */
    elem_t type;
    const uint8_t *counted; /* NULL: every pixel counts */
    const double *w;
    int taps;
    double C1, C2, cov_norm;
    Py_ssize_t height, width, strip_rows;
    double *out;
    double *stats; /* NULL, or two per strip: largest |ux - uy|, smallest SSIM (three with a screen) */
    const screen_extras *screen; /* NULL, or the video screen's bounds, computed alongside (ssim_screen) */
} ssim_job;

/* Inputs x, y, x^2 + y^2, xy of row `source` over columns [first_column - radius,
 * first_column + count + radius), borders reflected; index c - (first_column - radius)
 * holds column c. Contiguous rows and a stack's luma in loops of their own, which vectorize. */
#define LOAD_ROW(T) \
    do { \
        const T *xr = (const T *)job->x + source * job->x_row; \
        const T *yr = (const T *)job->y + source * job->y_row; \
        if (job->x_column == 1 && job->y_column == 1) { \
            LOAD_COLUMNS(T, xr[c], yr[c]); \
        } else if (job->x_column == 3 && job->y_column == 3) { /* luma of a Y, Cr, Cb stack */ \
            LOAD_COLUMNS(T, xr[3 * c], yr[3 * c]); \
        } else { \
            LOAD_COLUMNS(T, xr[c * job->x_column], yr[c * job->y_column]); \
        } \
    } while (0)
#define LOAD_COLUMNS(T, x_at_c, y_at_c) \
    do { \
        for (Py_ssize_t c = lo; c < hi; c++) { \
            double a = (double)(x_at_c), b = (double)(y_at_c); \
            px[c - offset] = a; \
            py[c - offset] = b; \
            psq[c - offset] = fma(a, a, b * b); \
            pxy[c - offset] = a * b; \
        } \
    } while (0)

IMGDIFF_INLINE void load(const ssim_job *job, Py_ssize_t source, Py_ssize_t first_column, Py_ssize_t count,
                         int radius, double *inputs, Py_ssize_t stride)
{
    Py_ssize_t width = job->width, offset = first_column - radius;
    Py_ssize_t lo = offset > 0 ? offset : 0;
    Py_ssize_t hi = first_column + count + radius < width ? first_column + count + radius : width;
    double *px = inputs, *py = inputs + stride, *psq = inputs + 2 * stride, *pxy = inputs + 3 * stride;
    switch (job->type) {
    case ELEM_U8:
        LOAD_ROW(uint8_t);
        break;
    case ELEM_I8:
        LOAD_ROW(int8_t);
        break;
    case ELEM_U16:
        LOAD_ROW(uint16_t);
        break;
    case ELEM_I16:
        LOAD_ROW(int16_t);
        break;
    case ELEM_F32:
        LOAD_ROW(float);
        break;
    default:
        LOAD_ROW(double);
        break;
    }
    for (Py_ssize_t c = offset; c < 0; c++) { /* left of the image: column -1 - k is column k */
        for (int m = 0; m < 4; m++) {
            inputs[m * stride + c - offset] = inputs[m * stride - c - 1 - offset];
        }
    }
    for (Py_ssize_t c = width; c < first_column + count + radius; c++) { /* right: width + k is width - 1 - k */
        for (int m = 0; m < 4; m++) {
            inputs[m * stride + c - offset] = inputs[m * stride + 2 * width - c - 1 - offset];
        }
    }
}

IMGDIFF_INLINE void formula(const double *means, double C1, double C2, double cov_norm, double *out_row,
                            Py_ssize_t count)
{
    const double *ux = means, *uy = means + BLOCK_COLUMNS, *usq = means + 2 * BLOCK_COLUMNS,
                 *uxy = means + 3 * BLOCK_COLUMNS;
    double twice_cov_norm = 2.0 * cov_norm;
    for (Py_ssize_t j = 0; j < count; j++) {
        double ux_uy = ux[j] * uy[j];
        double ux2_uy2 = fma(ux[j], ux[j], uy[j] * uy[j]);
        double twice_vxy_c2 = fma(twice_cov_norm, uxy[j] - ux_uy, C2);
        double vx_vy_c2 = fma(cov_norm, usq[j] - ux2_uy2, C2);
        out_row[j] = ((2.0 * ux_uy + C1) * twice_vxy_c2) / ((ux2_uy2 + C1) * vx_vy_c2);
    }
}

/* sum_ij w_i w_j x[i, j]^2 over the window of (row, column), borders reflected: the window's second
 * moment of x alone (the pass filters x^2 + y^2 together), for the few pixels that need it. */
static double window_square(const ssim_job *job, Py_ssize_t row, Py_ssize_t column)
{
    const int radius = job->taps / 2;
    const float *x = job->x;
    double total = 0.0;
    for (int i = -radius; i <= radius; i++) {
        const float *source = x + reflect(row + i, job->height) * job->x_row;
        double along = 0.0;
        for (int j = -radius; j <= radius; j++) {
            double v = source[reflect(column + j, job->width) * job->x_column];
            along += job->w[j + radius] * (v * v);
        }
        total += job->w[i + radius] * along;
    }
    return total;
}

/* |s| over a lower bound of the luma threshold's scale at one pixel, the scale being what the strength
 * pass divides by: (1 + masking * contrast) * the border noise factors, contrast the smaller of the two
 * windows' standard deviations (detection.shared_contrast). vx from x's own second moment, vy from the
 * pass's x^2 + y^2 less it, in float64; each less `slack` times its second moment (which covers the full
 * path's float32 moments) never exceeds the full path's variance, so the scale never exceeds its scale. */
static double shift_over_scale(const ssim_job *job, const double *means, Py_ssize_t j, Py_ssize_t row,
                               Py_ssize_t column, double shift)
{
    const screen_extras *e = job->screen;
    double ux = means[j], uy = means[BLOCK_COLUMNS + j], usq = means[2 * BLOCK_COLUMNS + j];
    double contrast = 0.0;
    if (e->masking > 0.0) {
        double square_x = window_square(job, row, column), square_y = usq - square_x;
        double vx = square_x - ux * ux - e->slack * square_x, vy = square_y - uy * uy - e->slack * square_y;
        double smaller = vx < vy ? vx : vy;
        contrast = smaller > 0.0 ? sqrt(smaller) : 0.0;
    }
    double scale = (1.0 + e->masking * contrast) * (double)e->row_factors[row] * (double)e->column_factors[column];
    return shift / scale;
}

/* The screen's loop over a block of one output row, with COUNTS(j) whether pixel j counts: branch-free,
 * so that it vectorizes. |s| in float32 (its rounding, ~6e-8 of it, is far inside the screen's margin)
 * is never negative, so its bits order as unsigned integers do, and the largest is taken of those,
 * counted or not by masking the bits: GCC vectorizes integer maxima of masked values, not float maxima
 * (whose NaN and signed-zero rules it keeps without -ffast-math) nor conditional ones. */
#define SCREEN_LOOP(COUNTS) \
    do { \
        for (Py_ssize_t j = 0; j < count; j++) { \
            float s = (float)(ux[j] - uy[j] - bias), a = fabsf(s); \
            shift[j] = s; \
            uint32_t a_bits; \
            memcpy(&a_bits, &a, sizeof a_bits); \
            row_bits = a_bits > row_bits ? a_bits : row_bits; \
            column_bits[j] = a_bits > column_bits[j] ? a_bits : column_bits[j]; \
            uint32_t counted_bits = a_bits & (0u - (uint32_t)((COUNTS) != 0)); \
            uint32_t under = counted_bits & (0u - (uint32_t)(a < floor)); \
            counted_peak = counted_bits > counted_peak ? counted_bits : counted_peak; \
            under_bits = under > under_bits ? under : under_bits; \
        } \
    } while (0)

/* The screen's share of one output row's block: the shift written, its peaks, and the largest
 * |s| / scale bound at a counted pixel (|s| itself where below the floor), folded into `masked` and,
 * where asked for, the row's own (the rows a clip's noise peak can come from: clip_noise.frame_peak). */
IMGDIFF_INLINE double screen_row(const ssim_job *job, Py_ssize_t strip, const double *means, Py_ssize_t row,
                                 Py_ssize_t first_column, Py_ssize_t count, double masked)
{
    const screen_extras *e = job->screen;
    const double *ux = means, *uy = means + BLOCK_COLUMNS;
    float *restrict shift = e->shift + row * job->width + first_column;
    uint32_t *restrict column_bits = (uint32_t *)(e->column_peaks + strip * job->width + first_column);
    const uint8_t *counted = job->counted ? job->counted + row * job->width + first_column : NULL;
    const double bias = e->bias;
    const float floor = (float)e->floor;
    float row_peak = first_column == 0 ? 0.0f : e->row_peaks[row];
    uint32_t row_bits, counted_peak = 0, under_bits = 0; /* counted: every |s|; under: those below the floor */
    memcpy(&row_bits, &row_peak, sizeof row_bits);
    if (row == strip * job->strip_rows) {
        for (Py_ssize_t j = 0; j < count; j++) {
            column_bits[j] = 0; /* 0.0f */
        }
    }
    if (counted == NULL) {
        SCREEN_LOOP(1);
    } else {
        SCREEN_LOOP(counted[j]);
    }
    float under, peak;
    memcpy(&under, &under_bits, sizeof under);
    memcpy(&peak, &counted_peak, sizeof peak);
    memcpy(&row_peak, &row_bits, sizeof row_peak);
    e->row_peaks[row] = row_peak;
    double row_masked = (double)under;
    for (Py_ssize_t j = 0; peak >= floor && j < count; j++) { /* few pixels: a frame of codec noise, ~0.1 % */
        float a = fabsf((float)(ux[j] - uy[j] - bias));
        if ((counted == NULL || counted[j]) && a >= floor) {
            double over = shift_over_scale(job, means, j, row, first_column + j, fabs(ux[j] - uy[j] - bias));
            row_masked = over > row_masked ? over : row_masked;
        }
    }
    if (e->row_masked != NULL) { /* in float32, rounded up: a bound stays one */
        float bound = nextafterf((float)row_masked, INFINITY), previous = first_column == 0 ? 0.0f : e->row_masked[row];
        e->row_masked[row] = bound > previous ? bound : previous;
    }
    return row_masked > masked ? row_masked : masked;
}

/* filter_across_d for two consecutive output rows at once, from the taps + 1 rows of their windows:
 * each row of the ring is loaded once for both, and each row's sum is taken tap by tap in
 * filter_across_d's order, so both are its values, bit for bit. */
IMGDIFF_INLINE void filter_across_two(int taps, const double *w, const double *rows, Py_ssize_t first,
                                      double *restrict upper, double *restrict lower, Py_ssize_t count)
{
    const double *top = rows + first * BLOCK_COLUMNS;
    for (Py_ssize_t j = 0; j < count; j++) {
        double v = top[j];
        double acc0 = fma(w[0], v, 0.0), acc1 = 0.0;
        for (int k = 1; k < taps; k++) {
            v = top[k * BLOCK_COLUMNS + j];
            acc1 = fma(w[k - 1], v, acc1);
            acc0 = fma(w[k], v, acc0);
        }
        acc1 = fma(w[taps - 1], top[taps * BLOCK_COLUMNS + j], acc1);
        upper[j] = acc0;
        lower[j] = acc1;
    }
}

/* The statistics and the screen's share of one finished output row. */
IMGDIFF_INLINE void row_done(const ssim_job *job, Py_ssize_t strip, const double *means, Py_ssize_t row,
                             Py_ssize_t first_column, Py_ssize_t count, double *luma_shift, double *min_ssim,
                             double *masked)
{
    const double *out_row = job->out + row * job->width + first_column;
    if (job->stats != NULL) {
        const uint8_t *counted = job->counted ? job->counted + row * job->width + first_column : NULL;
        for (Py_ssize_t j = 0; j < count; j++) {
            if (counted == NULL || counted[j]) {
                double shift = fabs(means[j] - means[BLOCK_COLUMNS + j]);
                *luma_shift = NUMBA_MAX(*luma_shift, shift);
                *min_ssim = NUMBA_MIN(*min_ssim, out_row[j]);
            }
        }
    }
    if (job->screen != NULL) {
        *masked = screen_row(job, strip, means, row, first_column, count, *masked);
    }
}

/* One strip; `work` holds the inputs, the ring and the means. */
IMGDIFF_CLONES static void ssim_strip(const ssim_job *job, Py_ssize_t strip, double *work)
{
    const int taps = job->taps, radius = taps / 2;
    const double *w = job->w;
    const Py_ssize_t height = job->height, width = job->width;
    const Py_ssize_t top = strip * job->strip_rows;
    const Py_ssize_t bottom = strip_end(strip, job->strip_rows, height);
    const Py_ssize_t stride = BLOCK_COLUMNS + 2 * radius;
    const int slots = taps + 1; /* the ring holds the windows of two output rows */
    double *inputs = work;                               /* 4 x stride */
    double *ring = inputs + 4 * stride;                  /* 4 x 2 slots x BLOCK_COLUMNS */
    double *means = ring + 4 * 2 * slots * BLOCK_COLUMNS; /* 2 rows x 4 x BLOCK_COLUMNS */
    double *lower_means = means + 4 * BLOCK_COLUMNS;
    const Py_ssize_t ring_moment = 2 * slots * BLOCK_COLUMNS;
    double luma_shift = 0.0, min_ssim = 1.0, masked = 0.0;
    prefault(job->out + top * width, (size_t)(bottom - top) * width * sizeof(double));
    for (Py_ssize_t first_column = 0; first_column < width; first_column += BLOCK_COLUMNS) {
        Py_ssize_t count = width - first_column < BLOCK_COLUMNS ? width - first_column : BLOCK_COLUMNS;
        for (Py_ssize_t r = top - radius; r < bottom + radius; r++) {
            load(job, reflect(r, height), first_column, count, radius, inputs, stride);
            Py_ssize_t slot = (r - top + radius) % slots;
            for (int m = 0; m < 4; m++) {
                double *target = ring + m * ring_moment + slot * BLOCK_COLUMNS;
#define ALONG(t) filter_along_d((t), w, inputs + m * stride, target, count)
                DISPATCH_TAPS(taps, ALONG);
#undef ALONG
                memcpy(target + slots * BLOCK_COLUMNS, target, count * sizeof(double));
            }
            Py_ssize_t row = r - radius; /* the output row whose window ends with input row r */
            if (row < top || ((row - top) % 2 == 0 && row + 1 < bottom)) {
                continue; /* the first of two rows waits for the second */
            }
            double *out_row = job->out + row * width + first_column;
            if ((row - top) % 2 == 0) { /* the strip's last row, alone */
                Py_ssize_t first = (row - top) % slots;
                for (int m = 0; m < 4; m++) {
#define ACROSS(t) \
    filter_across_d((t), w, ring + m * ring_moment, BLOCK_COLUMNS, first, means + m * BLOCK_COLUMNS, count)
                    DISPATCH_TAPS(taps, ACROSS);
#undef ACROSS
                }
                formula(means, job->C1, job->C2, job->cov_norm, out_row, count);
                row_done(job, strip, means, row, first_column, count, &luma_shift, &min_ssim, &masked);
                continue;
            }
            Py_ssize_t first = (row - 1 - top) % slots;
            for (int m = 0; m < 4; m++) {
#define ACROSS(t) \
    filter_across_two((t), w, ring + m * ring_moment, first, means + m * BLOCK_COLUMNS, \
                      lower_means + m * BLOCK_COLUMNS, count)
                DISPATCH_TAPS(taps, ACROSS);
#undef ACROSS
            }
            formula(means, job->C1, job->C2, job->cov_norm, out_row - width, count);
            row_done(job, strip, means, row - 1, first_column, count, &luma_shift, &min_ssim, &masked);
            formula(lower_means, job->C1, job->C2, job->cov_norm, out_row, count);
            row_done(job, strip, lower_means, row, first_column, count, &luma_shift, &min_ssim, &masked);
        }
    }
    if (job->stats != NULL) {
        const int per_strip = job->screen != NULL ? 3 : 2;
        job->stats[per_strip * strip] = luma_shift;
        job->stats[per_strip * strip + 1] = min_ssim;
        if (job->screen != NULL) {
            job->stats[per_strip * strip + 2] = masked;
        }
    }
}

static const elem_t SSIM_INPUTS[] = {ELEM_U8, ELEM_I8, ELEM_U16, ELEM_I16, ELEM_F32, ELEM_F64};

/* ssim_strip as run_strips calls it. */
static void ssim_strip_of(const void *job, Py_ssize_t strip, void *work)
{
    ssim_strip(job, strip, work);
}

/* The pass over ox, oy into oout; with `screen`, its extras too (the arrays in `extras`, to check). */
static PyObject *run_ssim(ssim_job job, PyObject *ox, PyObject *oy, PyObject *ocounted, PyObject *ow, PyObject *oout,
                          PyObject *ostats, screen_extras *screen, PyObject **extras)
{
    array_t a[6] = {0}, b[6] = {0};
    PyObject *result = NULL;
    job.screen = screen;
    if (get_strided_array(ox, &a[0], "x", 2) < 0 || get_strided_array(oy, &a[1], "y", 2) < 0 ||
        get_array(ocounted, &a[2], "counted", 2, 0, 1) < 0 || get_array(ow, &a[3], "weights", 1, 0, 0) < 0 ||
        get_array(oout, &a[4], "out", 2, 1, 0) < 0 || get_array(ostats, &a[5], "stats", 2, 1, 1) < 0) {
        goto done;
    }
    static const elem_t F64[] = {ELEM_F64}, BOOL[] = {ELEM_BOOL, ELEM_U8};
    job.height = a[0].view.shape[0];
    job.width = a[0].view.shape[1];
    job.taps = (int)a[3].view.shape[0];
    Py_ssize_t strips = job.strip_rows > 0 ? (job.height + job.strip_rows - 1) / job.strip_rows : 0;
    Py_ssize_t stats_shape[2] = {strips, screen != NULL ? 3 : 2};
    if (expect_type(&a[0], "x", SSIM_INPUTS, 6) < 0 || expect_shape(&a[1], "y", a[0].view.shape, 2) < 0 ||
        expect_shape(&a[4], "out", a[0].view.shape, 2) < 0 || expect_type(&a[3], "weights", F64, 1) < 0 ||
        expect_type(&a[4], "out", F64, 1) < 0 ||
        (a[2].present && (expect_type(&a[2], "counted", BOOL, 2) < 0 ||
                          expect_shape(&a[2], "counted", a[0].view.shape, 2) < 0)) ||
        (a[5].present && (expect_type(&a[5], "stats", F64, 1) < 0 || expect_shape(&a[5], "stats", stats_shape, 2) < 0))) {
        goto done;
    }
    if (a[1].type != a[0].type) {
        PyErr_Format(PyExc_TypeError, "x and y must have one type, got %s and %s", elem_name(a[0].type),
                     elem_name(a[1].type));
        goto done;
    }
    if (job.strip_rows < 1 || job.taps % 2 != 1 || job.taps / 2 >= job.height || job.taps / 2 >= job.width) {
        PyErr_SetString(PyExc_ValueError, "ssim: needs strip_rows >= 1 and an odd window narrower than the image");
        goto done;
    }
    job.x = a[0].view.buf;
    job.y = a[1].view.buf;
    job.x_row = a[0].view.strides[0] / a[0].view.itemsize;
    job.x_column = a[0].view.strides[1] / a[0].view.itemsize;
    job.y_row = a[1].view.strides[0] / a[1].view.itemsize;
    job.y_column = a[1].view.strides[1] / a[1].view.itemsize;
    job.type = a[0].type;
    job.counted = a[2].present ? a[2].view.buf : NULL;
    job.w = a[3].view.buf;
    job.out = a[4].view.buf;
    job.stats = a[5].present ? a[5].view.buf : NULL;
    if (screen != NULL) {
        static const elem_t F32[] = {ELEM_F32};
        const Py_ssize_t *shape = a[0].view.shape, peaks_shape[2] = {strips, shape[1]};
        if (get_array(extras[0], &b[0], "row_factors", 1, 0, 0) < 0 ||
            get_array(extras[1], &b[1], "column_factors", 1, 0, 0) < 0 ||
            get_array(extras[2], &b[2], "shift", 2, 1, 0) < 0 || get_array(extras[3], &b[3], "row_peaks", 1, 1, 0) < 0 ||
            get_array(extras[4], &b[4], "column_peaks", 2, 1, 0) < 0 || expect_type(&b[0], "row_factors", F32, 1) < 0 ||
            expect_shape(&b[0], "row_factors", shape, 1) < 0 || expect_type(&b[1], "column_factors", F32, 1) < 0 ||
            expect_shape(&b[1], "column_factors", shape + 1, 1) < 0 || expect_type(&b[3], "row_peaks", F32, 1) < 0 ||
            expect_shape(&b[3], "row_peaks", shape, 1) < 0 || expect_type(&b[4], "column_peaks", F32, 1) < 0 ||
            expect_shape(&b[4], "column_peaks", peaks_shape, 2) < 0 ||
            expect_type(&b[2], "shift", F32, 1) < 0 || expect_shape(&b[2], "shift", shape, 2) < 0 ||
            get_array(extras[5], &b[5], "row_masked", 1, 1, 1) < 0 ||
            (b[5].present && (expect_type(&b[5], "row_masked", F32, 1) < 0 ||
                              expect_shape(&b[5], "row_masked", shape, 1) < 0))) {
            goto done;
        }
        if (job.type != ELEM_F32 || !a[5].present) {
            PyErr_SetString(PyExc_TypeError, "ssim_screen: needs float32 luma planes and stats");
            goto done;
        }
        screen->row_factors = b[0].view.buf;
        screen->column_factors = b[1].view.buf;
        screen->shift = b[2].view.buf;
        screen->row_peaks = b[3].view.buf;
        screen->column_peaks = b[4].view.buf;
        screen->row_masked = b[5].present ? b[5].view.buf : NULL;
    }
    size_t work_doubles = 4 * (BLOCK_COLUMNS + 2 * (size_t)(job.taps / 2)) +
                          4 * 2 * ((size_t)job.taps + 1) * BLOCK_COLUMNS + 2 * 4 * BLOCK_COLUMNS;
    if (run_strips(&job, strips, work_doubles * sizeof(double), ssim_strip_of) < 0) {
        goto done;
    }
    result = Py_NewRef(Py_None);
done:
    release_arrays(a, 6);
    release_arrays(b, 6);
    return result;
}

PyObject *core_ssim(PyObject *self, PyObject *args)
{
    PyObject *ox, *oy, *ocounted, *ow, *oout, *ostats;
    ssim_job job = {0};
    if (!PyArg_ParseTuple(args, "OOOOdddnOO", &ox, &oy, &ocounted, &ow, &job.C1, &job.C2, &job.cov_norm,
                          &job.strip_rows, &oout, &ostats)) {
        return NULL;
    }
    return run_ssim(job, ox, oy, ocounted, ow, oout, ostats, NULL, NULL);
}

PyObject *core_ssim_screen(PyObject *self, PyObject *args)
{
    PyObject *ox, *oy, *ocounted, *ow, *oout, *ostats, *extras[6];
    ssim_job job = {0};
    screen_extras screen = {0};
    if (!PyArg_ParseTuple(args, "OOOOdddnOOddddOOOOOO", &ox, &oy, &ocounted, &ow, &job.C1, &job.C2, &job.cov_norm,
                          &job.strip_rows, &oout, &ostats, &screen.bias, &screen.masking, &screen.floor, &screen.slack,
                          &extras[0], &extras[1], &extras[2], &extras[3], &extras[4], &extras[5])) {
        return NULL;
    }
    return run_ssim(job, ox, oy, ocounted, ow, oout, ostats, &screen, extras);
}
