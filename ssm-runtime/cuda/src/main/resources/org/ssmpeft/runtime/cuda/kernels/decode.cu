// The few-row kernels of a decode step (one token per sequence, at most 16 rows), float32; the Java side is
// org.ssmpeft.runtime.cuda.layers.DecodeKernels. At one token per sequence a layer's products are matrix-vector
// products bound by reading their weights once, and each launch of the general path costs ~2 us of ramp and drain
// however little it computes (Nsight Compute: a 768-float add took 2.1 us), so a layer of 8 launches spent 35 us where
// its weights need 5. These fuse the layer into four launches (the fourth, the scan step with its Δ, is in
// selective_scan.cu):
//
//   decode_norm_gemv   y (M, ldy) = u·Wᵀ + b,  u = g ⊙ (x · inv_m),  inv_m = 1 / sqrt(Σ_k x_mk² / in + eps)
//                      RMSNorm and in_proj in one launch; u is also written to xn (the low-rank deltas read it)
//   decode_gemv        y (M, ldy) (+)= x·Wᵀ + b              out_proj straight into the residual stream
//   decode_conv_xproj  e = [state_1 .. state_{K-1} | x];  xc = silu(b + Σ_j w_j·e_j) (M, D);  state <- e;
//                      part (nblk, M, XW) = Σ_{c of block} xc_c · W_x[:, c]   x_proj's partial products per block of
//                      channels, summed in block order by the last block to finish: xdbl (M, XW) = [dt_low | B | C]
//
// Work split: a product is a warp per R output rows, its lanes over the input (one float4 of each weight row per lane
// and step, so a warp streams whole rows with 16-byte loads, 8·R of them in flight per lane); the M input rows are
// staged in shared memory first (normalised for decode_norm_gemv), and the warp's sums end in a butterfly that leaves
// every sum in every lane. Every load of a phase is issued before the first is used (unrolled loops): at a few us a
// launch, each dependent round trip to memory (~1 us) counts (Nsight Compute: the first version, with loops whose
// loads waited one by one, took 7-12 us a launch). MT (a power of two >= M, at most 16) is a
// template parameter, so the accumulators stay in registers.
//
// Compiled with --fmad=false, as layers.cu: u = g ⊙ (x · inv) and the conv's taps round as rms_norm_fwd's and
// conv_silu_step's do (the same values bit for bit); the dot products use explicit fmaf (a different summation order
// from cuBLAS's, within float32 rounding).

#include "activations.cuh"

typedef unsigned long long u64;

#define FULL 0xffffffffu

// Σ of v over the warp's lanes, every lane getting the same bits (the xor pairing commutes lane for lane)
__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(FULL, v, o);
    return v;
}

__device__ __forceinline__ double warp_sum(double v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(FULL, v, o);
    return v;
}

// acc += Σ_i w_i·x_i over one float4 pair, in element order
__device__ __forceinline__ float dot4(float4 w, float4 x, float acc) {
    acc = fmaf(w.x, x.x, acc);
    acc = fmaf(w.y, x.y, acc);
    acc = fmaf(w.z, x.z, acc);
    return fmaf(w.w, x.w, acc);
}

// y (M, ldy) (+)= xs·Wᵀ + b for a warp's R rows j of W (out, in), xs (MT, in) the input rows in shared memory, in
// two halves: begin issues the loads of the first U float4 steps of the warp's weight rows (before the caller stages
// its inputs: the weights do not depend on them), finish computes, streaming the rest U steps at a time (U·R loads in
// flight per lane: a matrix-vector product is bound by how many bytes are on their way), and writes the sums.
// in % 4 == 0 and 16-byte aligned rows (DecodeKernels checks).
template <int MT, int R, int U>
struct WeightRows {
    const float4* wr[R];
    float4 wv[U][R];
    int j0, n4, lane;

    __device__ __forceinline__ void fetch(int q0) {
#pragma unroll
        for (int u = 0; u < U; u++) {
            const int q = q0 + 32 * u;
#pragma unroll
            for (int r = 0; r < R; r++) wv[u][r] = q < n4 ? __ldg(wr[r] + q) : make_float4(0.f, 0.f, 0.f, 0.f);
        }
    }

    __device__ __forceinline__ void begin(const float* __restrict__ w, int in, int out) {
        const int warps = blockDim.x / 32, warp = threadIdx.x / 32;
        lane = threadIdx.x % 32;
        j0 = (blockIdx.x * warps + warp) * R;
        n4 = j0 < out ? in / 4 : 0;  // a warp past the last row loads nothing
#pragma unroll
        for (int r = 0; r < R; r++) wr[r] = reinterpret_cast<const float4*>(w + (u64) min(j0 + r, out - 1) * in);
        fetch(lane);
    }

    __device__ __forceinline__ void finish(float* y, int ldy, const float* xs, const float* __restrict__ bias,
                                           int accumulate, int m, int out) {
        if (j0 >= out) return;
        float acc[R][MT];
#pragma unroll
        for (int r = 0; r < R; r++) {
#pragma unroll
            for (int i = 0; i < MT; i++) acc[r][i] = 0.f;
        }
        const float4* x4 = reinterpret_cast<const float4*>(xs);
        for (int q0 = lane; q0 < n4; q0 += 32 * U) {
            if (q0 != lane) fetch(q0);
#pragma unroll
            for (int u = 0; u < U; u++) {
                const int q = q0 + 32 * u;
                if (q >= n4) break;
#pragma unroll
                for (int i = 0; i < MT; i++) {
                    if (MT == 1 || i < m) {
                        const float4 xv = x4[i * n4 + q];
#pragma unroll
                        for (int r = 0; r < R; r++) acc[r][i] = dot4(wv[u][r], xv, acc[r][i]);
                    }
                }
            }
        }
#pragma unroll
        for (int r = 0; r < R; r++) {
#pragma unroll
            for (int i = 0; i < MT; i++) {
                const float sum = warp_sum(acc[r][i]);
                const int j = j0 + r;
                if (((r * MT + i) & 31) == lane && i < m && j < out) {
                    const float v = bias ? sum + bias[j] : sum;
                    float* o = y + (u64) i * ldy + j;
                    *o = accumulate ? *o + v : v;
                }
            }
        }
    }
};

// The block's input rows into shared memory xs (M, in) as float4 (8 loads in flight per thread), each element
// scaled by g ⊙ (· inv_i) when NORM
template <bool NORM>
__device__ __forceinline__ void stage_rows(float* xs, float* xn, const float* __restrict__ x, int ldx,
                                           const float* __restrict__ g, const float* inv, int m, int in) {
    const int n4 = in / 4, total = m * n4;
    float4* s4 = reinterpret_cast<float4*>(xs);
#pragma unroll 8
    for (int e = threadIdx.x; e < total; e += blockDim.x) {
        const int i = e / n4, q = e - i * n4;
        float4 v = __ldg(reinterpret_cast<const float4*>(x + (u64) i * ldx) + q);
        if (NORM) {
            const float4 gv = __ldg(reinterpret_cast<const float4*>(g) + q);
            const float s = inv[i];
            v = make_float4(gv.x * (v.x * s), gv.y * (v.y * s), gv.z * (v.z * s), gv.w * (v.w * s));
            if (xn && blockIdx.x == 0) reinterpret_cast<float4*>(xn + (u64) i * in)[q] = v;
        }
        s4[e] = v;
    }
}

// RMSNorm + product: the warp's weight rows requested first, then inv_i per row (a warp per row, in double as
// rms_norm_fwd), u = g ⊙ (x · inv) staged in shared memory (MT, in) and written to xn by block 0 (xn may be 0), then
// y = u·Wᵀ + b. U = 6: the first request covers in <= 768 (Mamba-130M's d_model) whole.
template <int MT, int R, int U>
__device__ void norm_gemv(float* y, int ldy, float* xn, const float* __restrict__ x, int ldx,
                          const float* __restrict__ g, double eps, const float* __restrict__ w,
                          const float* __restrict__ bias, int m, int in, int out) {
    extern __shared__ __align__(16) float xs[];
    __shared__ float inv[MT];
    WeightRows<MT, R, U> rows;
    rows.begin(w, in, out);
    const int warps = blockDim.x / 32, warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    const int n4 = in / 4;
    for (int i = warp; i < m; i += warps) {
        const float4* xi = reinterpret_cast<const float4*>(x + (u64) i * ldx);
        double ss = 0.0;
#pragma unroll 8
        for (int q = lane; q < n4; q += 32) {
            const float4 v = __ldg(xi + q);
            ss += (double) v.x * v.x;
            ss += (double) v.y * v.y;
            ss += (double) v.z * v.z;
            ss += (double) v.w * v.w;
        }
        ss = warp_sum(ss);
        if (lane == 0) inv[i] = (float) (1.0 / sqrt(ss / in + eps));
    }
    __syncthreads();
    stage_rows<true>(xs, xn, x, ldx, g, inv, m, in);
    __syncthreads();
    rows.finish(y, ldy, xs, bias, 0, m, out);
}

// y (+)= x·Wᵀ + b: the warp's weight rows requested, the input rows staged in shared memory, then the product.
// U = 12: the first request covers in <= 1536 (Mamba-130M's d_inner) whole.
template <int MT, int U>
__device__ void gemv(float* y, int ldy, const float* __restrict__ x, int ldx, const float* __restrict__ w,
                     const float* __restrict__ bias, int accumulate, int m, int in, int out) {
    extern __shared__ __align__(16) float xs[];
    WeightRows<MT, 1, U> rows;
    rows.begin(w, in, out);
    stage_rows<false>(xs, nullptr, x, ldx, nullptr, nullptr, m, in);
    __syncthreads();
    rows.finish(y, ldy, xs, bias, accumulate, m, out);
}

#define GEMV_ENTRIES(MT)                                                                                             \
    extern "C" __global__ void __launch_bounds__(256) decode_norm_gemv_m##MT(                                        \
            float* y, int ldy, float* xn, const float* x, int ldx, const float* g, double eps, const float* w,       \
            const float* bias, int m, int in, int out) {                                                             \
        norm_gemv<MT, 2, 6>(y, ldy, xn, x, ldx, g, eps, w, bias, m, in, out);                                       \
    }                                                                                                                \
    extern "C" __global__ void __launch_bounds__(256) decode_gemv_m##MT(float* y, int ldy, const float* x, int ldx, \
                                                                          const float* w, const float* bias,         \
                                                                          int accumulate, int m, int in, int out) {  \
        gemv<MT, 12>(y, ldy, x, ldx, w, bias, accumulate, m, in, out);                                               \
    }
GEMV_ENTRIES(1)
GEMV_ENTRIES(2)
GEMV_ENTRIES(4)
GEMV_ENTRIES(8)
GEMV_ENTRIES(16)

// Channels per block of decode_conv_xproj (DecodeKernels.CONV_XPROJ_CHANNELS): the number of x_proj partials is
// ceil(D / this).
#define CONV_XPROJ_CHANNELS 64

// The conv step of the block's channels for every row (conv_step, as conv_silu_step: the same values bit for bit),
// then the block's share of x_proj: part[blk][m][o] = Σ_{c of block, in order} W_x[o][c]·xc[m][c], a thread per
// (m, o) over the block's columns of W_x staged in shared memory (pitch CB + 1: the threads of a warp read 32
// different banks).
// x: (M, ldx) the x half of [x | z]; cw (D, K), cb (D) or 0; state (M, D, K); wx (XW, D); xc (M, D).
extern "C" __global__ void __launch_bounds__(256) decode_conv_xproj(float* xc, float* part, float* xdbl,
                                                                     unsigned* counter, const float* x, int ldx,
                                                                     const float* cw, const float* cb, float* state,
                                                                     const float* wx, int m, int d, int kernel,
                                                                     int xw) {
    constexpr int CB = CONV_XPROJ_CHANNELS, PW = CB + 1;
    extern __shared__ float smem[];
    float* ws = smem;          // (xw, PW) the block's columns of W_x
    float* xs = ws + xw * PW;  // (M, CB) silu(conv) of the block's channels
    const int c0 = blockIdx.x * CB;
    // the block's columns of W_x first (their loads in flight while the conv computes): 4 channels per float4 where
    // D is a multiple of 4 (rows aligned), else one at a time
    if (d % 4 == 0) {
        constexpr int C4 = CB / 4;
#pragma unroll 8
        for (int i = threadIdx.x; i < xw * C4; i += blockDim.x) {
            const int o = i / C4, c4 = (i % C4) * 4, c = c0 + c4;
            float4 v = make_float4(0.f, 0.f, 0.f, 0.f);
            if (c < d) v = __ldg(reinterpret_cast<const float4*>(wx + (u64) o * d + c));
            float* q = ws + o * PW + c4;
            q[0] = v.x;
            q[1] = v.y;
            q[2] = v.z;
            q[3] = v.w;
        }
    } else {
#pragma unroll 8
        for (int i = threadIdx.x; i < xw * CB; i += blockDim.x) {
            const int o = i / CB, cl = i % CB, c = c0 + cl;
            ws[o * PW + cl] = c < d ? __ldg(wx + (u64) o * d + c) : 0.f;
        }
    }
    for (int i = threadIdx.x; i < m * CB; i += blockDim.x) {
        const int r = i / CB, cl = i % CB, c = c0 + cl;
        float v = 0.f;
        if (c < d) {
            v = silu(conv_step(state + ((u64) r * d + c) * kernel, x[(u64) r * ldx + c], cw + (u64) c * kernel,
                               cb != 0 ? cb[c] : 0.f, kernel));
            xc[(u64) r * d + c] = v;
        }
        xs[r * CB + cl] = v;
    }
    __syncthreads();
    for (int i = threadIdx.x; i < m * xw; i += blockDim.x) {
        const int r = i / xw, o = i % xw;
        const float* wo = ws + o * PW;
        const float* xr = xs + r * CB;
        float acc = 0.f;
#pragma unroll 16
        for (int cl = 0; cl < CB; cl++) acc = fmaf(wo[cl], xr[cl], acc);
        part[((u64) blockIdx.x * m + r) * xw + o] = acc;
    }
    // the last block to finish sums every block's partials in block order into xdbl (M, XW) (the threadfence
    // reduction: each block's partials are visible device-wide before it counts itself; the counter is left at 0 for
    // the next launch, so a replayed graph finds it as the first did)
    __shared__ bool last;
    __threadfence();
    __syncthreads();
    if (threadIdx.x == 0) last = atomicAdd(counter, 1u) == gridDim.x - 1;
    __syncthreads();
    if (!last) return;
    const int nblk = gridDim.x;
    for (int i = threadIdx.x; i < m * xw; i += blockDim.x) {
        const float* p = part + i;
        const u64 stride = (u64) m * xw;
        float v = 0.f;
        int k = 0;
        for (; k + 8 <= nblk; k += 8) {
            float q[8];
#pragma unroll
            for (int j = 0; j < 8; j++) q[j] = __ldcg(p + (k + j) * stride);
#pragma unroll
            for (int j = 0; j < 8; j++) v += q[j];
        }
        for (; k < nblk; k++) v += __ldcg(p + k * stride);
        xdbl[i] = v;
    }
    if (threadIdx.x == 0) *counter = 0u;
}
