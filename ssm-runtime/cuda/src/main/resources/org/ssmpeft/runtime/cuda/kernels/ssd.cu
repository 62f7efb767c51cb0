// Mamba-2's state space dual (SSD) scan, chunked, with the PEFT state hooks built in. Compiled at run time by NVRTC
// (org.ssmpeft.runtime.cuda.driver.CudaModule); the Java side is org.ssmpeft.runtime.cuda.ssd.SsdKernels, the cpu
// reference org.ssmpeft.runtime.cpu.Ssd (same formulas, same chunk input states). Per batch row b and head h (group
// g = h / (H/G)), a = A[h] < 0, x_t (P) of the head, B_t, C_t (N) of the group, state h_t (P, N):
//
//   h_t = exp(Δ_t·a)·h_{t-1} + Δ_t·x_t ⊗ B_t                  h_{-1} = h0 (or zeros)
//   s_t = h_t·C_t + h'·C_t + D·x_t + y'                         h' (P, N) state offset, y' (P) output offset
//   y_t = s_t · silu(z_t)                                       (no gate: y_t = s_t)
//
// computed per chunk of Q steps (the last may be shorter, q = its length), with c_i = Σ_{k≤i} Δ_k·a inside it and
// u_s = Δ_s·x_s:
//
//   CB_is  = C_i·B_s                                             per chunk and group      (ssd_cb)
//   S      = Σ_s exp(c_last − c_s)·u_s ⊗ B_s                     the chunk's own state    (ssd_chunk_state)
//   h_in   : h_in(0) = h0,  h_in(c+1) = exp(c_last)·h_in(c) + S(c)                       (ssd_state_pass)
//   s_i    = Σ_{s≤i} exp(c_i − c_s)·CB_is·u_s + exp(c_i)·C_i·h_inᵀ + C_i·h'ᵀ + D·x_i + y'  (ssd_chunk_scan)
//
// Backward with recomputation: the forward writes h_in of every chunk (B, chunks, H, P, N) (the checkpoints); the
// backward recomputes c and C·B, and with dY = dL/ds (dy·silu(z) through the gate), dH = dL/dh_out of the chunk:
//
//   dY, dz = dy·s·silu'(z); per row Σ_p dY·(exp(c_i)·h_in·C_i) and Σ_p dY·x     (ssd_chunk_scan, backward mode)
//   G      = Σ_i exp(c_i)·dY_i ⊗ C_i;   dh' partials Σ_i dY_i ⊗ C_i                        (ssd_dstate)
//   dH(c)  = dh_in(c+1),  dh_in(c) = G(c) + exp(c_last)·dH(c),  dh0 = dh_in(0);  <dH, h_in>
//                                                                                          (ssd_state_pass_bwd)
//   du_s   = exp(c_last − c_s)·dH·B_s + Σ_{i≥s} exp(c_i − c_s)·CB_is·dY_i;  dx = Δ·du + D·dY      (ssd_du)
//   dw_is  = dY_i·u_s (per head),  dCB_is = Σ_h dw_is·exp(c_i − c_s),  dl_is = dw_is·exp(c_i − c_s)·CB_is
//                                                                                          (ssd_dcb)
//   dC_i   = Σ_{s≤i} dCB_is·B_s + Σ_h exp(c_i)·dY_i·h_in + Σ_h dY_i·h'
//   dB_s   = Σ_{i≥s} dCB_is·C_i + Σ_h exp(c_last − c_s)·u_sᵀ·dH                             (ssd_dbc)
//   dc_i   = Σ_s dl_is − Σ_t dl_ti + Σ_p dY·(exp(c_i)·h_in·C_i) − dv_i, and at the last step also
//            + Σ_s dv_s + exp(c_last)·<dH, h_in>, with dv_s = exp(c_last − c_s)·<dH·B_s, u_s>
//   rev_k  = Σ_{i≥k} dc_i;  dΔ_k = a·rev_k + du_k·x_k;  da += Δ_k·rev_k;  dD += Σ dY·x        (ssd_dt)
//   dA, dD, dy' = Σ dY, dh' summed over rows and chunks in a fixed order                      (ssd_finish)
//
// Every product is a 64 x 64 output tile of a block of 256 threads (gemm_tile: 4 x 4 per thread, operands staged in
// shared memory 32 steps of the reduction at a time, float32 FMA). Sums across blocks go through partials summed
// in a fixed order by a later kernel: no floating-point atomics, so results are deterministic. Token tensors are
// T = float or bf16 (widened on load, rounded on store); decays, states and parameter gradients are float32.
// Index names: r = b·L + t a token row, t = t0 + i with t0 = c·Q the chunk's first step; z-blocks (b, c, h) or
// (b, c, g) in that order.

typedef unsigned long long u64;

#include "bf16.cuh"
#include "activations.cuh"

#define TILE 64
#define BK 32
#define LDT (TILE + 4)  // shared row pitch: 16-byte aligned rows for the float4 reads
#define THREADS 256
#define MAX_Q 256       // SsdShape.MAX_CHUNK
#define HEAD_BATCH 32   // heads of a group whose per-row factors ssd_dbc stages at a time
// benchmark switches (NVRTC -D through -Dssmpeft.ssd.defines; the shipped kernels use the defaults): whether a
// product tile loads its next operands while it multiplies the current ones; the blocks per SM the register
// allocation must allow (__launch_bounds__; ssd_dcb and ssd_dbc take 1: their grids are (b, c, g) x tiles, a
// block or two per SM, so registers are better spent on not spilling)
#ifndef SSD_PREFETCH
#define SSD_PREFETCH 1
#endif
#ifndef SSD_MIN_BLOCKS
#define SSD_MIN_BLOCKS 2
#endif
// The mutation check of the GPU tests (README, Mamba-2 on CUDA), never set otherwise: 1..4 drop one term of the
// backward each (the column sums of dl in dΔ; the decay of dH across chunks; dC's h' term; du's chunk-state term),
// which SsdKernelTest must catch.
#ifndef SSD_MUTATION
#define SSD_MUTATION 0
#endif

__device__ __forceinline__ float sigmoid_f(float z) { return 1.f / (1.f + expf(-z)); }

// silu'(z) = σ(z)·(1 + z·(1 − σ(z)))
__device__ __forceinline__ float dsilu(float z) {
    float s = sigmoid_f(z);
    return s * (1.f + z * (1.f - s));
}

// Raw element loads for the product tiles: the element's bits in a float register, not yet used (bf16: its 16 bits
// zero-extended), so that a prefetch issued before the products does not wait for its data; widen() makes the value
// of them when the tile is staged.
__device__ __forceinline__ float raw(const float* p, u64 i) { return p[i]; }
__device__ __forceinline__ float raw(const bf16* p, u64 i) { return __uint_as_float((unsigned) p[i].v); }
__device__ __forceinline__ float widen(const float*, float v) { return v; }
__device__ __forceinline__ float widen(const bf16*, float v) { return __uint_as_float(__float_as_uint(v) << 16); }

// The block's 64 x 64 product tile: acc[i][j] (output row m = ty·4 + i, column n = tx·4 + j, tx = tid % 16,
// ty = tid / 16) += Σ_{k0 ≤ k < k1} A(k, m)·B(k, n). Each operand comes through two functions: a(k, m) loads the
// raw element (0 outside the operand), fa(k, m, raw) makes A(k, m) of it when the tile is staged (the scaling,
// the bf16 widening; 0 outside the operand whatever the raw value). The next step's raw loads are in flight while
// this step's products run. An operand contiguous along k in memory (KA, KB) is loaded with k fastest across
// threads, else with m (n) fastest, so global reads coalesce either way; shared memory holds both K-major
// (As[k][m], Bs[k][n]).
template <bool KA, bool KB, class LA, class FA, class LB, class FB>
__device__ __forceinline__ void gemm_tile(float (&acc)[4][4], int k0, int k1, LA a, FA fa, LB b, FB fb, float* As,
                                          float* Bs) {
    constexpr int PER = BK * TILE / THREADS;  // operand elements a thread stages per step
    const int tid = threadIdx.x, tx = tid & 15, ty = tid >> 4;
    float ra[PER], rb[PER];
    auto fetch = [&](int kb) {
#pragma unroll
        for (int u = 0; u < PER; u++) {
            const int e = tid + u * THREADS;
            const int k = KA ? e % BK : e / TILE, m = KA ? e / BK : e % TILE;
            ra[u] = kb + k < k1 ? a(kb + k, m) : 0.f;
            const int kk = KB ? e % BK : e / TILE, n = KB ? e / BK : e % TILE;
            rb[u] = kb + kk < k1 ? b(kb + kk, n) : 0.f;
        }
    };
    if (k0 < k1) fetch(k0);
    for (int kb = k0; kb < k1; kb += BK) {
#pragma unroll
        for (int u = 0; u < PER; u++) {
            const int e = tid + u * THREADS;
            const int k = KA ? e % BK : e / TILE, m = KA ? e / BK : e % TILE;
            As[k * LDT + m] = kb + k < k1 ? fa(kb + k, m, ra[u]) : 0.f;
            const int kk = KB ? e % BK : e / TILE, n = KB ? e / BK : e % TILE;
            Bs[kk * LDT + n] = kb + kk < k1 ? fb(kb + kk, n, rb[u]) : 0.f;
        }
        __syncthreads();
#if SSD_PREFETCH
        if (kb + BK < k1) fetch(kb + BK);
#endif
#pragma unroll 8
        for (int k = 0; k < BK; k++) {
            const float4 av = *reinterpret_cast<const float4*>(As + k * LDT + ty * 4);
            const float4 bv = *reinterpret_cast<const float4*>(Bs + k * LDT + tx * 4);
            const float ar[4] = {av.x, av.y, av.z, av.w}, br[4] = {bv.x, bv.y, bv.z, bv.w};
#pragma unroll
            for (int i = 0; i < 4; i++) {
#pragma unroll
                for (int j = 0; j < 4; j++) acc[i][j] = fmaf(ar[i], br[j], acc[i][j]);
            }
        }
        __syncthreads();
#if !SSD_PREFETCH
        if (kb + BK < k1) fetch(kb + BK);
#endif
    }
}

// fa/fb of an operand read as it is: the widened element (its raw value is 0 outside the operand)
template <typename T>
__device__ __forceinline__ auto as_is(const T* p) {
    return [p](int, int, float v) { return widen(p, v); };
}

__device__ __forceinline__ void zero(float (&acc)[4][4]) {
#pragma unroll
    for (int i = 0; i < 4; i++) {
#pragma unroll
        for (int j = 0; j < 4; j++) acc[i][j] = 0.f;
    }
}

// acc's tile into out (row pitch ld): tile row m at m0 + m where < rows, column n at n0 + n where < cols
__device__ __forceinline__ void store_tile(const float (&acc)[4][4], float* out, u64 ld, int m0, int rows, int n0,
                                           int cols) {
    const int tx = threadIdx.x & 15, ty = threadIdx.x >> 4;
#pragma unroll
    for (int i = 0; i < 4; i++) {
        const int m = m0 + ty * 4 + i;
#pragma unroll
        for (int j = 0; j < 4; j++) {
            const int n = n0 + tx * 4 + j;
            if (m < rows && n < cols) out[m * ld + n] = acc[i][j];
        }
    }
}

// v summed over the 16 threads of one tile row group (same ty: lanes 0-15 or 16-31 of a warp); all get the sum
__device__ __forceinline__ float sum_row16(float v) {
#pragma unroll
    for (int m = 1; m < 16; m <<= 1) v += __shfl_xor_sync(0xffffffffu, v, m);
    return v;
}

// v summed over the block (every thread calls it; red holds 32 floats); thread 0 gets the sum
__device__ __forceinline__ float sum_block(float v, float* red) {
#pragma unroll
    for (int m = 16; m > 0; m >>= 1) v += __shfl_xor_sync(0xffffffffu, v, m);
    const int w = threadIdx.x >> 5;
    __syncthreads();
    if ((threadIdx.x & 31) == 0) red[w] = v;
    __syncthreads();
    float s = 0.f;
    if (threadIdx.x == 0) {
        for (int i = 0; i < (blockDim.x >> 5); i++) s += red[i];
    }
    return s;
}

// ---- forward -------------------------------------------------------------------------------------------------

// dt (B·L, H), a (H) -> cum (B, H, L): c_i = Σ_{k≤i} Δ·a inside each chunk. One warp per (b, h, chunk), 32 steps
// at a time: an inclusive warp scan (Hillis-Steele) of the products plus the carry of the steps before.
template <typename T>
__device__ void cumsum(const T* __restrict__ dt, const float* __restrict__ a, float* __restrict__ cum, int B, int L,
                       int H, int Q) {
    const int chunks = (L + Q - 1) / Q, lane = threadIdx.x & 31;
    const int id = (blockIdx.x * blockDim.x + threadIdx.x) >> 5;
    if (id >= B * H * chunks) return;  // whole warps
    const int c = id % chunks, h = (id / chunks) % H, b = id / (chunks * H);
    const int t0 = c * Q, q = min(Q, L - t0);
    const float ah = a[h];
    const T* d = dt + (u64) (b * L + t0) * H + h;
    float* out = cum + ((u64) b * H + h) * L + t0;
    float carry = 0.f;
    for (int i0 = 0; i0 < q; i0 += 32) {
        const int i = i0 + lane;
        float v = i < q ? ld(d, (u64) i * H) * ah : 0.f;
#pragma unroll
        for (int m = 1; m < 32; m <<= 1) {
            const float o = __shfl_up_sync(0xffffffffu, v, m);
            if (lane >= m) v += o;
        }
        v += carry;
        if (i < q) out[i] = v;
        carry = __shfl_sync(0xffffffffu, v, 31);
    }
}

// xbc (B·L, ldx) -> cb (B, chunks, G, Q, Q): CB[i][s] = C_i·B_s for the tiles on and below the diagonal (s ≤ i is
// all that is read). Grid (s tile, i tile, (b, c, g)).
template <typename T>
__device__ void cb_products(const T* xbc, int ldx, int bOff, int cOff, float* cb, int L, int G, int N, int Q) {
    __shared__ __align__(16) float As[BK * LDT], Bs[BK * LDT];
    if (blockIdx.x > blockIdx.y) return;
    const int g = blockIdx.z % G, bc = blockIdx.z / G;
    const int chunks = (L + Q - 1) / Q, b = bc / chunks, c = bc % chunks;
    const int t0 = c * Q, q = min(Q, L - t0);
    const int i0 = blockIdx.y * TILE, s0 = blockIdx.x * TILE;
    if (i0 >= q) return;
    const u64 r0 = (u64) b * L + t0;
    float acc[4][4];
    zero(acc);
    gemm_tile<true, true>(acc, 0, N,
        [&](int k, int m) { return i0 + m < q ? raw(xbc, (r0 + i0 + m) * ldx + cOff + g * N + k) : 0.f; },
        as_is(xbc),
        [&](int k, int n) { return s0 + n < q ? raw(xbc, (r0 + s0 + n) * ldx + bOff + g * N + k) : 0.f; },
        as_is(xbc), As, Bs);
    store_tile(acc, cb + (u64) blockIdx.z * Q * Q, Q, i0, Q, s0, Q);
}

// out (P, N) = Σ_{s<q} α_s·X[s][p]·Y[s][n] for one (b, c, h) block's 64 x 64 tile (p tile blockIdx.y, n tile
// blockIdx.x): X the head's P columns of rows r0 + s (pitch ldX, from column xCol), Y N columns of the same rows
// (pitch ldY, from yCol), α staged in shared memory by the caller. Serves the chunk state (X = x, Y = B,
// α = exp(c_last − c_s)·Δ_s) and the backward's G and dh' partials (X = dY, Y = C, α = exp(c_i) or 1).
template <typename TX, typename TY>
__device__ void state_sum(const TX* X, int ldX, int xCol, const TY* Y, int ldY, int yCol, const float* alpha,
                          u64 r0, int q, int P, int N, float* out, float* As, float* Bs) {
    const int p0 = blockIdx.y * TILE, n0 = blockIdx.x * TILE;
    float acc[4][4];
    zero(acc);
    gemm_tile<false, false>(acc, 0, q,
        [&](int k, int m) { return p0 + m < P ? raw(X, (r0 + k) * ldX + xCol + p0 + m) : 0.f; },
        [&](int k, int, float v) { return alpha[k] * widen(X, v); },
        [&](int k, int n) { return n0 + n < N ? raw(Y, (r0 + k) * ldY + yCol + n0 + n) : 0.f; }, as_is(Y), As, Bs);
    store_tile(acc, out, N, p0, P, n0, N);
}

// xbc, dt, cum -> ck (B, chunks, H, P, N): S of each chunk (the state pass turns it into h_in). Grid (n tile,
// p tile, (b, c, h)).
template <typename T>
__device__ void chunk_state(const T* xbc, int ldx, int bOff, const T* dt, const float* cum, float* ck, int L, int H,
                            int P, int G, int N, int Q) {
    __shared__ __align__(16) float As[BK * LDT], Bs[BK * LDT];
    __shared__ float alpha[MAX_Q];
    const int h = blockIdx.z % H, bc = blockIdx.z / H;
    const int chunks = (L + Q - 1) / Q, b = bc / chunks, c = bc % chunks;
    const int t0 = c * Q, q = min(Q, L - t0), g = h / (H / G);
    const float* cm = cum + ((u64) b * H + h) * L + t0;
    const float last = cm[q - 1];
    for (int s = threadIdx.x; s < q; s += blockDim.x) {
        alpha[s] = expf(last - cm[s]) * ld(dt, (u64) (b * L + t0 + s) * H + h);
    }
    __syncthreads();
    state_sum(xbc, ldx, h * P, xbc, ldx, bOff + g * N, alpha, (u64) b * L + t0, q, P, N,
              ck + (u64) blockIdx.z * P * N, As, Bs);
}

// ck: S per chunk -> h_in per chunk, in place; state (B, H, P, N) h0 in, the last state out (0: zeros, not kept).
// One thread per element of a (b, h) state, walking the chunks; the loads of CHUNK_BATCH chunks go out together.
// Grid (ceil(P·N / 256), B·H).
#define CHUNK_BATCH 8
extern "C" __global__ void ssd_state_pass(const float* __restrict__ cum, float* __restrict__ state,
                                          float* __restrict__ ck, int B, int L, int H, int PN, int Q) {
    const int e = blockIdx.x * blockDim.x + threadIdx.x, bh = blockIdx.y;
    if (e >= PN) return;
    const int b = bh / H, h = bh % H, chunks = (L + Q - 1) / Q;
    float run = state ? state[(u64) bh * PN + e] : 0.f;
    for (int c0 = 0; c0 < chunks; c0 += CHUNK_BATCH) {
        float sc[CHUNK_BATCH], last[CHUNK_BATCH];
#pragma unroll
        for (int k = 0; k < CHUNK_BATCH; k++) {
            const int c = c0 + k;
            if (c < chunks) {
                sc[k] = ck[(((u64) b * chunks + c) * H + h) * PN + e];
                last[k] = cum[(u64) bh * L + min(L, (c + 1) * Q) - 1];
            }
        }
#pragma unroll
        for (int k = 0; k < CHUNK_BATCH; k++) {
            const int c = c0 + k;
            if (c < chunks) {
                ck[(((u64) b * chunks + c) * H + h) * PN + e] = run;
                run = expf(last[k]) * run + sc[k];
            }
        }
    }
    if (state) state[(u64) bh * PN + e] = run;
}

// The chunk output, and in backward mode (dy != 0) what the backward needs of it. Grid (p tile, i tile, (b, c, h)).
//   forward:  y_i = s_i·silu(z_i) (or s_i)
//   backward: dY = dy·silu(z) (or dy) -> dyf (B·L, D) float; dz = dy·s·silu'(z); per row and p tile the partials
//             offDot = Σ_p dY·(exp(c_i)·h_in·C_i) and xDot = Σ_p dY·x  ((p tiles, B·L·H) each)
template <typename T>
__device__ void chunk_scan(const T* xbc, int ldx, int cOff, const T* dt, const float* dSkip, const T* z, int ldz,
                           int zOff, const float* hOff, const float* yOff, const float* cum, const float* cb,
                           const float* ck, T* y, const T* dy, float* dyf, T* dz, float* offDot, float* xDot, int B,
                           int L, int H, int P, int G, int N, int Q) {
    __shared__ __align__(16) float As[BK * LDT], Bs[BK * LDT];
    __shared__ float cm[MAX_Q], dts[MAX_Q], ecm[TILE];
    const int h = blockIdx.z % H, bc = blockIdx.z / H;
    const int chunks = (L + Q - 1) / Q, b = bc / chunks, c = bc % chunks;
    const int t0 = c * Q, q = min(Q, L - t0), g = h / (H / G);
    const int i0 = blockIdx.y * TILE, p0 = blockIdx.x * TILE;
    if (i0 >= q) return;
    const int D = H * P, iEnd = min(q, i0 + TILE);
    const u64 r0 = (u64) b * L + t0;
    const bool bwd = dy != nullptr;
    const float* cumh = cum + ((u64) b * H + h) * L + t0;
    for (int s = threadIdx.x; s < iEnd; s += blockDim.x) {
        cm[s] = cumh[s];
        dts[s] = ld(dt, (r0 + s) * H + h);
        if (s >= i0) ecm[s - i0] = expf(cumh[s]);
    }
    __syncthreads();
    const int tx = threadIdx.x & 15, ty = threadIdx.x >> 4;
    float acc[4][4];
    zero(acc);
    // exp(c_i)·C_i·h_inᵀ
    const float* hin = ck + (u64) blockIdx.z * P * N;
    gemm_tile<true, true>(acc, 0, N,
        [&](int k, int m) { return i0 + m < q ? raw(xbc, (r0 + i0 + m) * ldx + cOff + g * N + k) : 0.f; },
        [&](int, int m, float v) { return i0 + m < q ? ecm[m] * widen(xbc, v) : 0.f; },
        [&](int k, int n) { return p0 + n < P ? hin[(u64) (p0 + n) * N + k] : 0.f; }, as_is(hin), As, Bs);
    if (bwd) {
#pragma unroll
        for (int i = 0; i < 4; i++) {
            const int ii = i0 + ty * 4 + i;
            float od = 0.f, xd = 0.f;
#pragma unroll
            for (int j = 0; j < 4; j++) {
                const int p = p0 + tx * 4 + j;
                if (ii < q && p < P) {
                    const u64 r = r0 + ii;
                    float d = ld(dy, r * D + h * P + p);
                    if (z) d *= silu(ld(z, r * ldz + zOff + h * P + p));
                    dyf[r * D + h * P + p] = d;
                    od += acc[i][j] * d;
                    xd += d * ld(xbc, r * ldx + h * P + p);
                }
            }
            od = sum_row16(od);
            xd = sum_row16(xd);
            if (tx == 0 && ii < q) {
                const u64 at = (u64) blockIdx.x * B * L * H + (r0 + ii) * H + h;
                offDot[at] = od;
                xDot[at] = xd;
            }
        }
        if (!z) return;  // without a gate the backward needs nothing more of s
    }
    if (hOff) {  // C_i·h'ᵀ
        const float* ho = hOff + (u64) h * P * N;
        gemm_tile<true, true>(acc, 0, N,
            [&](int k, int m) { return i0 + m < q ? raw(xbc, (r0 + i0 + m) * ldx + cOff + g * N + k) : 0.f; },
            as_is(xbc), [&](int k, int n) { return p0 + n < P ? ho[(u64) (p0 + n) * N + k] : 0.f; }, as_is(ho),
            As, Bs);
    }
    // Σ_{s≤i} exp(c_i − c_s)·CB_is·u_s
    const float* cbg = cb + (((u64) b * chunks + c) * G + g) * Q * Q;
    gemm_tile<true, false>(acc, 0, iEnd,
        [&](int k, int m) { return i0 + m < q && k <= i0 + m ? cbg[(u64) (i0 + m) * Q + k] : 0.f; },
        [&](int k, int m, float v) { return i0 + m < q && k <= i0 + m ? expf(cm[i0 + m] - cm[k]) * v : 0.f; },
        [&](int k, int n) { return p0 + n < P ? raw(xbc, (r0 + k) * ldx + h * P + p0 + n) : 0.f; },
        [&](int k, int, float v) { return dts[k] * widen(xbc, v); }, As, Bs);
#pragma unroll
    for (int i = 0; i < 4; i++) {
        const int ii = i0 + ty * 4 + i;
#pragma unroll
        for (int j = 0; j < 4; j++) {
            const int p = p0 + tx * 4 + j;
            if (ii >= q || p >= P) continue;
            const u64 r = r0 + ii;
            float s = acc[i][j];
            if (dSkip) s += dSkip[h] * ld(xbc, r * ldx + h * P + p);
            if (yOff) s += yOff[h * P + p];
            if (!bwd) {
                if (z) s *= silu(ld(z, r * ldz + zOff + h * P + p));
                st(y, r * D + h * P + p, s);
            } else {
                const float zz = ld(z, r * ldz + zOff + h * P + p);
                st(dz, r * ldz + zOff + h * P + p, ld(dy, r * D + h * P + p) * s * dsilu(zz));
            }
        }
    }
}

// ---- backward ------------------------------------------------------------------------------------------------

// G (into dh) and, in the second half of the grid's z, the dh' partials (into dhPart): Σ_i α_i·dY_i ⊗ C_i with
// α = exp(c_i), resp. 1. Grid (n tile, p tile, (b, c, h) x 1 or 2).
template <typename T>
__device__ void dstate(const T* xbc, int ldx, int cOff, const float* dyf, const float* cum, float* dh, float* dhPart,
                       int B, int L, int H, int P, int G, int N, int Q) {
    __shared__ __align__(16) float As[BK * LDT], Bs[BK * LDT];
    __shared__ float alpha[MAX_Q];
    const int chunks = (L + Q - 1) / Q, bch = B * chunks * H;
    const bool part = blockIdx.z >= bch;
    const int zz = blockIdx.z % bch;
    const int h = zz % H, bc = zz / H, b = bc / chunks, c = bc % chunks;
    const int t0 = c * Q, q = min(Q, L - t0), g = h / (H / G);
    const float* cm = cum + ((u64) b * H + h) * L + t0;
    for (int s = threadIdx.x; s < q; s += blockDim.x) alpha[s] = part ? 1.f : expf(cm[s]);
    __syncthreads();
    state_sum(dyf, H * P, h * P, xbc, ldx, cOff + g * N, alpha, (u64) b * L + t0, q, P, N,
              (part ? dhPart : dh) + (u64) zz * P * N, As, Bs);
}

// dh: G per chunk -> dH = dL/dh_out per chunk, in place, walking the chunks backwards; dh0 = dL/dh0 (or 0); dot
// ((b, h, chunk), blocks): the block's share of <dH, h_in>. The loads of CHUNK_BATCH chunks go out together.
// Grid (ceil(P·N / 256), B·H).
extern "C" __global__ void ssd_state_pass_bwd(const float* __restrict__ cum, const float* __restrict__ ck,
                                              float* __restrict__ dh, float* __restrict__ dh0,
                                              float* __restrict__ dot, int B, int L, int H, int PN, int Q) {
    __shared__ float red[32];
    const int e = blockIdx.x * blockDim.x + threadIdx.x, bh = blockIdx.y;
    const int b = bh / H, h = bh % H, chunks = (L + Q - 1) / Q;
    const bool in = e < PN;
    float run = 0.f;
    for (int c0 = chunks - 1; c0 >= 0; c0 -= CHUNK_BATCH) {
        float gc[CHUNK_BATCH], hi[CHUNK_BATCH], last[CHUNK_BATCH];
#pragma unroll
        for (int k = 0; k < CHUNK_BATCH; k++) {
            const int c = c0 - k;
            gc[k] = hi[k] = last[k] = 0.f;
            if (c >= 0) {
                const u64 at = (((u64) b * chunks + c) * H + h) * PN + e;
                if (in) {
                    gc[k] = dh[at];
                    hi[k] = ck[at];
                }
                last[k] = cum[(u64) bh * L + min(L, (c + 1) * Q) - 1];
            }
        }
#pragma unroll
        for (int k = 0; k < CHUNK_BATCH; k++) {
            const int c = c0 - k;
            if (c < 0) break;  // uniform across the block
            if (in) dh[(((u64) b * chunks + c) * H + h) * PN + e] = run;
            const float s = sum_block(run * hi[k], red);
            if (threadIdx.x == 0) dot[((u64) bh * chunks + c) * gridDim.x + blockIdx.x] = s;
            run = gc[k] + (SSD_MUTATION == 2 ? 0.f : expf(last[k]) * run);
        }
    }
    if (dh0 && in) dh0[(u64) bh * PN + e] = run;
}

// du of one (b, c, h) tile of rows s and channels p; dx = Δ·du + D·dY into dxbc; per row and p tile the partials
// duX = Σ_p du·x and dv = Σ_p (exp(c_last − c_s)·dH·B_s)·u_s. Grid (p tile, s tile, (b, c, h)).
template <typename T>
__device__ void du_rows(const T* xbc, int ldx, int bOff, const T* dt, const float* dSkip, const float* cum,
                        const float* cb, const float* dh, const float* dyf, T* dxbc, int lddx, float* duX, float* dv,
                        int B, int L, int H, int P, int G, int N, int Q) {
    __shared__ __align__(16) float As[BK * LDT], Bs[BK * LDT];
    __shared__ float cm[MAX_Q], wl[TILE];
    const int h = blockIdx.z % H, bc = blockIdx.z / H;
    const int chunks = (L + Q - 1) / Q, b = bc / chunks, c = bc % chunks;
    const int t0 = c * Q, q = min(Q, L - t0), g = h / (H / G);
    const int s0 = blockIdx.y * TILE, p0 = blockIdx.x * TILE;
    if (s0 >= q) return;
    const int D = H * P;
    const u64 r0 = (u64) b * L + t0;
    const float* cumh = cum + ((u64) b * H + h) * L + t0;
    const float last = cumh[q - 1];
    for (int s = threadIdx.x; s < q; s += blockDim.x) {
        cm[s] = cumh[s];
        if (s >= s0 && s < s0 + TILE) wl[s - s0] = expf(last - cumh[s]);
    }
    __syncthreads();
    const int tx = threadIdx.x & 15, ty = threadIdx.x >> 4;
    float acc[4][4];
    zero(acc);
    // exp(c_last − c_s)·dH·B_s
    const float* dH = dh + (u64) blockIdx.z * P * N;
    gemm_tile<true, true>(acc, 0, SSD_MUTATION == 4 ? 0 : N,
        [&](int k, int m) { return s0 + m < q ? raw(xbc, (r0 + s0 + m) * ldx + bOff + g * N + k) : 0.f; },
        [&](int, int m, float v) { return s0 + m < q ? wl[m] * widen(xbc, v) : 0.f; },
        [&](int k, int n) { return p0 + n < P ? dH[(u64) (p0 + n) * N + k] : 0.f; }, as_is(dH), As, Bs);
    float dlt[4], xv[4][4];
#pragma unroll
    for (int i = 0; i < 4; i++) {
        const int ss = s0 + ty * 4 + i;
        dlt[i] = ss < q ? ld(dt, (r0 + ss) * H + h) : 0.f;
        float v = 0.f;
#pragma unroll
        for (int j = 0; j < 4; j++) {
            const int p = p0 + tx * 4 + j;
            xv[i][j] = ss < q && p < P ? ld(xbc, (r0 + ss) * ldx + h * P + p) : 0.f;
            v += acc[i][j] * (dlt[i] * xv[i][j]);
        }
        v = sum_row16(v);
        if (tx == 0 && ss < q) dv[(u64) blockIdx.x * B * L * H + (r0 + ss) * H + h] = v;
    }
    // Σ_{i≥s} exp(c_i − c_s)·CB_is·dY_i
    const float* cbg = cb + (((u64) b * chunks + c) * G + g) * Q * Q;
    gemm_tile<false, false>(acc, s0, q,
        [&](int k, int m) { return s0 + m < q && k >= s0 + m ? cbg[(u64) k * Q + s0 + m] : 0.f; },
        [&](int k, int m, float v) { return s0 + m < q && k >= s0 + m ? expf(cm[k] - cm[s0 + m]) * v : 0.f; },
        [&](int k, int n) { return p0 + n < P ? dyf[(r0 + k) * D + h * P + p0 + n] : 0.f; }, as_is(dyf), As, Bs);
#pragma unroll
    for (int i = 0; i < 4; i++) {
        const int ss = s0 + ty * 4 + i;
        float v = 0.f;
#pragma unroll
        for (int j = 0; j < 4; j++) {
            const int p = p0 + tx * 4 + j;
            if (ss < q && p < P) {
                const u64 r = r0 + ss;
                float dx = dlt[i] * acc[i][j];
                if (dSkip) dx += dSkip[h] * dyf[r * D + h * P + p];
                st(dxbc, r * lddx + h * P + p, dx);
                v += acc[i][j] * xv[i][j];
            }
        }
        v = sum_row16(v);
        if (tx == 0 && ss < q) duX[(u64) blockIdx.x * B * L * H + (r0 + ss) * H + h] = v;
    }
}

// dCB (B, chunks, G, Q, Q) on and below the diagonal tiles, summed over the group's heads in order; per head, row
// and tile the partials dlRow (row i, s tile) = Σ_s dl_is and dlCol (row s, i tile) = Σ_i dl_is. Grid (s tile,
// i tile, (b, c, g)).
template <typename T>
__device__ void dcb_tiles(const T* xbc, int ldx, const T* dt, const float* cum, const float* cb, const float* dyf,
                          float* dcb, float* dlRow, float* dlCol, int B, int L, int H, int P, int G, int Q) {
    __shared__ __align__(16) float As[BK * LDT], Bs[BK * LDT];
    __shared__ float cm[MAX_Q], dts[MAX_Q], col[16][TILE];
    if (blockIdx.x > blockIdx.y) return;
    const int g = blockIdx.z % G, bc = blockIdx.z / G;
    const int chunks = (L + Q - 1) / Q, b = bc / chunks, c = bc % chunks;
    const int t0 = c * Q, q = min(Q, L - t0);
    const int i0 = blockIdx.y * TILE, s0 = blockIdx.x * TILE;
    if (i0 >= q) return;
    const int D = H * P, hg = H / G, iEnd = min(q, i0 + TILE);
    const u64 r0 = (u64) b * L + t0, rp = (u64) B * L * H;
    const float* cbg = cb + (u64) blockIdx.z * Q * Q;
    const int tx = threadIdx.x & 15, ty = threadIdx.x >> 4;
    float cbv[4][4], dsum[4][4];
#pragma unroll
    for (int i = 0; i < 4; i++) {
#pragma unroll
        for (int j = 0; j < 4; j++) {
            const int ii = i0 + ty * 4 + i, ss = s0 + tx * 4 + j;
            cbv[i][j] = ii < q && ss <= ii ? cbg[(u64) ii * Q + ss] : 0.f;
            dsum[i][j] = 0.f;
        }
    }
    for (int h = g * hg; h < (g + 1) * hg; h++) {
        const float* cumh = cum + ((u64) b * H + h) * L + t0;
        __syncthreads();  // the previous head's tables are read
        for (int s = threadIdx.x; s < iEnd; s += blockDim.x) {
            cm[s] = cumh[s];
            dts[s] = ld(dt, (r0 + s) * H + h);
        }
        __syncthreads();
        float acc[4][4];
        zero(acc);
        // dw_is = dY_i·u_s
        gemm_tile<true, true>(acc, 0, P,
            [&](int k, int m) { return i0 + m < q ? dyf[(r0 + i0 + m) * D + h * P + k] : 0.f; }, as_is(dyf),
            [&](int k, int n) { return s0 + n < q ? raw(xbc, (r0 + s0 + n) * ldx + h * P + k) : 0.f; },
            [&](int, int n, float v) { return s0 + n < q ? dts[s0 + n] * widen(xbc, v) : 0.f; }, As, Bs);
        float cs[4] = {0.f, 0.f, 0.f, 0.f};
#pragma unroll
        for (int i = 0; i < 4; i++) {
            const int ii = i0 + ty * 4 + i;
            float rs = 0.f;
#pragma unroll
            for (int j = 0; j < 4; j++) {
                const int ss = s0 + tx * 4 + j;
                if (ii < q && ss <= ii) {
                    const float l = expf(cm[ii] - cm[ss]);
                    const float dw = acc[i][j] * l;
                    dsum[i][j] += dw;
                    const float dl = dw * cbv[i][j];
                    rs += dl;
                    cs[j] += dl;
                }
            }
            rs = sum_row16(rs);
            if (tx == 0 && ii < q) dlRow[blockIdx.x * rp + (r0 + ii) * H + h] = rs;
        }
#pragma unroll
        for (int j = 0; j < 4; j++) col[ty][tx * 4 + j] = cs[j];
        __syncthreads();
        if (threadIdx.x < TILE) {
            float s = 0.f;
            for (int k = 0; k < 16; k++) s += col[k][threadIdx.x];
            const int ss = s0 + threadIdx.x;
            if (ss < q) dlCol[blockIdx.y * rp + (r0 + ss) * H + h] = s;
        }
    }
    store_tile(dsum, dcb + (u64) blockIdx.z * Q * Q, Q, i0, Q, s0, Q);
}

// dC (first half of the grid's z) or dB (second half) of one (b, c, g) tile of rows and states into dxbc.
// Grid (n tile, row tile, (b, c, g) x 2).
template <typename T>
__device__ void dbc_rows(const T* xbc, int ldx, int bOff, int cOff, const T* dt, const float* hOff, const float* cum,
                         const float* dcb, const float* dyf, const float* ck, const float* dh, T* dxbc, int lddx,
                         int B, int L, int H, int P, int G, int N, int Q) {
    __shared__ __align__(16) float As[BK * LDT], Bs[BK * LDT];
    __shared__ float fac[HEAD_BATCH * TILE];
    const int chunks = (L + Q - 1) / Q, bcg = B * chunks * G;
    const bool dB = blockIdx.z >= bcg;
    const int zz = blockIdx.z % bcg;
    const int g = zz % G, bc = zz / G, b = bc / chunks, c = bc % chunks;
    const int t0 = c * Q, q = min(Q, L - t0);
    const int r0t = blockIdx.y * TILE, n0 = blockIdx.x * TILE;
    if (r0t >= q) return;
    const int D = H * P, hg = H / G, PN = P * N;
    const u64 r0 = (u64) b * L + t0;
    const float* dcbg = dcb + (u64) zz * Q * Q;
    const u64 hBase = ((u64) bc * H + g * hg) * PN;  // (b, c, the group's first head) in ck and dh
    const int x0 = g * hg * P;                       // the group's first x column
    float acc[4][4];
    zero(acc);
    const int rEnd = min(q, r0t + TILE);
    if (!dB) {
        // Σ_{s≤i} dCB_is·B_s
        gemm_tile<true, false>(acc, 0, rEnd,
            [&](int k, int m) { return r0t + m < q && k <= r0t + m ? dcbg[(u64) (r0t + m) * Q + k] : 0.f; },
            as_is(dcbg),
            [&](int k, int n) { return n0 + n < N ? raw(xbc, (r0 + k) * ldx + bOff + g * N + n0 + n) : 0.f; },
            as_is(xbc), As, Bs);
    } else {
        // Σ_{i≥s} dCB_is·C_i
        gemm_tile<false, false>(acc, r0t, q,
            [&](int k, int m) { return r0t + m < q && k >= r0t + m ? dcbg[(u64) k * Q + r0t + m] : 0.f; },
            as_is(dcbg),
            [&](int k, int n) { return n0 + n < N ? raw(xbc, (r0 + k) * ldx + cOff + g * N + n0 + n) : 0.f; },
            as_is(xbc), As, Bs);
    }
    // the reduction over (head, p) of the group, HEAD_BATCH heads at a time, with the rows' factors per head staged
    // first: dC: Σ_h exp(c_i)·dY_i·h_in (+ Σ_h dY_i·h'); dB: Σ_h exp(c_last − c_s)·Δ_s·x_sᵀ·dH
    for (int hb = 0; hb < hg; hb += HEAD_BATCH) {
        const int he = min(hg, hb + HEAD_BATCH);
        __syncthreads();  // the previous batch's factors are read
        for (int e = threadIdx.x; e < (he - hb) * TILE; e += blockDim.x) {
            const int h = g * hg + hb + e / TILE, row = r0t + e % TILE;
            const float* cumh = cum + ((u64) b * H + h) * L + t0;
            fac[e] = row >= q ? 0.f : dB ? expf(cumh[q - 1] - cumh[row]) * ld(dt, (r0 + row) * H + h)
                                         : expf(cumh[row]);
        }
        __syncthreads();
        const int k0 = hb * P, k1 = he * P;
        if (!dB) {
            gemm_tile<true, false>(acc, k0, k1,
                [&](int k, int m) { return r0t + m < q ? dyf[(r0 + r0t + m) * D + x0 + k] : 0.f; },
                [&](int k, int m, float v) { return fac[(k / P - hb) * TILE + m] * v; },
                [&](int k, int n) { return n0 + n < N ? ck[hBase + (u64) k * N + n0 + n] : 0.f; }, as_is(ck),
                As, Bs);
            if (hOff && SSD_MUTATION != 3) {
                gemm_tile<true, false>(acc, k0, k1,
                    [&](int k, int m) { return r0t + m < q ? dyf[(r0 + r0t + m) * D + x0 + k] : 0.f; }, as_is(dyf),
                    [&](int k, int n) {
                        return n0 + n < N ? hOff[((u64) g * hg * P + k) * N + n0 + n] : 0.f;
                    }, as_is(hOff), As, Bs);
            }
        } else {
            gemm_tile<true, false>(acc, k0, k1,
                [&](int k, int m) { return r0t + m < q ? raw(xbc, (r0 + r0t + m) * ldx + x0 + k) : 0.f; },
                [&](int k, int m, float v) { return fac[(k / P - hb) * TILE + m] * widen(xbc, v); },
                [&](int k, int n) { return n0 + n < N ? dh[hBase + (u64) k * N + n0 + n] : 0.f; }, as_is(dh),
                As, Bs);
        }
    }
    const int tx = threadIdx.x & 15, ty = threadIdx.x >> 4;
    const int col = (dB ? bOff : cOff) + g * N;
#pragma unroll
    for (int i = 0; i < 4; i++) {
        const int rr = r0t + ty * 4 + i;
#pragma unroll
        for (int j = 0; j < 4; j++) {
            const int n = n0 + tx * 4 + j;
            if (rr < q && n < N) st(dxbc, (r0 + rr) * lddx + col + n, acc[i][j]);
        }
    }
}

// dΔ, and the (b, h, chunk) partials of dA and dD, from the row partials. One block per (chunk, h, b), a thread per
// step of the chunk (Q ≤ 256).
template <typename T>
__device__ void dt_rows(const T* dt, const float* a, const float* cum, const float* offDot, const float* xDot,
                        const float* duX, const float* dv, const float* dlRow, const float* dlCol, const float* dot,
                        int dotParts, T* ddt, float* dAPart, float* dDPart, int B, int L, int H, int P, int Q) {
    __shared__ float red[32], rev[MAX_Q], tail;
    const int c = blockIdx.x, h = blockIdx.y, b = blockIdx.z, chunks = gridDim.x;
    const int t0 = c * Q, q = min(Q, L - t0), i = threadIdx.x;
    const int pt = (P + TILE - 1) / TILE;
    const u64 rp = (u64) B * L * H, at = ((u64) b * L + t0 + i) * H + h;
    const bool in = i < q;
    float dc = 0.f, dvs = 0.f, dux = 0.f, xd = 0.f;
    if (in) {
        for (int k = 0; k < pt; k++) {
            dc += offDot[k * rp + at] - dv[k * rp + at];
            dvs += dv[k * rp + at];
            dux += duX[k * rp + at];
            xd += xDot[k * rp + at];
        }
        for (int k = 0; k <= i / TILE; k++) dc += dlRow[k * rp + at];
        if (SSD_MUTATION != 1) {
            for (int k = i / TILE; k <= (q - 1) / TILE; k++) dc -= dlCol[k * rp + at];
        }
    }
    const float dvTotal = sum_block(dvs, red);
    const float* cumh = cum + ((u64) b * H + h) * L + t0;
    if (i == 0) {  // the chunk state's and the state pass's dependence on c_last
        float s = 0.f;
        const float* dp = dot + (((u64) b * H + h) * chunks + c) * dotParts;
        for (int k = 0; k < dotParts; k++) s += dp[k];
        tail = dvTotal + expf(cumh[q - 1]) * s;
    }
    __syncthreads();
    if (i == q - 1) dc += tail;
    // rev_i = Σ_{j≥i} dc_j (Hillis-Steele over the block)
    rev[i] = in ? dc : 0.f;
    __syncthreads();
    for (int off = 1; off < q; off <<= 1) {
        const float add = i + off < q ? rev[i + off] : 0.f;
        __syncthreads();
        rev[i] += add;
        __syncthreads();
    }
    float da = 0.f;
    if (in) {
        const float r = rev[i], delta = ld(dt, at);
        st(ddt, at, a[h] * r + dux);
        da = delta * r;
    }
    const float daTotal = sum_block(da, red);
    const float dDTotal = sum_block(xd, red);
    if (i == 0) {
        dAPart[((u64) b * H + h) * chunks + c] = daTotal;
        dDPart[((u64) b * H + h) * chunks + c] = dDTotal;
    }
}

// The sums over batch rows and chunks, in order: dA, dD (H) += from their partials, dy' (D) += Σ_rows dY, dh'
// (H, P, N) += Σ_{b, c} dhPart. One thread per output element (the parts in this order).
extern "C" __global__ void ssd_finish(const float* dAPart, const float* dDPart, const float* dyf, const float* dhPart,
                                      float* dA, float* dSkip, float* dyOff, float* dhOff, int B, int L, int H, int P,
                                      int N, int chunks) {
    const u64 e = (u64) blockIdx.x * blockDim.x + threadIdx.x;
    const int D = H * P;
    if (e < (u64) 2 * H) {
        const int h = e % H;
        const float* part = e < H ? dAPart : dDPart;
        float* out = e < H ? dA : dSkip;
        if (!out) return;
        float s = 0.f;
        for (int b = 0; b < B; b++) {
            for (int c = 0; c < chunks; c++) s += part[((u64) b * H + h) * chunks + c];
        }
        out[h] += s;
    } else if (e < (u64) 2 * H + D) {
        if (!dyOff) return;
        const int col = e - 2 * H;
        float s = 0.f;
        for (u64 r = 0; r < (u64) B * L; r++) s += dyf[r * D + col];
        dyOff[col] += s;
    } else if (dhPart && e < (u64) 2 * H + D + (u64) H * P * N) {
        const u64 i = e - 2 * H - D, pn = (u64) P * N;
        const int h = i / pn;
        const u64 k = i % pn;
        float s = 0.f;
        for (int b = 0; b < B; b++) {
            for (int c = 0; c < chunks; c++) s += dhPart[(((u64) b * chunks + c) * H + h) * pn + k];
        }
        dhOff[i] += s;
    }
}

// ---- decoding ------------------------------------------------------------------------------------------------

// One decoding step for every batch row (a chunk of one token): x, B, C in xbc (B, ldx), dt (B, H), z (B, ldz) or
// 0; state (B, H, P, N) advanced in place; y (B, D):
//   h = exp(Δ·a)·h + Δ·x ⊗ B,   y = (h·C + h'·C + D·x + y')·silu(z)
// A warp per (b, h, p), its lanes over n. Grid (ceil(P / 8), H, B), 256 threads.
template <typename T>
__device__ void step(const T* xbc, int ldx, int bOff, int cOff, const T* dt, const float* a, const float* dSkip,
                     const T* z, int ldz, int zOff, const float* hOff, const float* yOff, float* state, T* y, int H,
                     int P, int G, int N) {
    const int p = blockIdx.x * 8 + (threadIdx.x >> 5), h = blockIdx.y, b = blockIdx.z, lane = threadIdx.x & 31;
    if (p >= P) return;
    const int g = h / (H / G), D = H * P;
    const u64 r = b;
    const float delta = ld(dt, r * H + h);
    const float e = expf(__fmul_rn(delta, a[h]));
    const float u = delta * ld(xbc, r * ldx + h * P + p);
    float* hs = state + (((u64) b * H + h) * P + p) * N;
    const float* ho = hOff ? hOff + ((u64) h * P + p) * N : nullptr;
    float acc = 0.f;
    for (int n = lane; n < N; n += 32) {
        const float bn = ld(xbc, r * ldx + bOff + g * N + n), cn = ld(xbc, r * ldx + cOff + g * N + n);
        const float hn = e * hs[n] + u * bn;
        hs[n] = hn;
        acc += (ho ? hn + ho[n] : hn) * cn;
    }
#pragma unroll
    for (int m = 16; m > 0; m >>= 1) acc += __shfl_xor_sync(0xffffffffu, acc, m);
    if (lane == 0) {
        float out = acc;
        if (dSkip) out += dSkip[h] * ld(xbc, r * ldx + h * P + p);
        if (yOff) out += yOff[h * P + p];
        if (z) out *= silu(ld(z, r * ldz + zOff + h * P + p));
        st(y, r * D + h * P + p, out);
    }
}

// ---- entry points: one per pass and element type -----------------------------------------------------------------

#define SSD_ENTRIES(TAG, T)                                                                                          \
    extern "C" __global__ void ssd_cumsum_##TAG(const T* dt, const float* a, float* cum, int B, int L, int H,       \
                                                int Q) {                                                             \
        cumsum<T>(dt, a, cum, B, L, H, Q);                                                                           \
    }                                                                                                                \
    extern "C" __global__ void __launch_bounds__(THREADS, SSD_MIN_BLOCKS) ssd_cb_##TAG(const T* xbc, int ldx, int bOff, int cOff,   \
            float* cb, int B, int L, int G, int N, int Q) {                                                          \
        cb_products<T>(xbc, ldx, bOff, cOff, cb, L, G, N, Q);                                                        \
    }                                                                                                                \
    extern "C" __global__ void __launch_bounds__(THREADS, SSD_MIN_BLOCKS) ssd_chunk_state_##TAG(const T* xbc, int ldx, int bOff,    \
            const T* dt, const float* cum, float* ck, int B, int L, int H, int P, int G, int N, int Q) {             \
        chunk_state<T>(xbc, ldx, bOff, dt, cum, ck, L, H, P, G, N, Q);                                               \
    }                                                                                                                \
    extern "C" __global__ void __launch_bounds__(THREADS, SSD_MIN_BLOCKS) ssd_chunk_scan_##TAG(const T* xbc, int ldx, int cOff,     \
            const T* dt, const float* dSkip, const T* z, int ldz, int zOff, const float* hOff, const float* yOff,    \
            const float* cum, const float* cb, const float* ck, T* y, const T* dy, float* dyf, T* dz,                \
            float* offDot, float* xDot, int B, int L, int H, int P, int G, int N, int Q) {                          \
        chunk_scan<T>(xbc, ldx, cOff, dt, dSkip, z, ldz, zOff, hOff, yOff, cum, cb, ck, y, dy, dyf, dz, offDot,      \
                      xDot, B, L, H, P, G, N, Q);                                                                    \
    }                                                                                                                \
    extern "C" __global__ void __launch_bounds__(THREADS, SSD_MIN_BLOCKS) ssd_dstate_##TAG(const T* xbc, int ldx, int cOff,         \
            const float* dyf, const float* cum, float* dh, float* dhPart, int B, int L, int H, int P, int G, int N,  \
            int Q) {                                                                                                 \
        dstate<T>(xbc, ldx, cOff, dyf, cum, dh, dhPart, B, L, H, P, G, N, Q);                                        \
    }                                                                                                                \
    extern "C" __global__ void __launch_bounds__(THREADS, SSD_MIN_BLOCKS) ssd_du_##TAG(const T* xbc, int ldx, int bOff,             \
            const T* dt, const float* dSkip, const float* cum, const float* cb, const float* dh, const float* dyf,   \
            T* dxbc, int lddx, float* duX, float* dv, int B, int L, int H, int P, int G, int N, int Q) {            \
        du_rows<T>(xbc, ldx, bOff, dt, dSkip, cum, cb, dh, dyf, dxbc, lddx, duX, dv, B, L, H, P, G, N, Q);           \
    }                                                                                                                \
    extern "C" __global__ void __launch_bounds__(THREADS, 1) ssd_dcb_##TAG(const T* xbc, int ldx, const T* dt,         \
            const float* cum, const float* cb, const float* dyf, float* dcb, float* dlRow, float* dlCol, int B,     \
            int L, int H, int P, int G, int Q) {                                                                     \
        dcb_tiles<T>(xbc, ldx, dt, cum, cb, dyf, dcb, dlRow, dlCol, B, L, H, P, G, Q);                               \
    }                                                                                                                \
    extern "C" __global__ void __launch_bounds__(THREADS, 1) ssd_dbc_##TAG(const T* xbc, int ldx, int bOff, int cOff,  \
            const T* dt, const float* hOff, const float* cum, const float* dcb, const float* dyf, const float* ck,   \
            const float* dh, T* dxbc, int lddx, int B, int L, int H, int P, int G, int N, int Q) {                  \
        dbc_rows<T>(xbc, ldx, bOff, cOff, dt, hOff, cum, dcb, dyf, ck, dh, dxbc, lddx, B, L, H, P, G, N, Q);         \
    }                                                                                                                \
    extern "C" __global__ void __launch_bounds__(THREADS, SSD_MIN_BLOCKS) ssd_dt_##TAG(const T* dt, const float* a,                 \
            const float* cum, const float* offDot, const float* xDot, const float* duX, const float* dv,             \
            const float* dlRow, const float* dlCol, const float* dot, int dotParts, T* ddt, float* dAPart,           \
            float* dDPart, int B, int L, int H, int P, int Q) {                                                      \
        dt_rows<T>(dt, a, cum, offDot, xDot, duX, dv, dlRow, dlCol, dot, dotParts, ddt, dAPart, dDPart, B, L, H, P,  \
                   Q);                                                                                               \
    }                                                                                                                \
    extern "C" __global__ void __launch_bounds__(THREADS, SSD_MIN_BLOCKS) ssd_step_##TAG(const T* xbc, int ldx, int bOff, int cOff, \
            const T* dt, const float* a, const float* dSkip, const T* z, int ldz, int zOff, const float* hOff,       \
            const float* yOff, float* state, T* y, int H, int P, int G, int N) {                                    \
        step<T>(xbc, ldx, bOff, cOff, dt, a, dSkip, z, ldz, zOff, hOff, yOff, state, y, H, P, G, N);                \
    }

SSD_ENTRIES(f32, float)
SSD_ENTRIES(bf16, bf16)
