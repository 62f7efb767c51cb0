// Mamba-1's selective scan, fused, with the PEFT state hooks built in. Compiled at run time by NVRTC
// (org.ssmpeft.runtime.cuda.driver.CudaModule); the Java side is org.ssmpeft.runtime.cuda.scan.SelectiveScanKernels.
//
//   h_t = exp(Δ_t·A) ⊙ h_{t-1} + (Δ_t·u_t)·B_t          h: (N) per (batch row, channel), h_{-1} = h0 (or the cache)
//   s_t = C_t·(h_t + h') + D·u_t + y'                     h' state offset (h), y' output offset (y)
//   y_t = s_t · silu(z_t)
//
// The state extension of additional-scan adds n' state dimensions with their own A' (D, n') and token-dependent
// B'_t, C'_t (n' each); they join the base N states in the same recurrence (no offset on them), so the kernel scans
// Ntot = N + n' states. Δ arrives after softplus. All arithmetic in float32; inputs/outputs T = float or bf16.
//
// Work split: a block owns one batch row and CH = 32 channels; each channel is shared by S = 4 lanes of a warp, and
// lane s owns states n = s·K + k, k < K (contiguous, so B_t and C_t reach it as 16-byte loads) (K = 4 for Ntot <= 16). Time is walked in tiles of TT steps: the block stages
// a tile's u, Δ, z (TT x CH) and B, C (TT x S·K) in shared memory with coalesced loads, then every lane runs its K
// recurrences through the tile from shared memory (state in registers), and the tile's outputs leave through shared
// memory as coalesced stores. The (B, L, D, N) state tensor never touches device memory.
//
// Backward recomputes: the forward (when asked) writes h at every tile start, (B, ceil(L/TT), D, Ntot) floats; the
// backward walks tiles in reverse, recomputes the tile's states from its checkpoint into shared memory, then runs
// the adjoint g_t = ∂/∂h_t backwards through the tile:
//   ds = dy·silu(z);  dz = dy·s·silu'(z);  g_t = g_{t+1}·e_{t+1} + ds·C_t   (e_t = exp(Δ_t·A))
//   du += ds·D + Σ_n g·Δ·B;   dΔ = Σ_n g·(B·u + A·e·h_{t-1});   dB_t = Σ_c g·Δ·u;   dC_t = Σ_c ds·(h_t + h')
//   dA += g·Δ·e·h_{t-1};  dh' += ds·C;  dD += ds·u;  dy' += ds;  dh0 = g_0·e_0 (the adjoint past the first step)
// Sums over channels (dB, dC) and over batch rows (dA, dh', dD, dy') go through per-block partials reduced by a
// second kernel in a fixed order, so gradients are deterministic (no floating-point atomics).

#define S 4
#define CH 32
#define THREADS (S * CH)

typedef unsigned long long u64;

struct bf16 {
    unsigned short v;
};

__device__ __forceinline__ float ld(const float* p, u64 i) { return p[i]; }
__device__ __forceinline__ float ld(const bf16* p, u64 i) { return __uint_as_float(((unsigned) p[i].v) << 16); }
__device__ __forceinline__ void st(float* p, u64 i, float x) { p[i] = x; }
__device__ __forceinline__ void st(bf16* p, u64 i, float x) {
    unsigned u = __float_as_uint(x);
    if ((u & 0x7fffffffu) > 0x7f800000u) {
        p[i].v = (unsigned short) ((u >> 16) | 0x40);  // NaN stays NaN
        return;
    }
    u += 0x7fffu + ((u >> 16) & 1u);                     // round to nearest even
    p[i].v = (unsigned short) (u >> 16);
}

// The bits of a token element as loaded, widened to float only when used: a load's consumer waits for the data,
// so the next tile's prefetched elements stay raw until they are written to shared memory.
template <typename T>
struct Raw;
template <>
struct Raw<float> {
    typedef float type;
    static __device__ __forceinline__ float get(const float* p, u64 i) { return p[i]; }
    static __device__ __forceinline__ float widen(float v) { return v; }
};
template <>
struct Raw<bf16> {
    typedef unsigned short type;
    static __device__ __forceinline__ unsigned short get(const bf16* p, u64 i) { return p[i].v; }
    static __device__ __forceinline__ float widen(unsigned short v) { return __uint_as_float(((unsigned) v) << 16); }
};

// 2^x on the special-function unit (x = Δ·A·log2(e) <= 0 here)
__device__ __forceinline__ float exp2_approx(float x) {
    float y;
    asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
    return y;
}

// the recurrence h' = e·h + (Δ·u)·B, one expression for the forward, the backward's recomputation and the step,
// so recomputed states are the forward's bit for bit
__device__ __forceinline__ float recur(float e, float h, float du, float b) { return __fmaf_rn(e, h, du * b); }

__device__ __forceinline__ float sigmoid(float z) { return 1.f / (1.f + expf(-z)); }

// sum over the S lanes of one channel (lanes s = 0..3 are adjacent); every lane gets the sum
__device__ __forceinline__ float sum_lanes(float v) {
    v += __shfl_xor_sync(0xffffffffu, v, 1);
    v += __shfl_xor_sync(0xffffffffu, v, 2);
    return v;
}

#define LOG2E 1.4426950408889634f

// K consecutive floats of shared memory (16-byte aligned) as K/4 vector loads
template <int K>
__device__ __forceinline__ void load_states(float (&v)[K], const float* p) {
#pragma unroll
    for (int k = 0; k < K; k += 4) {
        float4 q = *reinterpret_cast<const float4*>(p + k);
        v[k] = q.x;
        v[k + 1] = q.y;
        v[k + 2] = q.z;
        v[k + 3] = q.w;
    }
}

// Per-lane constants of one channel: A·log2(e), A, h' for the lane's K states (zero for padded states n >= Ntot).
template <int K>
struct Lane {
    float a2[K], a[K], ho[K];
    __device__ void load(const float* negA, const float* extNegA, const float* hoff, int c, int valid, int s,
                         int nb, int ne) {
#pragma unroll
        for (int k = 0; k < K; k++) {
            int n = s * K + k;
            float av = 0.f, h = 0.f;
            if (valid && n < nb) {
                av = negA[(u64) c * nb + n];
                if (hoff) h = hoff[(u64) c * nb + n];
            } else if (valid && n < nb + ne) {
                av = extNegA[(u64) c * ne + (n - nb)];
            }
            a[k] = av;
            a2[k] = av * LOG2E;
            ho[k] = h;
        }
    }
};

// The state of row b, channel c, lane s: base states from state (B, D, nb), extension states from extState (B, D, ne).
template <int K>
__device__ void load_state(float (&h)[K], const float* state, const float* extState, int b, int d, int c, int valid,
                           int s, int nb, int ne) {
#pragma unroll
    for (int k = 0; k < K; k++) {
        int n = s * K + k;
        float v = 0.f;
        if (valid && n < nb) {
            if (state) v = state[((u64) b * d + c) * nb + n];
        } else if (valid && n < nb + ne) {
            if (extState) v = extState[((u64) b * d + c) * ne + (n - nb)];
        }
        h[k] = v;
    }
}

template <int K>
__device__ void store_state(const float (&h)[K], float* state, float* extState, int b, int d, int c, int valid,
                            int s, int nb, int ne) {
#pragma unroll
    for (int k = 0; k < K; k++) {
        int n = s * K + k;
        if (valid && n < nb) {
            if (state) state[((u64) b * d + c) * nb + n] = h[k];
        } else if (valid && n < nb + ne) {
            if (extState) extState[((u64) b * d + c) * ne + (n - nb)] = h[k];
        }
    }
}

// One recurrence step of the lane's K states and its share of the read-out C·(h + h'):
//   h = exp(Δ·A)·h + (Δ·u)·B;  returns Σ_k C_k·(h_k + h'_k)
template <int K>
__device__ __forceinline__ float step_states(float (&h)[K], const Lane<K>& ln, float delta, float du,
                                             const float* Bt, const float* Ct, int s) {
    float bv[K], cv[K];
    load_states<K>(bv, Bt + s * K);
    load_states<K>(cv, Ct + s * K);
    float acc = 0.f;
#pragma unroll
    for (int k = 0; k < K; k++) {
        float e = exp2_approx(delta * ln.a2[k]);
        h[k] = recur(e, h[k], du, bv[k]);
        acc += (h[k] + ln.ho[k]) * cv[k];
    }
    return acc;
}

// One tile [t0, t0 + TT) of the inputs, loaded from device memory into registers (zeros past the ends), so the next
// tile's loads are in flight while the block computes the current one from shared memory (software pipelining:
// without it every tile waits a full memory latency). Item j of a thread is element threadIdx.x + j·THREADS of the
// tile, row-major (TT, CH) for the channel tensors and (TT, S·K) for B and C: consecutive threads read consecutive
// addresses.
template <typename T, int K, int TT>
struct TileLoad {
    typedef typename Raw<T>::type R;
    static constexpr int NT = S * K;
    static constexpr int IC = TT * CH / THREADS;  // channel items per thread
    static constexpr int IB = TT * NT / THREADS;  // B (and C) items per thread
    R x[IC], dt[IC], z[IC], dy[IC], bv[IB], cv[IB];
    float hck[K];  // the backward's checkpoint of the tile's first state, per lane

    __device__ void load_ckpt(const float* ckpt, int b, int chunks, int ck, int d, int c, int valid, int s,
                              int ntot) {
#pragma unroll
        for (int k = 0; k < K; k++) {
            int n = s * K + k;
            hck[k] = (valid && n < ntot) ? ckpt[(((u64) b * chunks + ck) * d + c) * ntot + n] : 0.f;
        }
    }

    __device__ void load(const T* px, const T* pdt, const T* pz, int ldz, int zOff, const T* pdy, const T* bc,
                         int ldbc, int bOff, const T* ext, int ldext, int b, int t0, int len, int d, int c0, int nb,
                         int ne) {
#pragma unroll
        for (int j = 0; j < IC; j++) {
            int i = threadIdx.x + j * THREADS;
            int t = t0 + i / CH, c = c0 + i % CH;
            R xv = 0, dv = 0, zv = 0, gv = 0;
            if (t < len && c < d) {
                u64 m = (u64) b * len + t;
                xv = Raw<T>::get(px, m * d + c);
                dv = Raw<T>::get(pdt, m * d + c);
                if (pz) zv = Raw<T>::get(pz, m * ldz + zOff + c);
                if (pdy) gv = Raw<T>::get(pdy, m * d + c);
            }
            x[j] = xv;
            dt[j] = dv;
            z[j] = zv;
            dy[j] = gv;
        }
#pragma unroll
        for (int j = 0; j < IB; j++) {
            int i = threadIdx.x + j * THREADS;
            int t = t0 + i / NT, n = i % NT;
            R bq = 0, cq = 0;
            if (t < len) {
                u64 m = (u64) b * len + t;
                if (n < nb) {
                    bq = Raw<T>::get(bc, m * ldbc + bOff + n);
                    cq = Raw<T>::get(bc, m * ldbc + bOff + nb + n);
                } else if (n < nb + ne) {
                    bq = Raw<T>::get(ext, m * ldext + (n - nb));
                    cq = Raw<T>::get(ext, m * ldext + ne + (n - nb));
                }
            }
            bv[j] = bq;
            cv[j] = cq;
        }
    }

    __device__ float fx(int j) const { return Raw<T>::widen(x[j]); }
    __device__ float fdt(int j) const { return Raw<T>::widen(dt[j]); }
    __device__ float fz(int j) const { return Raw<T>::widen(z[j]); }
    __device__ float fdy(int j) const { return Raw<T>::widen(dy[j]); }

    __device__ void store_bc(float* sB, float* sC) const {
#pragma unroll
        for (int j = 0; j < IB; j++) {
            sB[threadIdx.x + j * THREADS] = Raw<T>::widen(bv[j]);
            sC[threadIdx.x + j * THREADS] = Raw<T>::widen(cv[j]);
        }
    }
};

// ------------------------------------------------------------------------------------------------------------------
// Forward. x, dt: (B, L, D); negA: (D, nb) = -exp(A_log); bc: (B, L, ldbc) with B_t at bOff, C_t at bOff + nb;
// dskip: (D) or null; z: (B, L, ldz) at zOff or null (no gate); state: (B, D, nb) h0 in, h_{L-1} out (null: zeros,
// not written); hoff: (D, nb) or null; yoff: (D) or null; ext: (B, L, ldext) with B'_t at 0, C'_t at ne;
// extNegA: (D, ne); extState: (B, D, ne) like state; ckpt: (B, ceil(L/TT), D, Ntot) or null -> y: (B, L, D)
// Per step a lane only advances its states and leaves its share of C·(h + h') in shared memory (no cross-lane
// traffic in the recurrence); the shares, the channel's D·u + y' and the gate are combined when the tile is
// stored, by all threads at once.
template <typename T, int K, int TT>
__device__ void scan_fwd(const T* x, const T* dt, const float* negA, const T* bc, int ldbc, int bOff,
                         const float* dskip, const T* z, int ldz, int zOff, float* state, const float* hoff,
                         const float* yoff, const T* ext, int ldext, const float* extNegA, float* extState,
                         float* ckpt, T* y, int len, int d, int nb, int ne) {
    const int NT = S * K;
    __shared__ __align__(16) float2 sdu[TT * CH];  // (Δ, u)
    __shared__ __align__(16) float sz[TT * CH];
    __shared__ __align__(16) float sy[TT * CH * S];  // each lane's share of C·(h + h'), summed at the store
    __shared__ __align__(16) float sB[TT * NT], sC[TT * NT];
    __shared__ float sD[CH], sYo[CH];
    const int b = blockIdx.y, c0 = blockIdx.x * CH;
    const int cl = threadIdx.x / S, s = threadIdx.x % S, c = c0 + cl;
    const int valid = c < d, ntot = nb + ne;
    const int chunks = (len + TT - 1) / TT;
    if (threadIdx.x < CH) {
        int cc = c0 + threadIdx.x;
        sD[threadIdx.x] = (cc < d && dskip) ? dskip[cc] : 0.f;
        sYo[threadIdx.x] = (cc < d && yoff) ? yoff[cc] : 0.f;
    }
    Lane<K> ln;
    ln.load(negA, extNegA, hoff, c, valid, s, nb, ne);
    float h[K];
    load_state<K>(h, state, extState, b, d, c, valid, s, nb, ne);
    // two register sets, two tiles ahead: a tile's loads have two tiles of compute to arrive in (one was not enough:
    // the recurrence of 32 steps is shorter than a loaded memory latency)
    TileLoad<T, K, TT> ta, tb;
    ta.load(x, dt, z, ldz, zOff, nullptr, bc, ldbc, bOff, ext, ldext, b, 0, len, d, c0, nb, ne);
    if (TT < len) tb.load(x, dt, z, ldz, zOff, nullptr, bc, ldbc, bOff, ext, ldext, b, TT, len, d, c0, nb, ne);
    auto tile = [&](TileLoad<T, K, TT>& next, int t0) {
        const int ck = t0 / TT;
        __syncthreads();  // the previous tile is consumed and stored
#pragma unroll
        for (int j = 0; j < next.IC; j++) {
            int i = threadIdx.x + j * THREADS;
            sdu[i] = make_float2(next.fdt(j), next.fx(j));
            sz[i] = next.fz(j);
        }
        next.store_bc(sB, sC);
        __syncthreads();
        if (t0 + 2 * TT < len) {
            next.load(x, dt, z, ldz, zOff, nullptr, bc, ldbc, bOff, ext, ldext, b, t0 + 2 * TT, len, d, c0, nb, ne);
        }
        if (ckpt && valid) {
#pragma unroll
            for (int k = 0; k < K; k++) {
                int n = s * K + k;
                if (n < ntot) ckpt[(((u64) b * chunks + ck) * d + c) * ntot + n] = h[k];
            }
        }
#pragma unroll 8
        for (int tt = 0; tt < TT; tt++) {
            float2 du = sdu[tt * CH + cl];
            sy[(tt * CH + cl) * S + s] = step_states<K>(h, ln, du.x, du.x * du.y, sB + tt * NT, sC + tt * NT, s);
        }
        __syncthreads();
#pragma unroll
        for (int j = 0; j < next.IC; j++) {
            int i = threadIdx.x + j * THREADS;
            int tt = i / CH, cc = i % CH;
            int t = t0 + tt, cg = c0 + cc;
            if (t < len && cg < d) {
                float4 part = reinterpret_cast<const float4*>(sy)[i];
                float out = (part.x + part.y) + (part.z + part.w) + sD[cc] * sdu[i].y + sYo[cc];
                if (z) {
                    float zv = sz[i];
                    out *= zv * sigmoid(zv);
                }
                st(y, ((u64) b * len + t) * d + cg, out);
            }
        }
    };
    for (int t0 = 0; t0 < len; t0 += 2 * TT) {
        tile(ta, t0);
        if (t0 + TT < len) tile(tb, t0 + TT);
    }
    store_state<K>(h, state, extState, b, d, c, valid, s, nb, ne);
}

// ------------------------------------------------------------------------------------------------------------------
// Backward (inputs as the forward, plus dy: (B, L, D) and the forward's ckpt) -> dx, ddt: (B, L, D) and dz (when z)
// assigned; dh0: (B, D, nb), dh0ext: (B, D, ne) assigned when not null; per-block partials in work (see
// scan_bwd_finish): dbc (nblk, B, L, 2·NT), then (B, D, NT) dA, (B, D, NT) dh', (B, D) dD, (B, D) dy'.
// The per-(t, channel) factors of the gate are formed once per element when a tile is staged:
//   ds = dy·silu(z) and q = dy·σ(z)·(1 + z·(1 − σ(z))), so that dz = s·q once the lane group has s.
template <typename T, int K, int TT>
__device__ void scan_bwd(const T* x, const T* dt, const float* negA, const T* bc, int ldbc, int bOff,
                         const float* dskip, const T* z, int ldz, int zOff, const float* hoff, const float* yoff,
                         const T* ext, int ldext, const float* extNegA, const float* ckpt, const T* dy, T* dx,
                         T* ddt, T* dz, float* dh0, float* dh0ext, float* work, int batch, int len, int d, int nb,
                         int ne) {
    const int NT = S * K;
    const int V = 2 * K;  // per lane and step: dB contributions of its K states, then dC's
    extern __shared__ __align__(16) float smem[];
    float2* sdu = reinterpret_cast<float2*>(smem);  // (Δ, u)
    float* sds = smem + 2 * TT * CH;
    float* sq = sds + TT * CH;
    float* sdx = sq + TT * CH;
    float* sddt = sdx + TT * CH;
    float* sdz = sddt + TT * CH;
    float* sB = sdz + TT * CH;
    float* sC = sB + TT * NT;
    float* sH = sC + TT * NT;             // (TT, K, THREADS): h_t of every lane's states in the tile
    float* sRed = sH + TT * K * THREADS;  // (4 warps, TT, 2·NT): per-warp sums over its 8 channels

    const int b = blockIdx.y, blk = blockIdx.x, c0 = blk * CH;
    const int nblk = gridDim.x;
    const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
    const int cl = tid / S, s = tid % S, c = c0 + cl;
    const int valid = c < d, ntot = nb + ne;
    const int chunks = (len + TT - 1) / TT;
    Lane<K> ln;
    ln.load(negA, extNegA, hoff, c, valid, s, nb, ne);
    const float dv = (valid && dskip) ? dskip[c] : 0.f;
    const float yo = (valid && yoff) ? yoff[c] : 0.f;

    float g[K], dA[K], dho[K];
#pragma unroll
    for (int k = 0; k < K; k++) g[k] = dA[k] = dho[k] = 0.f;
    float dD = 0.f, dyo = 0.f;
    float* dbcPart = work;
    const u64 m0 = (u64) b * len;

    // two register sets, two tiles ahead, as in the forward
    TileLoad<T, K, TT> ta, tb;
    ta.load(x, dt, z, ldz, zOff, dy, bc, ldbc, bOff, ext, ldext, b, (chunks - 1) * TT, len, d, c0, nb, ne);
    ta.load_ckpt(ckpt, b, chunks, chunks - 1, d, c, valid, s, ntot);
    if (chunks >= 2) {
        tb.load(x, dt, z, ldz, zOff, dy, bc, ldbc, bOff, ext, ldext, b, (chunks - 2) * TT, len, d, c0, nb, ne);
        tb.load_ckpt(ckpt, b, chunks, chunks - 2, d, c, valid, s, ntot);
    }
    auto tile = [&](TileLoad<T, K, TT>& next, int ck) {
        const int t0 = ck * TT;
        __syncthreads();  // the previous (later) tile's outputs have been stored
#pragma unroll
        for (int j = 0; j < next.IC; j++) {
            int i = tid + j * THREADS;
            float zv = next.fz(j), gy = next.fdy(j);
            float ds = gy, q = 0.f;
            if (z) {
                float sg = sigmoid(zv);
                ds = gy * zv * sg;
                q = gy * sg * (1.f + zv * (1.f - sg));
            }
            sdu[i] = make_float2(next.fdt(j), next.fx(j));
            sds[i] = ds;
            sq[i] = q;
        }
        next.store_bc(sB, sC);
        float hck[K];
#pragma unroll
        for (int k = 0; k < K; k++) hck[k] = next.hck[k];
        __syncthreads();
        if (ck >= 2) {  // the tile two earlier loads while this one and the next are computed
            next.load(x, dt, z, ldz, zOff, dy, bc, ldbc, bOff, ext, ldext, b, t0 - 2 * TT, len, d, c0, nb, ne);
            next.load_ckpt(ckpt, b, chunks, ck - 2, d, c, valid, s, ntot);
        }
        // recompute the tile's states from its checkpoint, as the forward does
        {
            float h[K];
#pragma unroll
            for (int k = 0; k < K; k++) h[k] = hck[k];
#pragma unroll 2
            for (int tt = 0; tt < TT; tt++) {
                float2 du = sdu[tt * CH + cl];
                float bq[K];
                load_states<K>(bq, sB + tt * NT + s * K);
#pragma unroll
                for (int k = 0; k < K; k++) {
                    h[k] = recur(exp2_approx(du.x * ln.a2[k]), h[k], du.x * du.y, bq[k]);
                    sH[(tt * K + k) * THREADS + tid] = h[k];
                }
            }
        }
        // the adjoint, backwards through the tile; h_t of step tt is h_{t-1} of step tt + 1 (kept in registers)
        float ht[K];
#pragma unroll
        for (int k = 0; k < K; k++) ht[k] = sH[((TT - 1) * K + k) * THREADS + tid];
#pragma unroll 2
        for (int tt = TT - 1; tt >= 0; tt--) {
            const float* Bt = sB + tt * NT;
            const float* Ct = sC + tt * NT;
            float2 du = sdu[tt * CH + cl];
            float delta = du.x, u = du.y, ds = sds[tt * CH + cl];
            float hp[K], bv[K], cv[K];
            load_states<K>(bv, Bt + s * K);
            load_states<K>(cv, Ct + s * K);
            float acc = 0.f;
#pragma unroll
            for (int k = 0; k < K; k++) {
                hp[k] = tt > 0 ? sH[((tt - 1) * K + k) * THREADS + tid] : hck[k];
                acc += (ht[k] + ln.ho[k]) * cv[k];
            }
            if (s == 0) {
                dD += ds * u;
                dyo += ds;
            }
            float vals[V];
            float duAcc = 0.f, ddtAcc = 0.f;
#pragma unroll
            for (int k = 0; k < K; k++) {
                float e = exp2_approx(delta * ln.a2[k]);
                float gk = g[k] + ds * cv[k];
                vals[K + k] = ds * (ht[k] + ln.ho[k]);  // dC_t[n], this channel's share
                dho[k] += ds * cv[k];
                duAcc += gk * delta * bv[k];
                vals[k] = gk * delta * u;               // dB_t[n], this channel's share
                ddtAcc += gk * (bv[k] * u + ln.a[k] * e * hp[k]);
                dA[k] += gk * delta * e * hp[k];
                g[k] = gk * e;
                ht[k] = hp[k];
            }
            float sfull = sum_lanes(acc);
            duAcc = sum_lanes(duAcc);
            ddtAcc = sum_lanes(ddtAcc);
            if (s == 0) {
                sdx[tt * CH + cl] = duAcc + ds * dv;
                sddt[tt * CH + cl] = ddtAcc;
                sdz[tt * CH + cl] = sfull + dv * u + yo;  // s_t; times q when stored
            }
            // dB, dC: sum over the warp's 8 channels (lane bits 2..4) by a butterfly reduce-scatter: each level
            // keeps half of the values and adds the partner's copy of them, so after 3 levels every lane holds
            // V/8 complete sums instead of all lanes holding all V.
            int width = V;
#pragma unroll
            for (int mask = 16; mask >= 4; mask >>= 1) {
                int upper = (lane & mask) != 0;
                width >>= 1;
#pragma unroll
                for (int j = 0; j < V / 2; j++) {
                    if (j < width) {
                        float send = upper ? vals[j] : vals[j + width];
                        float keep = upper ? vals[j + width] : vals[j];
                        vals[j] = keep + __shfl_xor_sync(0xffffffffu, send, mask);
                    }
                }
            }
            // lane holds value indices idx = ((lane >> 2) & 7)·(V/8) + j; value idx < K is dB of state s·K + idx,
            // else dC of state s·K + idx - K
            const int per = V / 8;
#pragma unroll
            for (int j = 0; j < per; j++) {
                int idx = ((lane >> 2) & 7) * per + j;
                int which = idx >= K;
                int n = s * K + (idx - which * K);
                sRed[(warp * TT + tt) * 2 * NT + which * NT + n] = vals[j];
            }
        }
        __syncthreads();
        // tile outputs: dx, dΔ, dz and this block's dB/dC partial (the 4 warps summed in a fixed order)
#pragma unroll
        for (int j = 0; j < next.IC; j++) {
            int i = tid + j * THREADS;
            int tt = i / CH, cc = i % CH;
            int t = t0 + tt, cg = c0 + cc;
            if (t < len && cg < d) {
                u64 o = (m0 + t) * d + cg;
                st(dx, o, sdx[i]);
                st(ddt, o, sddt[i]);
                if (z && dz) st(dz, (m0 + t) * ldz + zOff + cg, sdz[i] * sq[i]);
            }
        }
        for (int i = tid; i < TT * 2 * NT; i += THREADS) {
            int tt = i / (2 * NT), j = i % (2 * NT);
            int t = t0 + tt;
            if (t < len) {
                float v = sRed[(0 * TT + tt) * 2 * NT + j] + sRed[(1 * TT + tt) * 2 * NT + j]
                        + sRed[(2 * TT + tt) * 2 * NT + j] + sRed[(3 * TT + tt) * 2 * NT + j];
                dbcPart[(((u64) blk * batch + b) * len + t) * 2 * NT + j] = v;
            }
        }
        };
    for (int ck = chunks - 1; ck >= 0; ck -= 2) {
        tile(ta, ck);
        if (ck >= 1) tile(tb, ck - 1);
    }
    // per batch row parameter partials; dh0 = the adjoint carried past the first step
    float* dApart = work + (u64) nblk * batch * len * 2 * NT;
    float* dhoPart = dApart + (u64) batch * d * NT;
    float* dDpart = dhoPart + (u64) batch * d * NT;
    float* dyoPart = dDpart + (u64) batch * d;
    if (valid) {
#pragma unroll
        for (int k = 0; k < K; k++) {
            int n = s * K + k;
            dApart[((u64) b * d + c) * NT + n] = dA[k];
            dhoPart[((u64) b * d + c) * NT + n] = dho[k];
        }
        if (s == 0) {
            dDpart[(u64) b * d + c] = dD;
            dyoPart[(u64) b * d + c] = dyo;
        }
    }
    store_state<K>(g, dh0, dh0ext, b, d, c, valid, s, nb, ne);
}

// Reduces the backward's partials in a fixed order:
//   dbc (B, L, ldbc) at bOff (dB then dC, nb each) and dext (B, L, ldext) (dB' then dC', ne each): assigned, the sum
//   over channel blocks;  dnegA (D, nb), dExtNegA (D, ne), dhoff (D, nb), dskip (D), dyoff (D): +=, the sum over
//   batch rows (each null when not wanted). One thread per output element: first B·L·2·Ntot, then D·Ntot, then D.
template <typename T, int K>
__device__ void scan_bwd_finish(const float* work, T* dbc, int ldbc, int bOff, T* dext, int ldext, float* dnegA,
                                float* dExtNegA, float* dhoff, float* dskip, float* dyoff, int nblk, int batch,
                                int len, int d, int nb, int ne) {
    const int NT = S * K, ntot = nb + ne;
    const u64 i = (u64) blockIdx.x * blockDim.x + threadIdx.x;
    const u64 nbc = (u64) batch * len * 2 * ntot;
    const u64 npar = (u64) d * ntot;
    if (i < nbc) {
        u64 m = i / (2 * ntot);
        int j = (int) (i % (2 * ntot));
        int which = j >= ntot;
        int n = j - which * ntot;
        float acc = 0.f;
        for (int p = 0; p < nblk; p++) acc += work[((u64) p * batch * len + m) * 2 * NT + which * NT + n];
        if (n < nb) {
            if (dbc) st(dbc, m * ldbc + bOff + which * nb + n, acc);
        } else if (dext) {
            st(dext, m * ldext + which * ne + (n - nb), acc);
        }
        return;
    }
    const float* dApart = work + (u64) nblk * batch * len * 2 * NT;
    const float* dhoPart = dApart + (u64) batch * d * NT;
    const float* dDpart = dhoPart + (u64) batch * d * NT;
    const float* dyoPart = dDpart + (u64) batch * d;
    u64 r = i - nbc;
    if (r < npar) {
        int c = (int) (r / ntot), n = (int) (r % ntot);
        float a = 0.f, o = 0.f;
        for (int b = 0; b < batch; b++) {
            a += dApart[((u64) b * d + c) * NT + n];
            o += dhoPart[((u64) b * d + c) * NT + n];
        }
        if (n < nb) {
            if (dnegA) dnegA[(u64) c * nb + n] += a;
            if (dhoff) dhoff[(u64) c * nb + n] += o;
        } else if (dExtNegA) {
            dExtNegA[(u64) c * ne + (n - nb)] += a;
        }
        return;
    }
    r -= npar;
    if (r < (u64) d) {
        float sd = 0.f, sy = 0.f;
        for (int b = 0; b < batch; b++) {
            sd += dDpart[(u64) b * d + r];
            sy += dyoPart[(u64) b * d + r];
        }
        if (dskip) dskip[r] += sd;
        if (dyoff) dyoff[r] += sy;
    }
}

// ------------------------------------------------------------------------------------------------------------------
// One decoding step for a batch: x, dt: (B, D); bc: (B, ldbc) at bOff; z: (B, ldz) at zOff; ext: (B, ldext);
// state (B, D, nb) and extState (B, D, ne) updated in place -> y: (B, D). The same lane layout and the same
// step_states as the forward, so a step equals the forward's step bit for bit.
template <typename T, int K>
__device__ void scan_step(const T* x, const T* dt, const float* negA, const T* bc, int ldbc, int bOff,
                          const float* dskip, const T* z, int ldz, int zOff, float* state, const float* hoff,
                          const float* yoff, const T* ext, int ldext, const float* extNegA, float* extState, T* y,
                          int d, int nb, int ne) {
    const int NT = S * K;
    __shared__ __align__(16) float sB[NT], sC[NT];
    const int b = blockIdx.y, c0 = blockIdx.x * CH;
    const int cl = threadIdx.x / S, s = threadIdx.x % S, c = c0 + cl;
    const int valid = c < d;
    for (int n = threadIdx.x; n < NT; n += THREADS) {
        float bv = 0.f, cv = 0.f;
        if (n < nb) {
            bv = ld(bc, (u64) b * ldbc + bOff + n);
            cv = ld(bc, (u64) b * ldbc + bOff + nb + n);
        } else if (n < nb + ne) {
            bv = ld(ext, (u64) b * ldext + (n - nb));
            cv = ld(ext, (u64) b * ldext + ne + (n - nb));
        }
        sB[n] = bv;
        sC[n] = cv;
    }
    __syncthreads();
    Lane<K> ln;
    ln.load(negA, extNegA, hoff, c, valid, s, nb, ne);
    float h[K];
    load_state<K>(h, state, extState, b, d, c, valid, s, nb, ne);
    float delta = valid ? ld(dt, (u64) b * d + c) : 0.f;
    float u = valid ? ld(x, (u64) b * d + c) : 0.f;
    float acc = sum_lanes(step_states<K>(h, ln, delta, delta * u, sB, sC, s));
    if (valid && s == 0) {
        float out = acc + (dskip ? dskip[c] : 0.f) * u + (yoff ? yoff[c] : 0.f);
        if (z) {
            float zv = ld(z, (u64) b * ldz + zOff + c);
            out *= zv * sigmoid(zv);
        }
        st(y, (u64) b * d + c, out);
    }
    store_state<K>(h, state, extState, b, d, c, valid, s, nb, ne);
}

// ------------------------------------------------------------------------------------------------------------------
// Entry points: scan_{fwd,bwd,bwd_finish,step}_{f32,bf16}_k{4,8,16}; K states per lane (Ntot <= 4·K), tile TT = 128 / K
// steps (the backward's shared memory for the tile's states is then 64 KB for every K).
#define ENTRIES(TN, T, K)                                                                                            \
    extern "C" __global__ void __launch_bounds__(THREADS) scan_fwd_##TN##_k##K(                                     \
            const T* x, const T* dt, const float* negA, const T* bc, int ldbc, int bOff, const float* dskip,         \
            const T* z, int ldz, int zOff, float* state, const float* hoff, const float* yoff, const T* ext,         \
            int ldext, const float* extNegA, float* extState, float* ckpt, T* y, int len, int d, int nb, int ne) {   \
        scan_fwd<T, K, 128 / K>(x, dt, negA, bc, ldbc, bOff, dskip, z, ldz, zOff, state, hoff, yoff, ext, ldext,     \
                                extNegA, extState, ckpt, y, len, d, nb, ne);                                         \
    }                                                                                                                \
    extern "C" __global__ void __launch_bounds__(THREADS) scan_bwd_##TN##_k##K(                                     \
            const T* x, const T* dt, const float* negA, const T* bc, int ldbc, int bOff, const float* dskip,         \
            const T* z, int ldz, int zOff, const float* hoff, const float* yoff, const T* ext, int ldext,            \
            const float* extNegA, const float* ckpt, const T* dy, T* dx, T* ddt, T* dz, float* dh0, float* dh0ext,   \
            float* work, int batch, int len, int d, int nb, int ne) {                                                \
        scan_bwd<T, K, 128 / K>(x, dt, negA, bc, ldbc, bOff, dskip, z, ldz, zOff, hoff, yoff, ext, ldext, extNegA,   \
                                ckpt, dy, dx, ddt, dz, dh0, dh0ext, work, batch, len, d, nb, ne);                    \
    }                                                                                                                \
    extern "C" __global__ void scan_bwd_finish_##TN##_k##K(                                                          \
            const float* work, T* dbc, int ldbc, int bOff, T* dext, int ldext, float* dnegA, float* dExtNegA,        \
            float* dhoff, float* dskip, float* dyoff, int nblk, int batch, int len, int d, int nb, int ne) {         \
        scan_bwd_finish<T, K>(work, dbc, ldbc, bOff, dext, ldext, dnegA, dExtNegA, dhoff, dskip, dyoff, nblk, batch, \
                              len, d, nb, ne);                                                                       \
    }                                                                                                                \
    extern "C" __global__ void __launch_bounds__(THREADS) scan_step_##TN##_k##K(                                    \
            const T* x, const T* dt, const float* negA, const T* bc, int ldbc, int bOff, const float* dskip,         \
            const T* z, int ldz, int zOff, float* state, const float* hoff, const float* yoff, const T* ext,         \
            int ldext, const float* extNegA, float* extState, T* y, int d, int nb, int ne) {                         \
        scan_step<T, K>(x, dt, negA, bc, ldbc, bOff, dskip, z, ldz, zOff, state, hoff, yoff, ext, ldext, extNegA,    \
                        extState, y, d, nb, ne);                                                                     \
    }

ENTRIES(f32, float, 4)
ENTRIES(f32, float, 8)
ENTRIES(f32, float, 16)
ENTRIES(bf16, bf16, 4)
ENTRIES(bf16, bf16, 8)
ENTRIES(bf16, bf16, 16)
