/* Video screening: both RGB frames' luma planes and per row the largest luma, chroma and RGB steps.
 *
 * C twin of the kernel behind imgdiff_gpu/cpu/screen.py (frame_steps); the GPU path has no
 * screen (kernels/ssim.cu gives the map there). Luma from the same integer numerators as
 * planes.c, so bit for bit the image path's luma; the steps in int64 (the squared chroma
 * step needs it), counted only within reach of a counted pixel. Also the sums of the RGB
 * differences over blocks (block_differences), for the screen's coarse chroma bound.
 */
#include "core.h"

IMGDIFF_INLINE void steps_row_of(const uint8_t *left, const uint8_t *right, const uint8_t *within, Py_ssize_t width,
                                 double to_luma, float *luma_x, float *luma_y, int64_t *steps, int reaching)
{
    /* Every numerator but the squared chroma step fits int32 (|713 (1000 dR - dN)| < 2**29),
     * and int32 lanes vectorize where int64 products do not; the squares are widened. A pixel
     * out of reach counts 0, as the steps are never negative. */
    int32_t d_luma = 0, d_rgb = 0;
    int64_t d_chroma = 0;
    for (Py_ssize_t j = 0; j < width; j++) {
        int32_t r_x = left[3 * j], g_x = left[3 * j + 1], b_x = left[3 * j + 2];
        int32_t r_y = right[3 * j], g_y = right[3 * j + 1], b_y = right[3 * j + 2];
        int32_t n_x = 299 * r_x + 587 * g_x + 114 * b_x;
        int32_t n_y = 299 * r_y + 587 * g_y + 114 * b_y;
        luma_x[j] = (float)((double)n_x * to_luma);
        luma_y[j] = (float)((double)n_y * to_luma);
        int32_t dr = r_x - r_y, dg = g_x - g_y, db = b_x - b_y;
        int32_t d_n = 299 * dr + 587 * dg + 114 * db;
        int32_t d_cr = 713 * (1000 * dr - d_n), d_cb = 564 * (1000 * db - d_n);
        int32_t counts = reaching ? within[j] != 0 : 1;
        int32_t luma_step = counts ? abs(d_n) : 0;
        int64_t chroma_step = counts ? (int64_t)d_cr * d_cr + (int64_t)d_cb * d_cb : 0;
        int32_t largest = abs(dr) > abs(dg) ? abs(dr) : abs(dg);
        largest = abs(db) > largest ? abs(db) : largest;
        largest = counts ? largest : 0;
        d_luma = luma_step > d_luma ? luma_step : d_luma;
        d_chroma = chroma_step > d_chroma ? chroma_step : d_chroma;
        d_rgb = largest > d_rgb ? largest : d_rgb;
    }
    steps[0] = d_luma;
    steps[1] = d_chroma;
    steps[2] = d_rgb;
}

/* steps_row_of with the reach known to be there or not, so the loop has no branch. */
IMGDIFF_CLONES static void steps_row(const uint8_t *left, const uint8_t *right, const uint8_t *within,
                                     Py_ssize_t width, double to_luma, float *luma_x, float *luma_y, int64_t *steps)
{
    if (within != NULL) {
        steps_row_of(left, right, within, width, to_luma, luma_x, luma_y, steps, 1);
    } else {
        steps_row_of(left, right, NULL, width, to_luma, luma_x, luma_y, steps, 0);
    }
}

/* Adds one row's RGB differences to `down` (one int32 per level; `first`: sets it instead): the
 * column sums down a row of blocks, a loop that vectorizes. */
IMGDIFF_INLINE void difference_down(const uint8_t *left, const uint8_t *right, int32_t *down, Py_ssize_t levels,
                                    int first)
{
    if (first) {
        for (Py_ssize_t j = 0; j < levels; j++) {
            down[j] = (int32_t)left[j] - (int32_t)right[j];
        }
    } else {
        for (Py_ssize_t j = 0; j < levels; j++) {
            down[j] += (int32_t)left[j] - (int32_t)right[j];
        }
    }
}

/* The column sums of a row of blocks summed across each block's columns. At most 255 * factor**2. */
IMGDIFF_INLINE void block_sums_of(const int32_t *down, int32_t *sums, Py_ssize_t blocks, int factor)
{
    for (Py_ssize_t b = 0; b < blocks; b++) {
        const int32_t *block = down + b * factor * 3;
        int32_t red = 0, green = 0, blue = 0;
        for (int j = 0; j < factor; j++) {
            red += block[3 * j];
            green += block[3 * j + 1];
            blue += block[3 * j + 2];
        }
        sums[3 * b] = red;
        sums[3 * b + 1] = green;
        sums[3 * b + 2] = blue;
    }
}

typedef struct {
    const uint8_t *left, *right, *reach;
    double to_luma;
    float *luma_left, *luma_right;
    int64_t *steps;
    int32_t *sums; /* NULL, or per block of factor x factor pixels the sums of the RGB differences */
    Py_ssize_t height, width, strip_rows;
    int factor;
} steps_job;

/* A strip of rows: their luma and steps, and where sums are asked (the strip is then one row of
 * blocks) the sums of its RGB differences over each block, from rows still in the cache. */
IMGDIFF_CLONES static void steps_strip(const void *job_, Py_ssize_t strip, void *work)
{
    const steps_job *job = job_;
    const Py_ssize_t width = job->width, levels = width * 3;
    const Py_ssize_t top = strip * job->strip_rows, bottom = strip_end(strip, job->strip_rows, job->height);
    int32_t *down = work;
    for (Py_ssize_t i = top; i < bottom; i++) {
        const uint8_t *left = job->left + i * levels, *right = job->right + i * levels;
        steps_row(left, right, job->reach ? job->reach + i * width : NULL, width, job->to_luma,
                  job->luma_left + i * width, job->luma_right + i * width, job->steps + 3 * i);
        if (job->sums != NULL) {
            difference_down(left, right, down, levels, i == top);
        }
    }
    if (job->sums != NULL) {
        block_sums_of(down, job->sums + strip * (width / job->factor) * 3, width / job->factor, job->factor);
    }
}

PyObject *core_frame_steps(PyObject *self, PyObject *args)
{
    PyObject *oleft, *oright, *oreach, *oluma_left, *oluma_right, *osteps, *osums;
    double to_luma;
    int factor;
    if (!PyArg_ParseTuple(args, "OOOdOOOiO", &oleft, &oright, &oreach, &to_luma, &oluma_left, &oluma_right, &osteps,
                          &factor, &osums)) {
        return NULL;
    }
    array_t a[7] = {0};
    PyObject *result = NULL;
    static const elem_t U8[] = {ELEM_U8}, BOOL[] = {ELEM_BOOL, ELEM_U8}, F32[] = {ELEM_F32}, I64[] = {ELEM_I64},
                        I32[] = {ELEM_I32};
    if (get_array(oleft, &a[0], "left", 3, 0, 0) < 0 || get_array(oright, &a[1], "right", 3, 0, 0) < 0 ||
        get_array(oreach, &a[2], "reach", 2, 0, 1) < 0 || get_array(oluma_left, &a[3], "luma_left", 2, 1, 0) < 0 ||
        get_array(oluma_right, &a[4], "luma_right", 2, 1, 0) < 0 || get_array(osteps, &a[5], "steps", 2, 1, 0) < 0 ||
        get_array(osums, &a[6], "sums", 3, 1, 1) < 0) {
        goto done;
    }
    const Py_ssize_t *shape = a[0].view.shape;
    const Py_ssize_t height = shape[0], width = shape[1];
    Py_ssize_t steps_shape[2] = {height, 3};
    if (expect_type(&a[0], "left", U8, 1) < 0 || expect_type(&a[1], "right", U8, 1) < 0 ||
        expect_shape(&a[1], "right", shape, 3) < 0 || expect_type(&a[3], "luma_left", F32, 1) < 0 ||
        expect_shape(&a[3], "luma_left", shape, 2) < 0 || expect_type(&a[4], "luma_right", F32, 1) < 0 ||
        expect_shape(&a[4], "luma_right", shape, 2) < 0 || expect_type(&a[5], "steps", I64, 1) < 0 ||
        expect_shape(&a[5], "steps", steps_shape, 2) < 0 ||
        (a[2].present && (expect_type(&a[2], "reach", BOOL, 2) < 0 || expect_shape(&a[2], "reach", shape, 2) < 0))) {
        goto done;
    }
    if (shape[2] != 3) {
        PyErr_SetString(PyExc_ValueError, "frame_steps: needs RGB frames");
        goto done;
    }
    steps_job job = {a[0].view.buf, a[1].view.buf, a[2].present ? a[2].view.buf : NULL, to_luma, a[3].view.buf,
                     a[4].view.buf, a[5].view.buf, NULL, height, width, 16, factor};
    if (a[6].present) {
        if (factor < 1 || factor > 64 || height % factor || width % factor) {
            PyErr_SetString(PyExc_ValueError, "frame_steps: block sums need sides that are multiples of factor");
            goto done;
        }
        const Py_ssize_t sums_shape[3] = {height / factor, width / factor, 3};
        if (expect_type(&a[6], "sums", I32, 1) < 0 || expect_shape(&a[6], "sums", sums_shape, 3) < 0) {
            goto done;
        }
        job.sums = a[6].view.buf;
        job.strip_rows = factor;
    }
    Py_ssize_t strips = (height + job.strip_rows - 1) / job.strip_rows;
    if (run_strips(&job, strips, (size_t)width * 3 * sizeof(int32_t), steps_strip) < 0) {
        goto done;
    }
    result = Py_NewRef(Py_None);
done:
    release_arrays(a, 7);
    return result;
}

typedef struct {
    const uint8_t *left, *right;
    int32_t *sums;
    Py_ssize_t width, blocks;
    int factor;
} block_job;

/* One row of blocks: the factor rows' differences summed down each column, then across each block. */
IMGDIFF_CLONES static void block_row(const void *job_, Py_ssize_t strip, void *work)
{
    const block_job *job = job_;
    const Py_ssize_t levels = job->width * 3;
    int32_t *down = work;
    const uint8_t *left = job->left + strip * job->factor * levels, *right = job->right + strip * job->factor * levels;
    for (int k = 0; k < job->factor; k++) {
        difference_down(left + k * levels, right + k * levels, down, levels, k == 0);
    }
    block_sums_of(down, job->sums + strip * job->blocks * 3, job->blocks, job->factor);
}

/* block_differences(left, right, factor, sums): per block of factor x factor pixels of two
 * H x W x 3 uint8 frames (H and W multiples of factor), the sums of the RGB differences (int32,
 * H / factor x W / factor x 3): exact, where OpenCV's area resize of float frames rounds. */
PyObject *core_block_differences(PyObject *self, PyObject *args)
{
    PyObject *oleft, *oright, *osums;
    int factor;
    if (!PyArg_ParseTuple(args, "OOiO", &oleft, &oright, &factor, &osums)) {
        return NULL;
    }
    array_t a[3] = {0};
    PyObject *result = NULL;
    static const elem_t U8[] = {ELEM_U8}, I32[] = {ELEM_I32};
    if (get_array(oleft, &a[0], "left", 3, 0, 0) < 0 || get_array(oright, &a[1], "right", 3, 0, 0) < 0 ||
        get_array(osums, &a[2], "sums", 3, 1, 0) < 0 || expect_type(&a[0], "left", U8, 1) < 0 ||
        expect_type(&a[1], "right", U8, 1) < 0 || expect_type(&a[2], "sums", I32, 1) < 0 ||
        expect_shape(&a[1], "right", a[0].view.shape, 3) < 0) {
        goto done;
    }
    const Py_ssize_t height = a[0].view.shape[0], width = a[0].view.shape[1];
    if (factor < 1 || factor > 64 || a[0].view.shape[2] != 3 || height % factor || width % factor) {
        PyErr_SetString(PyExc_ValueError, "block_differences: needs RGB frames whose sides are multiples of factor");
        goto done;
    }
    const Py_ssize_t sums_shape[3] = {height / factor, width / factor, 3};
    if (expect_shape(&a[2], "sums", sums_shape, 3) < 0) {
        goto done;
    }
    block_job job = {a[0].view.buf, a[1].view.buf, a[2].view.buf, width, sums_shape[1], factor};
    if (run_strips(&job, sums_shape[0], (size_t)width * 3 * sizeof(int32_t), block_row) < 0) {
        goto done;
    }
    result = Py_NewRef(Py_None);
done:
    release_arrays(a, 3);
    return result;
}

#define SAMPLES_CHUNK 16

typedef struct {
    const float *shift, *taps, *row_factors, *column_factors, *line_rows, *line_columns;
    float *line, *noise;
    float *sampled; /* H x columns: every row of the shift at the sampled columns (sampled_columns) */
    Py_ssize_t height, width, step, columns; /* columns: sampled per sampled row */
    int taps_count;
} samples_job;

/* A strip of rows of the shift at the sampled columns, side by side: the averages along the columns
 * then read them as contiguous rows (each is read by the ~taps / step sampled rows whose window
 * covers it), in loops that vectorize, where strided reads of the plane do not. */
static void sampled_columns(const void *job_, Py_ssize_t strip, void *work)
{
    const samples_job *job = job_;
    const Py_ssize_t rows = 64, top = strip * rows, bottom = strip_end(strip, rows, job->height);
    const Py_ssize_t width = job->width, step = job->step, columns = job->columns;
    for (Py_ssize_t row = top; row < bottom; row++) {
        const float *source = job->shift + row * width;
        float *target = job->sampled + row * columns;
        for (Py_ssize_t i = 0; i < columns; i++) {
            target[i] = source[i * step];
        }
    }
}

/* One sampled row: the shift averaged along it and along each sampled column over the line window,
 * at the sampled columns only, each over its window's noise factor. Each average's taps are added in
 * their order (one chain of fmaf per column); the loops run over the sampled columns, each reading
 * contiguous memory: along the columns the rows of `sampled`, along the row the padded row split
 * into its `step` phases (phase p holds padded columns p, p + step, ...: tap k of sampled column i
 * reads padded column step * i + k, which is phase k % step at k / step + i). */
IMGDIFF_CLONES static void samples_row(const void *job_, Py_ssize_t sample, void *work)
{
    const samples_job *job = job_;
    const Py_ssize_t width = job->width, row = sample * job->step, step = job->step, columns = job->columns;
    const int taps = job->taps_count, radius = taps / 2;
    const Py_ssize_t phase_length = columns + taps / step + 1;
    float *restrict phases = work; /* step x phase_length, then along_columns, along_rows and padded */
    float *restrict along_columns = phases + step * phase_length;
    float *restrict along_rows = along_columns + columns;
    const float *source = job->shift + row * width;
    float *restrict padded = along_rows + columns; /* the row, borders reflected */
    memcpy(padded + radius, source, width * sizeof(float));
    for (Py_ssize_t c = 1; c <= radius; c++) { /* the borders, reflected */
        padded[radius - c] = source[reflect(-c, width)];
        padded[radius + width - 1 + c] = source[reflect(width - 1 + c, width)];
    }
    for (Py_ssize_t p = 0; p < step; p++) {
        for (Py_ssize_t m = 0; p + step * m < width + 2 * radius; m++) {
            phases[p * phase_length + m] = padded[p + step * m];
        }
    }
    const float *rows[taps]; /* the sampled rows the window reads, borders reflected */
    for (int k = 0; k < taps; k++) {
        rows[k] = job->sampled + reflect(row + k - radius, job->height) * columns;
    }
    /* SAMPLES_CHUNK columns at a time, so that their sums stay in registers through the taps */
    Py_ssize_t first = 0;
    for (; first + SAMPLES_CHUNK <= columns; first += SAMPLES_CHUNK) {
        float by_columns[SAMPLES_CHUNK] = {0.0f}, by_rows[SAMPLES_CHUNK] = {0.0f};
        const float *from = phases + first;
        for (int k = 0; k < taps; k++) {
            const float w = job->taps[k];
            const float *restrict down = rows[k] + first;
            const float *restrict along = from + (k % step) * phase_length + k / step;
            for (int i = 0; i < SAMPLES_CHUNK; i++) {
                by_columns[i] = fmaf(w, down[i], by_columns[i]);
                by_rows[i] = fmaf(w, along[i], by_rows[i]);
            }
        }
        for (int i = 0; i < SAMPLES_CHUNK; i++) {
            along_columns[first + i] = by_columns[i];
            along_rows[first + i] = by_rows[i];
        }
    }
    for (Py_ssize_t i = first; i < columns; i++) { /* the last few columns, one at a time */
        float by_columns = 0.0f, by_rows = 0.0f;
        for (int k = 0; k < taps; k++) {
            by_columns = fmaf(job->taps[k], rows[k][i], by_columns);
            by_rows = fmaf(job->taps[k], phases[(k % step) * phase_length + k / step + i], by_rows);
        }
        along_columns[i] = by_columns;
        along_rows[i] = by_rows;
    }
    float *line = job->line + sample * columns, *noise = job->noise + sample * columns;
    const float row_factor = job->row_factors[row], line_row = job->line_rows[row];
    for (Py_ssize_t i = 0; i < columns; i++) {
        Py_ssize_t c = i * step;
        float by_rows = fabsf(along_rows[i]) / (row_factor * job->line_columns[c]);
        float by_columns = fabsf(along_columns[i]) / (line_row * job->column_factors[c]);
        line[i] = by_rows > by_columns ? by_rows : by_columns;
        noise[i] = fabsf(source[c]) / (row_factor * job->column_factors[c]);
    }
}

/* line_samples(shift, taps, row_factors, column_factors, line_rows, line_columns, step, line, noise, sampled):
 * at every step-th row and column of the float32 shift, the line evidence and |shift|, each over its
 * window's noise factor (rows of `line` and `noise`: one per sampled row); `sampled` (H x the sampled
 * columns, float32) is the pass's workspace, the caller's so that a video's pairs reuse its memory. */
PyObject *core_line_samples(PyObject *self, PyObject *args)
{
    PyObject *o[9];
    Py_ssize_t step;
    if (!PyArg_ParseTuple(args, "OOOOOOnOOO", &o[0], &o[1], &o[2], &o[3], &o[4], &o[5], &step, &o[6], &o[7],
                          &o[8])) {
        return NULL;
    }
    static const char *names[9] = {"shift", "taps", "row_factors", "column_factors", "line_rows", "line_columns",
                                   "line", "noise", "sampled"};
    static const int dims[9] = {2, 1, 1, 1, 1, 1, 2, 2, 2};
    static const elem_t F32[] = {ELEM_F32};
    array_t a[9] = {0};
    PyObject *result = NULL;
    for (int i = 0; i < 9; i++) {
        if (get_array(o[i], &a[i], names[i], dims[i], i >= 6, 0) < 0 || expect_type(&a[i], names[i], F32, 1) < 0) {
            goto done;
        }
    }
    const Py_ssize_t height = a[0].view.shape[0], width = a[0].view.shape[1];
    const Py_ssize_t taps = a[1].view.shape[0];
    if (step < 1 || taps % 2 != 1 || taps / 2 >= height || taps / 2 >= width) {
        PyErr_SetString(PyExc_ValueError, "line_samples: needs step >= 1 and an odd window narrower than the shift");
        goto done;
    }
    const Py_ssize_t samples_shape[2] = {(height + step - 1) / step, (width + step - 1) / step};
    if (expect_shape(&a[2], "row_factors", &height, 1) < 0 || expect_shape(&a[3], "column_factors", &width, 1) < 0 ||
        expect_shape(&a[4], "line_rows", &height, 1) < 0 || expect_shape(&a[5], "line_columns", &width, 1) < 0 ||
        expect_shape(&a[6], "line", samples_shape, 2) < 0 || expect_shape(&a[7], "noise", samples_shape, 2) < 0) {
        goto done;
    }
    const Py_ssize_t columns = samples_shape[1], sampled_shape[2] = {height, columns};
    if (expect_shape(&a[8], "sampled", sampled_shape, 2) < 0) {
        goto done;
    }
    float *sampled = a[8].view.buf;
    samples_job job = {a[0].view.buf, a[1].view.buf, a[2].view.buf, a[3].view.buf, a[4].view.buf, a[5].view.buf,
                       a[6].view.buf, a[7].view.buf, sampled, height, width, step, columns, (int)taps};
    /* a strip's work: the row padded by the window's radius each side in its step phases, the two
     * averages at the sampled columns, the padded row (samples_row's phases, along_columns, along_rows,
     * padded) */
    const size_t work = (size_t)(step * (columns + taps / step + 1) + 2 * columns + width + taps - 1) * sizeof(float);
    if (run_strips(&job, (height + 63) / 64, sizeof(float), sampled_columns) == 0 &&
        run_strips(&job, samples_shape[0], work, samples_row) == 0) {
        result = Py_NewRef(Py_None);
    }
done:
    release_arrays(a, 9);
    return result;
}

/* block_planes(sums, factor, chroma, luma): from the block sums of the RGB differences (int32,
 * H x W x 3, block_differences), the screen's two planes of the blocks' means (either may be None):
 * `chroma` (float32, H x W x 2) the coarse chroma term's (dCr, dCb) before its blur, and `luma`
 * (float32, H x W) each block's mean of Y1 - Y2. The float operations of screening.py's NumPy
 * expressions, in their order (-ffp-contract=off keeps them apart), so the same values bit for bit:
 * the means sums / factor**2 / 255 in float64, rounded to float32, then y = 0.299 r + 0.587 g +
 * 0.114 b and (0.713 (r - y), 0.564 (b - y)) in float32; the luma numerators 299 R + 587 G + 114 B,
 * integers below 2**24 (exact in float32), times float32 1 / (1000 * 255 * factor**2). */
PyObject *core_block_planes(PyObject *self, PyObject *args)
{
    PyObject *osums, *ochroma, *oluma;
    int factor;
    if (!PyArg_ParseTuple(args, "OiOO", &osums, &factor, &ochroma, &oluma)) {
        return NULL;
    }
    array_t a[3] = {0};
    PyObject *result = NULL;
    static const elem_t I32[] = {ELEM_I32}, F32[] = {ELEM_F32};
    if (get_array(osums, &a[0], "sums", 3, 0, 0) < 0 || get_array(ochroma, &a[1], "chroma", 3, 1, 1) < 0 ||
        get_array(oluma, &a[2], "luma", 2, 1, 1) < 0 || expect_type(&a[0], "sums", I32, 1) < 0) {
        goto done;
    }
    const Py_ssize_t *shape = a[0].view.shape;
    const Py_ssize_t chroma_shape[3] = {shape[0], shape[1], 2};
    if (shape[2] != 3 || factor < 1 || factor > 64 ||
        (a[1].present && (expect_type(&a[1], "chroma", F32, 1) < 0 || expect_shape(&a[1], "chroma", chroma_shape, 3) < 0)) ||
        (a[2].present && (expect_type(&a[2], "luma", F32, 1) < 0 || expect_shape(&a[2], "luma", shape, 2) < 0))) {
        if (!PyErr_Occurred()) {
            PyErr_SetString(PyExc_ValueError, "block_planes: needs RGB block sums and a factor in [1, 64]");
        }
        goto done;
    }
    const int32_t *sums = a[0].view.buf;
    float *chroma = a[1].present ? a[1].view.buf : NULL, *luma = a[2].present ? a[2].view.buf : NULL;
    const Py_ssize_t blocks = shape[0] * shape[1];
    const double per_block = 1.0 / (double)(factor * factor), per_level = 1.0 / 255;
    const float to_luma = (float)(1.0 / (1000.0 * 255.0 * factor * factor));
    for (Py_ssize_t b = 0; b < blocks; b++) {
        const int32_t *s = sums + 3 * b;
        if (chroma != NULL) {
            float r = (float)((s[0] * per_block) * per_level), g = (float)((s[1] * per_block) * per_level),
                  bl = (float)((s[2] * per_block) * per_level);
            float y = 0.299f * r + 0.587f * g + 0.114f * bl;
            chroma[2 * b] = 0.713f * (r - y);
            chroma[2 * b + 1] = 0.564f * (bl - y);
        }
        if (luma != NULL) {
            luma[b] = (float)(299 * s[0] + 587 * s[1] + 114 * s[2]) * to_luma;
        }
    }
    result = Py_NewRef(Py_None);
done:
    release_arrays(a, 3);
    return result;
}
