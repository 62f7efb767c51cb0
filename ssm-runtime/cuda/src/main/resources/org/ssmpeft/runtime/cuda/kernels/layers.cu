// The layers of a Mamba language model around the selective scan, float32, each the device twin of a cpu primitive
// (org.ssmpeft.runtime.cpu: ModelParts, RmsNorm, CausalConv1d, Activations, CrossEntropy, Linear). Compiled at run
// time by NVRTC; the Java side is org.ssmpeft.runtime.cuda.layers.LayerKernels, whose javadoc gives each call.
//
// Rounding, so that the device computes what the cpu computes:
//   - compiled with --fmad=false: a product and a sum round separately, as Java's float arithmetic does, so the
//     elementwise stages (RMSNorm's scaling, the conv's taps, DoRA's gain, AdamW-style updates) equal the cpu's
//     bit for bit;
//   - the transcendental stages run in double, as the cpu's Math.exp / log1p / expm1 do, then round to float;
//   - sums over a row (RMSNorm, log-sum-exp) are block reductions in double; sums over many rows (a column's
//     weight or gain gradient) are two-stage: per-chunk partials in double, then one thread per column sums the
//     chunks in order. No floating-point atomics anywhere: every result is the same run to run.
// Matrices are row-major with row strides in elements; token ids and targets are int32. Elementwise kernels walk
// their elements with a grid-stride loop over a 64-bit index.

typedef unsigned long long u64;

#define MAX_CONV_KERNEL 8
#define IGNORE_INDEX (-100)
#define NEG_INF (__longlong_as_double(0xfff0000000000000ll)) // NVRTC has no math.h: no INFINITY

// ---- helpers --------------------------------------------------------------------------------------------------

#include "activations.cuh"

#define GRID_STRIDE(i, n) for (u64 i = (u64) blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (u64) gridDim.x * blockDim.x)

// silu'(x) = σ(x)·(1 + x·(1 − σ(x))) (Activations.siluGrad)
__device__ __forceinline__ float silu_grad(float x) {
    double s = 1.0 / (1.0 + exp(-(double) x));
    return (float) (s * (1.0 + (double) x * (1.0 - s)));
}

// max that keeps NaN (Math.max's rule; fmax would drop it and hide a diverged loss)
__device__ __forceinline__ double max_nan(double a, double b) {
    return (a != a || a > b) ? a : (b != b ? b : (a > b ? a : b));
}

// Σ of v over the block (blockDim.x a multiple of 32, at most 1024), the same value returned to every thread.
// red: 33 doubles of shared memory; the call begins with a barrier, so red may be reused call after call.
__device__ double block_sum(double v, double* red) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    __syncthreads();
    if (lane == 0) red[warp] = v;
    __syncthreads();
    if (warp == 0) {
        v = lane < (int) (blockDim.x >> 5) ? red[lane] : 0.0;
        for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
        if (lane == 0) red[32] = v;
    }
    __syncthreads();
    return red[32];
}

// max of v over the block, NaN winning; as block_sum
__device__ double block_max(double v, double* red) {
    for (int o = 16; o > 0; o >>= 1) v = max_nan(v, __shfl_down_sync(0xffffffffu, v, o));
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    __syncthreads();
    if (lane == 0) red[warp] = v;
    __syncthreads();
    if (warp == 0) {
        v = lane < (int) (blockDim.x >> 5) ? red[lane] : NEG_INF;
        for (int o = 16; o > 0; o >>= 1) v = max_nan(v, __shfl_down_sync(0xffffffffu, v, o));
        if (lane == 0) red[32] = v;
    }
    __syncthreads();
    return red[32];
}

// dst (cols) = or += Σ_{chunk < chunks} part[chunk·cols + c], chunks in order (the second stage of a column sum)
extern "C" __global__ void column_sum_finish(float* dst, const double* part, int chunks, int cols, int accumulate) {
    GRID_STRIDE(c, (u64) cols) {
        double acc = 0.0;
        for (int k = 0; k < chunks; k++) acc += part[(u64) k * cols + c];
        dst[c] = accumulate ? dst[c] + (float) acc : (float) acc;
    }
}

// ---- embedding (ModelParts.embed / embeddingBackward) ------------------------------------------------------------

// tokens: (B, T), prompt: (P, d), emb: (V, d) -> h: (B, P + T, d) = [prompt; emb[tokens]] per batch row
// grid (P + T, B), the block over d
extern "C" __global__ void embed(float* h, const int* tokens, const float* prompt, const float* emb, int P, int T,
                                 int d) {
    int r = blockIdx.x, b = blockIdx.y;
    const float* src = r < P ? prompt + (u64) r * d : emb + (u64) tokens[(u64) b * T + (r - P)] * d;
    float* dst = h + ((u64) b * (P + T) + r) * d;
    for (int i = threadIdx.x; i < d; i += blockDim.x) dst[i] = src[i];
}

#define EMBED_TOKEN_TILE 1024

// dHidden: (B, P + T, d) -> dEmb (V, d) += dHidden's row at every token position, positions in (b, t) order.
// Block (x, y) owns columns [x·blockDim, ..) of the token rows id with id % gridDim.y == y: every dEmb element has
// one writer, which adds a repeated token's rows in position order, exactly as the cpu loop does.
extern "C" __global__ void embed_bwd(float* dEmb, const float* dHidden, const int* tokens, int B, int P, int T,
                                     int d) {
    __shared__ int tok[EMBED_TOKEN_TILE];
    int c = blockIdx.x * blockDim.x + threadIdx.x;
    int bucket = blockIdx.y, buckets = gridDim.y;
    int n = B * T;
    for (int s0 = 0; s0 < n; s0 += EMBED_TOKEN_TILE) {
        int count = min(EMBED_TOKEN_TILE, n - s0);
        __syncthreads();
        for (int i = threadIdx.x; i < count; i += blockDim.x) tok[i] = tokens[s0 + i];
        __syncthreads();
        if (c >= d) continue;
        for (int i = 0; i < count; i++) {
            int id = tok[i];
            if (id % buckets != bucket) continue;
            int s = s0 + i, b = s / T, t = s - b * T;
            float* e = dEmb + (u64) id * d + c;
            *e = *e + dHidden[((u64) b * (P + T) + P + t) * d + c];
        }
    }
}

// ---- RMSNorm (RmsNorm) -------------------------------------------------------------------------------------------

// x: (M, d), w: (d) -> y = w ⊙ (x·r), r = (float) 1/sqrt(mean(x²) + eps), the mean in double; a block per row
extern "C" __global__ void rms_norm_fwd(float* y, const float* x, const float* w, int d, double eps) {
    __shared__ double red[33];
    const float* xr = x + (u64) blockIdx.x * d;
    float* yr = y + (u64) blockIdx.x * d;
    double ss = 0.0;
    for (int i = threadIdx.x; i < d; i += blockDim.x) ss += (double) xr[i] * xr[i];
    ss = block_sum(ss, red);
    float inv = (float) (1.0 / sqrt(ss / d + eps));
    for (int i = threadIdx.x; i < d; i += blockDim.x) yr[i] = w[i] * (xr[i] * inv);
}

// per row, r = 1/sqrt(mean(x²) + eps) in double, inv[row] = (float) r for the weight's gradient, and (dx != 0)
//   dx = (float) (r·w·dy − x·k),  k = r³/d · Σ_j w_j·dy_j·x_j      (assigned, or added when accumulate)
extern "C" __global__ void rms_norm_bwd_rows(float* dx, float* inv, const float* dy, const float* x, const float* w,
                                             int d, double eps, int accumulate) {
    __shared__ double red[33];
    u64 o = (u64) blockIdx.x * d;
    double ss = 0.0, dot = 0.0;
    for (int i = threadIdx.x; i < d; i += blockDim.x) {
        double xi = x[o + i];
        ss += xi * xi;
        dot += (double) w[i] * dy[o + i] * xi;
    }
    ss = block_sum(ss, red);
    double r = 1.0 / sqrt(ss / d + eps);
    if (threadIdx.x == 0) inv[blockIdx.x] = (float) r;
    if (dx == 0) return;
    dot = block_sum(dot, red);
    double k = dot * r * r * r / d;
    for (int i = threadIdx.x; i < d; i += blockDim.x) {
        float g = (float) (r * w[i] * dy[o + i] - x[o + i] * k);
        dx[o + i] = accumulate ? dx[o + i] + g : g;
    }
}

// dw's first stage: part[chunk·d + c] = Σ_{rows of the chunk} dy·(x·inv[row]) in double; grid (column blocks, chunks)
extern "C" __global__ void rms_norm_bwd_weight(double* part, const float* dy, const float* x, const float* inv, int m,
                                               int d, int rowsPerChunk) {
    int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= d) return;
    int r0 = blockIdx.y * rowsPerChunk, r1 = min(m, r0 + rowsPerChunk);
    double acc = 0.0;
    for (int r = r0; r < r1; r++) {
        u64 i = (u64) r * d + c;
        acc += (double) dy[i] * (x[i] * inv[r]);
    }
    part[(u64) blockIdx.y * d + c] = acc;
}

// ---- causal depthwise conv1d + silu (CausalConv1d) ---------------------------------------------------------------

#define CONV_TILE 64

// x: (B, L, D) row stride ldx, w: (D, K), bias: (D) or 0, state: (B, D, K) or 0 (zeros) -> pre (or 0), y: (B, L, D)
//   e = [state_0..state_{K-1}, x_0..x_{L-1}];  p_t = bias + Σ_{j<K} w[j]·e[t+1+j];  y_t = silu(p_t)
// the taps in j order, in float, as the cpu; thread per (channel, tile of CONV_TILE steps, batch row)
extern "C" __global__ void conv_silu_fwd(float* y, float* pre, const float* x, int ldx, const float* w,
                                         const float* bias, const float* state, int L, int D, int K) {
    int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= D) return;
    int b = blockIdx.z, t0 = blockIdx.y * CONV_TILE, t1 = min(L, t0 + CONV_TILE);
    float wk[MAX_CONV_KERNEL];
#pragma unroll
    for (int j = 0; j < MAX_CONV_KERNEL; j++) wk[j] = j < K ? w[(u64) c * K + j] : 0.f;
    float b0 = bias != 0 ? bias[c] : 0.f;
    const float* s = state != 0 ? state + ((u64) b * D + c) * K : 0;
    for (int t = t0; t < t1; t++) {
        float acc = b0;
#pragma unroll
        for (int j = 0; j < MAX_CONV_KERNEL; j++) {
            if (j < K) {
                int e = t + 1 + j;
                float v = e < K ? (s != 0 ? s[e] : 0.f) : x[((u64) b * L + e - K) * ldx + c];
                acc = acc + wk[j] * v;
            }
        }
        u64 o = ((u64) b * L + t) * D + c;
        if (pre != 0) pre[o] = acc;
        y[o] = silu(acc);
    }
}

// one position per row (a decode step) from the conv state (B, D, K): e = [state[1 .. K-1] | x], y = silu(b + Σ_j
// w_j·e_j) (B, D), pre the sum, then state <- e: conv_silu_fwd and conv_state_update at L = 1 in one launch, the same
// sums in the same order
extern "C" __global__ void conv_silu_step(float* y, float* pre, const float* x, int ldx, const float* w,
                                          const float* bias, float* state, int B, int D, int K) {
    GRID_STRIDE(i, (u64) B * D) {
        int b = (int) (i / D), c = (int) (i % D);
        float acc = conv_step(state + i * K, x[(u64) b * ldx + c], w + (u64) c * K, bias != 0 ? bias[c] : 0.f, K);
        if (pre != 0) pre[i] = acc;
        y[i] = silu(acc);
    }
}

// state (B, D, K) <- e[L .. L+K-1] per (batch row, channel), after conv_silu_fwd read the old state
extern "C" __global__ void conv_state_update(float* state, const float* x, int ldx, int B, int L, int D, int K) {
    GRID_STRIDE(i, (u64) B * D) {
        int b = (int) (i / D), c = (int) (i % D);
        float* s = state + i * K;
        float v[MAX_CONV_KERNEL];
#pragma unroll
        for (int j = 0; j < MAX_CONV_KERNEL; j++) {
            if (j < K) {
                int e = L + j;
                v[j] = e < K ? s[e] : x[((u64) b * L + e - K) * ldx + c];
            }
        }
#pragma unroll
        for (int j = 0; j < MAX_CONV_KERNEL; j++) {
            if (j < K) s[j] = v[j];
        }
    }
}

// dp_t = dy_t·silu'(p_t), (B, L, D)
extern "C" __global__ void conv_silu_dp(float* dp, const float* dy, const float* pre, u64 n) {
    GRID_STRIDE(i, n) dp[i] = dy[i] * silu_grad(pre[i]);
}

// backward from a zero conv state (training), thread per (channel, tile, batch row):
//   dx_s = Σ_{j<K, t = s+K-1-j < L} dp_t·w[j]          (float, j order as the cpu; assigned, row stride lddx)
//   part[(b·tiles + tile)·D + c][j] = Σ_{t in tile} dp_t·x[t+1+j-K] (x index >= 0),  [K] = Σ dp_t   (double)
extern "C" __global__ void conv_silu_bwd(float* dx, int lddx, double* part, const float* dp, const float* x, int ldx,
                                         const float* w, int L, int D, int K) {
    int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= D) return;
    int b = blockIdx.z, tile = blockIdx.y, t0 = tile * CONV_TILE, t1 = min(L, t0 + CONV_TILE);
    float wk[MAX_CONV_KERNEL];
    double pw[MAX_CONV_KERNEL + 1];
#pragma unroll
    for (int j = 0; j < MAX_CONV_KERNEL; j++) wk[j] = j < K ? w[(u64) c * K + j] : 0.f;
#pragma unroll
    for (int j = 0; j <= MAX_CONV_KERNEL; j++) pw[j] = 0.0;
    const float* dpb = dp + (u64) b * L * D + c;
    for (int s = t0; s < t1; s++) {
        float acc = 0.f;
#pragma unroll
        for (int j = 0; j < MAX_CONV_KERNEL; j++) {
            int t = s + K - 1 - j;
            if (j < K && t < L) acc = acc + dpb[(u64) t * D] * wk[j];
        }
        if (dx != 0) dx[((u64) b * L + s) * lddx + c] = acc;
        if (part != 0) {
            float g = dpb[(u64) s * D];
            pw[MAX_CONV_KERNEL] += g;
#pragma unroll
            for (int j = 0; j < MAX_CONV_KERNEL; j++) {
                int e = s + 1 + j - K;
                if (j < K && e >= 0) pw[j] += (double) (g * x[((u64) b * L + e) * ldx + c]);
            }
        }
    }
    if (part != 0) {
        double* p = part + (((u64) b * gridDim.y + tile) * D + c) * (K + 1);
#pragma unroll
        for (int j = 0; j < MAX_CONV_KERNEL; j++) {
            if (j < K) p[j] = pw[j];
        }
        p[K] = pw[MAX_CONV_KERNEL];
    }
}

// dw (D, K) += Σ_chunks part[..][c][j], dBias (D) += Σ_chunks part[..][c][K] (either 0 to skip), chunks in order
extern "C" __global__ void conv_param_finish(float* dw, float* dBias, const double* part, int chunks, int D, int K) {
    GRID_STRIDE(i, (u64) D * (K + 1)) {
        int c = (int) (i / (K + 1)), j = (int) (i % (K + 1));
        double acc = 0.0;
        for (int k = 0; k < chunks; k++) acc += part[((u64) k * D + c) * (K + 1) + j];
        if (j < K) {
            if (dw != 0) dw[(u64) c * K + j] += (float) acc;
        } else if (dBias != 0) {
            dBias[c] += (float) acc;
        }
    }
}

// ---- softplus (Activations.softplus / softplusGradFromOutput) ---------------------------------------------------

// x <- softplus(x) = log(1 + e^x), x itself above 20 (torch's threshold; softplus is activations.cuh's)
extern "C" __global__ void softplus_inplace(float* x, u64 n) {
    GRID_STRIDE(i, n) x[i] = softplus(x[i]);
}

// Δ = softplus(dt_low·W_dtᵀ + b) for a few rows (a decode step, fp32): dt_low = the first R columns of xdbl (M, ld),
// W (D, R), b (D) or 0 -> dt (M, D); one thread per (row, channel), the dot in r order then the bias, as the product
// (beta = 1 over the copied bias) and softplus_inplace do: one launch instead of three
extern "C" __global__ void dt_softplus(float* dt, const float* xdbl, int ld, const float* w, const float* b, int M,
                                       int R, int D) {
    GRID_STRIDE(i, (u64) M * D) {
        int row = (int) (i / D), d = (int) (i % D);
        const float* x = xdbl + (u64) row * ld;
        const float* wd = w + (u64) d * R;
        float acc = 0.f;
        for (int k = 0; k < R; k++) acc = acc + x[k] * wd[k];
        if (b != 0) acc = acc + b[d];
        dt[i] = softplus(acc);
    }
}

// dx *= softplus'(p) = σ(p) = 1 − e^{−y}, from the output y = softplus(p)
extern "C" __global__ void softplus_bwd_inplace(float* dx, const float* y, u64 n) {
    GRID_STRIDE(i, n) dx[i] = dx[i] * (float) -expm1(-(double) y[i]);
}

// ---- cross-entropy (CrossEntropy.forwardBackward) ----------------------------------------------------------------

// m = max of z[lo, hi) over the block (NaN winning), and Σ exp(z − m) over it, in double; the same values to every
// thread (a row's logsumexp below, and a slice's in top_tokens_part)
__device__ double slice_sumexp(const float* z, int lo, int hi, double* red, double& m) {
    m = NEG_INF;
    for (int i = lo + threadIdx.x; i < hi; i += blockDim.x) m = max_nan(m, (double) z[i]);
    m = block_max(m, red);
    double sum = 0.0;
    for (int i = lo + threadIdx.x; i < hi; i += blockDim.x) sum += exp((double) z[i] - m);
    return block_sum(sum, red);
}

// log Σ exp(z) of one row z (V) over the block, in double: the max, then Σ exp(z − max); the same value to every
// thread (cross_entropy's and top_tokens')
__device__ double row_logsumexp(const float* z, int V, double* red) {
    double m;
    double sum = slice_sumexp(z, 0, V, red, m);
    return m + log(sum);
}

// a block per row z = logits[row] (V), label y = targets[row]:
//   rowLoss = logsumexp(z) − z[y] (0 where y is the ignore index; NaN for a label outside [0, V): the caller
//   checks labels, and a NaN loss stops training rather than hiding a bad label)
//   dlogits = (softmax(z) − onehot(y)) / count, 0 on ignored rows; may alias logits (each element is read by the
//   thread that overwrites it, after the row's reductions)
extern "C" __global__ void cross_entropy(float* dlogits, float* rowLoss, const float* logits, const int* targets, int V,
                                         int count) {
    __shared__ double red[33];
    u64 o = (u64) blockIdx.x * V;
    int y = targets[blockIdx.x];
    if (y == IGNORE_INDEX || y < 0 || y >= V) {
        float fill = y == IGNORE_INDEX ? 0.f : __int_as_float(0x7fc00000);
        if (threadIdx.x == 0) rowLoss[blockIdx.x] = fill;
        if (dlogits != 0) {
            for (int i = threadIdx.x; i < V; i += blockDim.x) dlogits[o + i] = fill;
        }
        return;
    }
    const float* z = logits + o;
    double zy = z[y];
    double lse = row_logsumexp(z, V, red);
    if (threadIdx.x == 0) rowLoss[blockIdx.x] = (float) (lse - zy);
    if (dlogits == 0) return;
    for (int i = threadIdx.x; i < V; i += blockDim.x) {
        double p = exp((double) z[i] - lse);
        dlogits[o + i] = (float) ((i == y ? p - 1.0 : p) / count);
    }
}

// ---- decoding: each row's best tokens (TopTokens.of) ----------------------------------------------------------------

// whether (v, i) ranks before (bv, bi): the higher logit, ties to the lower id; bi < 0: nothing yet
__device__ __forceinline__ bool ranks_before(float v, int i, float bv, int bi) {
    return bi < 0 || v > bv || (v == bv && i < bi);
}

// whether (v, i) was ranked by an earlier round, whose pick was (pv, pi) (pi < 0: no earlier round)
__device__ __forceinline__ bool ranked_already(float v, int i, float pv, int pi) {
    return pi >= 0 && !(v < pv || (v == pv && i > pi));
}

// the best (v, i) over the warp's lanes by ranks_before, in lane 0 (a tree over __shfl_down)
__device__ __forceinline__ void warp_best(float& bv, int& bi) {
    for (int o = 16; o > 0; o >>= 1) {
        float ov = __shfl_down_sync(0xffffffffu, bv, o);
        int oi = __shfl_down_sync(0xffffffffu, bi, o);
        if (oi >= 0 && ranks_before(ov, oi, bv, bi)) { bv = ov; bi = oi; }
    }
}

// the block's best (v, i) of z[lo, hi) that ranks after (pv, pi) (pi < 0: the first round), not excluded and not
// NaN; every thread gets it (bi < 0: none). wv, wi: 32 floats / ints of shared memory
__device__ void block_best(const float* z, int lo, int hi, const unsigned* excluded, float pv, int pi, float* wv,
                           int* wi, float& outV, int& outI) {
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    float bv = 0.f;
    int bi = -1;
    for (int i = lo + threadIdx.x; i < hi; i += blockDim.x) {
        float v = z[i];
        if (v != v || (excluded != 0 && (excluded[i >> 5] >> (i & 31) & 1u))) continue;
        if (ranked_already(v, i, pv, pi)) continue;
        if (ranks_before(v, i, bv, bi)) { bv = v; bi = i; }
    }
    warp_best(bv, bi);
    if (lane == 0) { wv[warp] = bv; wi[warp] = bi; }
    __syncthreads();
    if (warp == 0) {
        int warps = (int) (blockDim.x >> 5);
        bv = lane < warps ? wv[lane] : 0.f;
        bi = lane < warps ? wi[lane] : -1;
        warp_best(bv, bi);
        if (lane == 0) { wv[0] = bv; wi[0] = bi; }
    }
    __syncthreads();
    outV = wv[0];
    outI = wi[0];
    __syncthreads(); // wv/wi are rewritten by the next call
}

// a block per row z = logits[row] (V), the n best ids by z (ties to the lower id), never one whose bit is set in
// excluded (V bits, or 0: none) and never a NaN; logp = z[id] − logsumexp(z) over the whole row (excluded ids
// included), in double as cross_entropy:
//   ids (B, n) int32, logp (B, n) float
// n rounds of a block argmax, round r taking the best that ranks after round r − 1's pick (n is a handful)
extern "C" __global__ void top_tokens(int* ids, float* logp, const float* logits, int V, int n,
                                      const unsigned* excluded) {
    __shared__ double red[33];
    __shared__ float wv[32];
    __shared__ int wi[32];
    const float* z = logits + (u64) blockIdx.x * V;
    double lse = row_logsumexp(z, V, red);
    float pv = 0.f;
    int pi = -1; // the previous round's pick (none)
    for (int r = 0; r < n; r++) {
        block_best(z, 0, V, excluded, pv, pi, wv, wi, pv, pi);
        if (threadIdx.x == 0) {
            ids[(u64) blockIdx.x * n + r] = pi;
            logp[(u64) blockIdx.x * n + r] = pi < 0 ? __int_as_float(0x7fc00000) : (float) ((double) pv - lse);
        }
    }
}

// top_tokens in two launches for long rows (the vocabulary: one block per row took 60 us at V = 50280): a block
// per (slice of TOP_SLICE logits, row) keeps its slice's max m_g, Σ e^(z − m_g) and its n best, then a warp per
// row merges them: M = max_g m_g, logsumexp = M + log Σ_g s_g·e^(m_g − M) (in double, a fixed order), and the n
// best of the slices' candidates (each slice's n best hold the row's n best), round by round as top_tokens picks
// them. The same ids as top_tokens; the log-probabilities within rounding of its one-pass sum.
//   part: (rows, G) doubles (m, s) at ms, (rows, G, n) candidates (cv, ci)
extern "C" __global__ void top_tokens_part(double* ms, float* cv, int* ci, const float* logits, int V, int n,
                                           const unsigned* excluded, int slice) {
    __shared__ double red[33];
    __shared__ float wv[32];
    __shared__ int wi[32];
    const int g = blockIdx.x, G = gridDim.x, row = blockIdx.y;
    const float* z = logits + (u64) row * V;
    const int lo = g * slice, hi = min(V, lo + slice);
    double m;
    const double sum = slice_sumexp(z, lo, hi, red, m); // NaN where m = -inf: the merge skips such a slice
    const u64 at = (u64) row * G + g;
    if (threadIdx.x == 0) {
        ms[2 * at] = m;
        ms[2 * at + 1] = sum;
    }
    float pv = 0.f;
    int pi = -1;
    for (int r = 0; r < n; r++) {
        block_best(z, lo, hi, excluded, pv, pi, wv, wi, pv, pi);
        if (threadIdx.x == 0) {
            cv[at * n + r] = pv;
            ci[at * n + r] = pi;
        }
    }
}

extern "C" __global__ void top_tokens_merge(int* ids, float* logp, const double* ms, const float* cv, const int* ci,
                                            int n, int G) {
    const int row = blockIdx.x, lane = threadIdx.x;
    const double* mr = ms + (u64) row * G * 2;
    // the lanes over the slices, then xor butterflies (every lane gets the same bits; a fixed order)
    double top = NEG_INF;
    for (int g = lane; g < G; g += 32) top = max_nan(top, mr[2 * g]);
    for (int o = 16; o > 0; o >>= 1) top = max_nan(top, __shfl_xor_sync(0xffffffffu, top, o));
    double sum = 0.0;
    for (int g = lane; g < G; g += 32) {
        if (mr[2 * g] != NEG_INF) sum += mr[2 * g + 1] * exp(mr[2 * g] - top);
    }
    for (int o = 16; o > 0; o >>= 1) sum += __shfl_xor_sync(0xffffffffu, sum, o);
    const double lse = top + log(sum);
    const float* vr = cv + (u64) row * G * n;
    const int* ir = ci + (u64) row * G * n;
    float pv = 0.f;
    int pi = -1;
    for (int r = 0; r < n; r++) {
        float bv = 0.f;
        int bi = -1;
        for (int c = lane; c < G * n; c += 32) {
            const int i = ir[c];
            const float v = vr[c];
            if (i < 0) continue;
            if (ranked_already(v, i, pv, pi)) continue;
            if (ranks_before(v, i, bv, bi)) { bv = v; bi = i; }
        }
        warp_best(bv, bi);
        bv = __shfl_sync(0xffffffffu, bv, 0);
        bi = __shfl_sync(0xffffffffu, bi, 0);
        if (lane == 0) {
            ids[(u64) row * n + r] = bi;
            logp[(u64) row * n + r] = bi < 0 ? __int_as_float(0x7fc00000) : (float) ((double) bv - lse);
        }
        pv = bv;
        pi = bi;
    }
}

// ---- DoRA's gain (ModelParts.lowRank / lowRankBackward with HookPlan.Dora) ---------------------------------------

// y (M, out) row stride ldy += (g − 1) ⊙ base + g ⊙ (scale·u), g (out) per column; base, u: (M, out)
extern "C" __global__ void dora_fwd(float* y, int ldy, const float* base, const float* u, const float* gain, float scale,
                                    int m, int out) {
    GRID_STRIDE(i, (u64) m * out) {
        int r = (int) (i / out), j = (int) (i % out);
        float g = gain[j];
        float* yr = y + (u64) r * ldy + j;
        *yr = *yr + ((g - 1.f) * base[i] + g * (scale * u[i]));
    }
}

// per element gy = dy[r, j]: scaled = g·gy, rest = (g − 1)·gy, and the first stage of dMagnitude,
//   part[chunk·out + j] = Σ_{rows of the chunk} gy·(base + scale·u) / norm[j]   (the term in float as the cpu's)
extern "C" __global__ void dora_bwd(double* part, float* scaled, float* rest, const float* dy, int lddy,
                                    const float* base, const float* u, const float* gain, const float* norm, float scale,
                                    int m, int out, int rowsPerChunk) {
    int j = blockIdx.x * blockDim.x + threadIdx.x;
    if (j >= out) return;
    int r0 = blockIdx.y * rowsPerChunk, r1 = min(m, r0 + rowsPerChunk);
    float g = gain[j], n = norm[j];
    double acc = 0.0;
    for (int r = r0; r < r1; r++) {
        u64 i = (u64) r * out + j;
        float gy = dy[(u64) r * lddy + j];
        acc += (double) (gy * (base[i] + scale * u[i]) / n);
        scaled[i] = g * gy;
        rest[i] = (g - 1.f) * gy;
    }
    part[(u64) blockIdx.y * out + j] = acc;
}

// ---- rows, sums and elementwise ----------------------------------------------------------------------------------

#include "bf16.cuh"

// dst (rows, cols) bf16, contiguous <- src (rows, cols) float row stride ldSrc, rounded to nearest even: the input
// of a bf16 product (autocast). A conversion only, no arithmetic, so --fmad=false changes nothing here.
extern "C" __global__ void to_bf16_2d(unsigned short* dst, const float* src, int ldSrc, int rows, int cols) {
    GRID_STRIDE(i, (u64) rows * cols) {
        u64 r = i / cols, c = i % cols;
        dst[i] = to_bf16(src[r * ldSrc + c]);
    }
}

// dst (rows, cols) row stride ldDst <- src row stride ldSrc (ldSrc 0: one row broadcast to every row)
extern "C" __global__ void copy_2d(float* dst, int ldDst, const float* src, int ldSrc, int rows, int cols) {
    GRID_STRIDE(i, (u64) rows * cols) {
        u64 r = i / cols, c = i % cols;
        dst[r * ldDst + c] = src[r * ldSrc + c];
    }
}

extern "C" __global__ void fill(float* dst, u64 n, float value) {
    GRID_STRIDE(i, n) dst[i] = value;
}

// y += scale·x
extern "C" __global__ void add_scaled(float* y, const float* x, float scale, u64 n) {
    GRID_STRIDE(i, n) y[i] = y[i] + scale * x[i];
}

// dst (rows, cols) = or += Σ_{b < batches} src[b·batchStride + r·ld + c], in b order, in float as the cpu's loops
// (which add straight into the destination); a thread per element
extern "C" __global__ void sum_batches(float* dst, const float* src, int batches, u64 batchStride, int rows, int cols,
                                       int ld, int accumulate) {
    GRID_STRIDE(i, (u64) rows * cols) {
        u64 r = i / cols, c = i % cols;
        const float* s = src + r * ld + c;
        float acc = accumulate ? dst[i] : 0.f;
#pragma unroll 8
        for (int b = 0; b < batches; b++) acc = acc + s[(u64) b * batchStride];
        dst[i] = acc;
    }
}

// dst (n, S) row i <- src row rows[i]: a state's rows reordered (beam search, through a copy) or picked (repeat, fork)
extern "C" __global__ void gather_rows(float* dst, const float* src, const int* rows, int n, u64 size) {
    GRID_STRIDE(i, (u64) n * size) {
        u64 r = i / size, c = i % size;
        dst[i] = src[(u64) rows[r] * size + c];
    }
}

// state (B, S) += v (S) for every batch row
extern "C" __global__ void add_broadcast(float* state, const float* v, int batch, int size) {
    GRID_STRIDE(i, (u64) batch * size) state[i] = state[i] + v[i % size];
}

// negA = −exp(A_log), in double rounded to float as the cpu's (float) -Math.exp
extern "C" __global__ void neg_exp(float* negA, const float* aLog, u64 n) {
    GRID_STRIDE(i, n) negA[i] = (float) -exp((double) aLog[i]);
}

// dst += a ⊙ b   (dA_log += dA ⊙ A)
extern "C" __global__ void mul_add(float* dst, const float* a, const float* b, u64 n) {
    GRID_STRIDE(i, n) dst[i] = dst[i] + a[i] * b[i];
}
