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
// Work split (a "layout", template parameters S, K, CH, TT; the Java side picks one per pass and Ntot): a block owns
// one batch row and CH channels; each channel is shared by S adjacent lanes of a warp, and lane s owns the K
// contiguous states n = s·K + k (NT = S·K >= Ntot, padded states are zero). Time is walked in tiles of TT steps:
// the block stages a tile's u, Δ, z (TT x CH) and the (B, C) pairs (TT x NT) in shared memory with coalesced
// loads issued two tiles ahead, every lane runs its K recurrences through the tile from shared memory (state in
// registers), and the tile's outputs leave through shared memory as coalesced stores. More lanes per channel (S 8,
// 16) means more warps for the same work: the recurrence is latency-bound at 1-2 warps per SM sub-partition.
// The (B, L, D, N) state tensor never touches device memory.
//
// Backward recomputes: the forward (when asked) writes h at every tile start, (B, ceil(L/TT), D, Ntot) floats (the
// layout-independent checkpoint: forward and backward may use different S, K, CH with the same TT); the backward
// walks tiles in reverse, recomputes the tile's states from its checkpoint into shared memory, then runs the
// adjoint g_t = ∂/∂h_t backwards through the tile:
//   ds = dy·silu(z);  dz = dy·s·silu'(z);  g_t = g_{t+1}·e_{t+1} + ds·C_t   (e_t = exp(Δ_t·A))
//   du += ds·D + Σ_n g·Δ·B;   dΔ = Σ_n g·(B·u + A·e·h_{t-1});   dB_t = Σ_c g·Δ·u;   dC_t = Σ_c ds·(h_t + h')
//   dA += g·Δ·e·h_{t-1};  dh' += ds·C;  dD += ds·u;  dy' += ds;  dh0 = g_0·e_0 (the adjoint past the first step)
// Sums over channels (dB, dC) and over batch rows (dA, dh', dD, dy') go through per-block partials reduced by a
// second kernel in a fixed order, so gradients are deterministic (no floating-point atomics).

typedef unsigned long long u64;

#include "bf16.cuh"
#include "activations.cuh"

// The bits of a token element as loaded, widened to float only when used: a load's consumer waits for the data,
// so the next tile's prefetched elements stay raw until they are written to shared memory.
template <typename T>
struct Raw;
template <>
struct Raw<float> {
    typedef float type;
    static __device__ __forceinline__ float get(const float* p, int i) { return p[i]; }
    static __device__ __forceinline__ float widen(float v) { return v; }
};
template <>
struct Raw<bf16> {
    typedef unsigned short type;
    static __device__ __forceinline__ unsigned short get(const bf16* p, int i) { return p[i].v; }
    static __device__ __forceinline__ float widen(unsigned short v) { return __uint_as_float(((unsigned) v) << 16); }
};

#define LOG2E 1.4426950408889634f

// Tuning switches for benchmark experiments (SCAN_BENCH_ONE_LAYOUT: only N 16's default layout, a quicker compile) (NVRTC -D options through ScanBench's -Dssmpeft.scan.defines; the
// shipped kernels use the defaults): the states whose shared-memory operands a lane reads together per group
// (Group), whether bf16 (B, C) are staged as packed bf16 pairs (1) or as float pairs (0), and the forward's
// unroll of its rounds per tile.
#ifndef SCAN_GROUP_STATES
#define SCAN_GROUP_STATES 8
#endif
#ifndef SCAN_BC_PACKED
#define SCAN_BC_PACKED 1
#endif
// the forward's lane map (LaneMap): 1 pairs lanes so that shared-memory loads return at the uniform-pair rate
#ifndef SCAN_LANE_PAIRS
#define SCAN_LANE_PAIRS 1
#endif
#ifndef SCAN_FWD_UNROLL
#define SCAN_FWD_UNROLL 2
#endif
// the forward's minimum resident blocks per SM for the register allocator (0: the compiler's default, which caps
// a 128-thread block at 128 registers)
#ifndef SCAN_FWD_MIN_BLOCKS
#define SCAN_FWD_MIN_BLOCKS 0
#endif
#if SCAN_FWD_MIN_BLOCKS > 0
#define FWD_LAUNCH_BOUNDS(t) __launch_bounds__(t, SCAN_FWD_MIN_BLOCKS)
#else
#define FWD_LAUNCH_BOUNDS(t) __launch_bounds__(t)
#endif
#define SCAN_PRAGMA(x) _Pragma(#x)
#define SCAN_UNROLL(n) SCAN_PRAGMA(unroll n)
// bf16 (B, C) staged packed (load_bc_packed) or widened to float pairs (load_bc)
template <typename T>
struct PackBC {
    static constexpr bool value = sizeof(T) == 2 && SCAN_BC_PACKED;
};

// Where the forward stages (Δ, Δ·u) of step r (of the tile) and channel c: steps 2r' and 2r' + 1 side by side, so a
// lane reads two steps' pairs with one 16-byte load
template <int CH>
__device__ __forceinline__ int du_at(int r, int c) {
    return ((r >> 1) * CH + c) * 2 + (r & 1);
}

// 2^x on the special-function unit (x = Δ·A·log2(e) <= 0 in the recurrence)
__device__ __forceinline__ float exp2_approx(float x) {
    float y;
    asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
    return y;
}

// the recurrence h' = e·h + (Δ·u)·B, one expression for the forward, the backward's recomputation and the step,
// so recomputed states are the forward's bit for bit
__device__ __forceinline__ float recur(float e, float h, float du, float b) { return __fmaf_rn(e, h, du * b); }

// σ(z) = 1 / (1 + 2^(−z·log2 e)) on the special-function unit (relative error ~1e-7, far under float32 tolerance);
// z → −∞ gives 1/∞ = 0, z → +∞ gives 1
__device__ __forceinline__ float sigmoid(float z) { return __fdividef(1.f, 1.f + exp2_approx(-z * LOG2E)); }

// Which lane of a warp runs lane s of the forward's channel slot cl. Plain: lane = cl·S + s (a channel's lanes
// adjacent). Paired (SCAN_LANE_PAIRS): lane bit 0 is the slot's bit 0, the next log2(S) bits are s and the rest the
// slot's higher bits. Then lanes n and n^1 read the same (B, C) words (same s, next channel) and lanes n and n^2 the
// same (Δ, Δ·u) (same channel, next s): the two pairings under which the shared-memory pipe packs a warp's load
// into half the return cycles (it returns one 32-bit register per warp and cycle otherwise). The arithmetic is the
// same for both maps (only which thread does it moves), so both give the same bits.
template <int S>
struct LaneMap {
    static constexpr int CW = 32 / S;  // channels per warp
    static constexpr bool PAIRS = SCAN_LANE_PAIRS && S > 1 && CW > 1;
    static constexpr int X = PAIRS ? 2 : 1;  // lane distance of adjacent s
    static __device__ __forceinline__ void of(int tid, int& cl, int& s) {
        if constexpr (PAIRS) {
            constexpr int LOG2S = S == 2 ? 1 : S == 4 ? 2 : S == 8 ? 3 : 4;
            static_assert((1 << LOG2S) == S, "lane map: S must be 2, 4, 8 or 16");
            const int lane = tid & 31;
            s = (lane >> 1) & (S - 1);
            cl = (tid >> 5) * CW + ((lane >> (1 + LOG2S)) << 1) + (lane & 1);
        } else {
            cl = tid / S;
            s = tid % S;
        }
    }
};

// sum over the S adjacent lanes of one channel; every lane gets the sum
template <int S>
__device__ __forceinline__ float sum_lanes(float v) {
#pragma unroll
    for (int m = 1; m < S; m <<= 1) v += __shfl_xor_sync(0xffffffffu, v, m);
    return v;
}

// The S lanes of one channel each hold their shares v[j] of S steps j; returns to lane s the sum over the lanes of
// step s ("transposed" butterfly: at each stage a lane keeps half of its steps and receives its partner's shares of
// them, so S steps cost S - 1 shuffles instead of S·log2(S)). The pairing is sum_lanes' (lanes s, s^1 first, then
// s^2, ...) and addition commutes, so every step's sum equals sum_lanes' bit for bit.
// X: the lane distance of adjacent s (LaneMap::X).
template <int S, int X = 1>
__device__ __forceinline__ float sum_lanes_transposed(float (&v)[S], int s) {
#pragma unroll
    for (int m = 1; m < S; m <<= 1) {
        const bool hi = (s & m) != 0;
#pragma unroll
        for (int i = 0; i < S / (2 * m); i++) {
            float keep = hi ? v[2 * i + 1] : v[2 * i];
            float send = hi ? v[2 * i] : v[2 * i + 1];
            v[i] = keep + __shfl_xor_sync(0xffffffffu, send, m * X);
        }
    }
    return v[0];
}

// The lane's K (B, C) pairs of one step from shared memory (pairs of the lane's states are contiguous, 8·K bytes,
// 16-byte aligned for even K): one 8- or 16-byte load per two states
template <int K>
__device__ __forceinline__ void load_bc(float (&bv)[K], float (&cv)[K], const float2* p) {
    if constexpr (K == 1) {
        float2 q = p[0];
        bv[0] = q.x;
        cv[0] = q.y;
    } else {
#pragma unroll
        for (int k = 0; k < K; k += 2) {
            float4 q = *reinterpret_cast<const float4*>(p + k);
            bv[k] = q.x;
            cv[k] = q.y;
            bv[k + 1] = q.z;
            cv[k + 1] = q.w;
        }
    }
}

// The same from (B, C) kept as bf16 pairs, one 32-bit word per state (B in the low half, C in the high half): half
// the shared-memory traffic of float pairs, and widening is exact (a bf16 is the high half of its float)
template <int K>
__device__ __forceinline__ void load_bc_packed(float (&bv)[K], float (&cv)[K], const unsigned* p) {
    unsigned w[K];
    if constexpr (K == 1) {
        w[0] = p[0];
    } else if constexpr (K == 2) {
        uint2 q = *reinterpret_cast<const uint2*>(p);
        w[0] = q.x;
        w[1] = q.y;
    } else {
#pragma unroll
        for (int k = 0; k < K; k += 4) {
            uint4 q = *reinterpret_cast<const uint4*>(p + k);
            w[k] = q.x;
            w[k + 1] = q.y;
            w[k + 2] = q.z;
            w[k + 3] = q.w;
        }
    }
#pragma unroll
    for (int k = 0; k < K; k++) {
        bv[k] = __uint_as_float(w[k] << 16);
        cv[k] = __uint_as_float(w[k] & 0xffff0000u);
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

// One recurrence step of the lane's K states and its share of the read-out C·(h + h'), from operands in registers:
//   h = exp(Δ·A)·h + (Δ·u)·B;  returns Σ_k C_k·(h_k + h'_k)   (HO false: no state offset, Σ_k C_k·h_k)
template <int K, bool HO>
__device__ __forceinline__ float step_states(float (&h)[K], const Lane<K>& ln, float delta, float du,
                                             const float (&bv)[K], const float (&cv)[K]) {
    float acc = 0.f;
#pragma unroll
    for (int k = 0; k < K; k++) {
        float e = exp2_approx(delta * ln.a2[k]);
        h[k] = recur(e, h[k], du, bv[k]);
        acc += (HO ? h[k] + ln.ho[k] : h[k]) * cv[k];
    }
    return acc;
}

// Steps whose shared-memory operands a lane reads together, before computing them: the compiler cannot move a
// later step's loads above an earlier step's shared-memory stores (it cannot prove they do not alias), so without
// the grouping every step waits a full shared-memory latency for its own operands (Nsight Compute: the MIO
// scoreboard was half of all stall cycles). G·(3K + 2) registers hold a group.
template <int K>
struct Group {
    static constexpr int G = K >= SCAN_GROUP_STATES ? 1 : SCAN_GROUP_STATES / K;
};

// Where a thread's items of a tile live. Channel tensors (TT x CH, row-major): item j of thread i is element
// i + j·THREADS, i.e. row i / CH + j·S, channel i % CH; (B, C) pairs (TT x NT): row i / NT + j·(CH / K), state
// i % NT. So each thread has one base address per tensor and tile and steps through its items with a 32-bit stride
// (one 64-bit multiply per tensor and tile instead of one per element).
template <int S, int K, int CH, int TT>
struct Items {
    static constexpr int THREADS = S * CH, NT = S * K;
    static constexpr int IC = TT / S;           // channel items per thread
    static constexpr int RB = CH / K;           // (B, C) rows per pass of the block
    static constexpr int IB = TT / RB;          // (B, C) items per thread
    static_assert(TT % S == 0 && CH % K == 0 && TT % RB == 0, "layout: TT must be a multiple of S and of CH / K");
    static __device__ __forceinline__ int row() { return threadIdx.x / CH; }
    static __device__ __forceinline__ int col() { return threadIdx.x % CH; }
    // offset of a channel tensor element (row t of batch row b, channel c) with leading dimension ld
    static __device__ __forceinline__ u64 at(int b, int len, int t, int ld, int c) {
        return ((u64) b * len + t) * ld + c;
    }
};

// The pitch of the forward's read-out rows in shared memory (see scan_fwd)
#define FWD_PITCH(S, CH) ((S) == 1 ? (CH) : (CH) + 32 / (S))

// One tile [t0, t0 + TT) of the inputs, loaded from device memory into registers (zeros past the ends), so the next
// tile's loads are in flight while the block computes the current one from shared memory (software pipelining).
template <typename T, int S, int K, int CH, int TT>
struct TileLoad {
    typedef typename Raw<T>::type R;
    typedef Items<S, K, CH, TT> I;
    static constexpr int IC = I::IC, IB = I::IB;
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
        const int r0 = t0 + I::row(), cg = c0 + I::col();
        const bool cok = cg < d;
        const u64 o = I::at(b, len, r0, d, cg);
        const T* qx = px + o;
        const T* qdt = pdt + o;
        const T* qdy = pdy ? pdy + o : nullptr;
        const T* qz = pz ? pz + I::at(b, len, r0, ldz, zOff + cg) : nullptr;
#pragma unroll
        for (int j = 0; j < IC; j++) {
            const bool ok = cok && r0 + j * S < len;
            const int od = j * S * d;
            x[j] = ok ? Raw<T>::get(qx, od) : R(0);
            dt[j] = ok ? Raw<T>::get(qdt, od) : R(0);
            z[j] = (ok && qz) ? Raw<T>::get(qz, j * S * ldz) : R(0);
            dy[j] = (ok && qdy) ? Raw<T>::get(qdy, od) : R(0);
        }
        // this thread's state n of the (B, C) pairs: base states from bc, extension states from ext, else zeros
        const int n = threadIdx.x % I::NT, rb = t0 + threadIdx.x / I::NT;
        const T* qb = nullptr;
        int ld = 0, cOff = 0;
        if (n < nb) {
            qb = bc + I::at(b, len, rb, ldbc, bOff + n);
            ld = ldbc;
            cOff = nb;
        } else if (n < nb + ne) {
            qb = ext + I::at(b, len, rb, ldext, n - nb);
            ld = ldext;
            cOff = ne;
        }
#pragma unroll
        for (int j = 0; j < IB; j++) {
            const bool ok = qb && rb + j * I::RB < len;
            const int ob = j * I::RB * ld;
            bv[j] = ok ? Raw<T>::get(qb, ob) : R(0);
            cv[j] = ok ? Raw<T>::get(qb, ob + cOff) : R(0);
        }
    }

    __device__ void load_fwd(const T* px, const T* pdt, const T* pz, int ldz, int zOff, const T* bc, int ldbc,
                             int bOff, const T* ext, int ldext, int b, int t0, int len, int d, int c0, int nb,
                             int ne) {
        load(px, pdt, pz, ldz, zOff, nullptr, bc, ldbc, bOff, ext, ldext, b, t0, len, d, c0, nb, ne);
    }

    __device__ float fx(int j) const { return Raw<T>::widen(x[j]); }
    __device__ float fdt(int j) const { return Raw<T>::widen(dt[j]); }
    __device__ float fz(int j) const { return Raw<T>::widen(z[j]); }
    __device__ float fdy(int j) const { return Raw<T>::widen(dy[j]); }

    __device__ void store_bc(float2* sBC) const {
#pragma unroll
        for (int j = 0; j < IB; j++) {
            sBC[threadIdx.x + j * I::THREADS] = make_float2(Raw<T>::widen(bv[j]), Raw<T>::widen(cv[j]));
        }
    }

    // bf16 tokens only: (B, C) as packed bf16 pairs (load_bc_packed)
    __device__ void store_bc_packed(unsigned* sBC) const {
#pragma unroll
        for (int j = 0; j < IB; j++) {
            sBC[threadIdx.x + j * I::THREADS] = (unsigned) bv[j] | ((unsigned) cv[j] << 16);
        }
    }

    // The forward's staging of this tile: (Δ, Δ·u) of steps 2r and 2r + 1 side by side in sdu (TT / 2, CH, 2), so
    // a lane reads two steps' pairs with one 16-byte load; u and z (TT, CH); (B, C) (TT, NT), packed for bf16
    __device__ void stage_fwd(float2* sdu, float* su, float* sz, float2* sBC) const {
        const int col = I::col();
#pragma unroll
        for (int j = 0; j < IC; j++) {
            const int i = threadIdx.x + j * I::THREADS, r = I::row() + j * S;
            const float dv = fdt(j), uv = fx(j);
            sdu[du_at<CH>(r, col)] = make_float2(dv, dv * uv);
            su[i] = uv;
            sz[i] = fz(j);
        }
        if constexpr (PackBC<T>::value) {
            store_bc_packed(reinterpret_cast<unsigned*>(sBC));
        } else {
            store_bc(sBC);
        }
    }

    // The forward's output of the tile [t0, t0 + TT): y = (C·(h + h') + D·u + y')·silu(z) from the read-outs sy
    // (TT, pitch PR), u and z as staged, D and y' of the block's channels
    template <int PR>
    static __device__ void store_fwd(const float* sy, const float* su, const float* sz, const float* sD,
                                     const float* sYo, bool gate, T* y, int b, int t0, int len, int d, int c0) {
        const int r0 = t0 + I::row(), col = I::col(), cg = c0 + col;
        T* qy = y + I::at(b, len, r0, d, cg);
#pragma unroll
        for (int j = 0; j < IC; j++) {
            const int i = threadIdx.x + j * I::THREADS;
            if (r0 + j * S < len && cg < d) {
                float out = sy[(I::row() + j * S) * PR + col] + sD[col] * su[i] + sYo[col];
                if (gate) {
                    const float zv = sz[i];
                    out *= zv * sigmoid(zv);
                }
                st(qy, (u64) (j * S * d), out);
            }
        }
    }
};

// Four adjacent elements as loaded (one 16-byte float4 or one 8-byte pair of bf16 pairs), widened when used.
template <typename T>
struct Raw4;
template <>
struct Raw4<float> {
    typedef float4 type;
    static __device__ __forceinline__ float4 get(const float* p) { return *reinterpret_cast<const float4*>(p); }
    static __device__ __forceinline__ float4 zero() { return make_float4(0.f, 0.f, 0.f, 0.f); }
    static __device__ __forceinline__ void widen(float4 v, float (&f)[4]) {
        f[0] = v.x;
        f[1] = v.y;
        f[2] = v.z;
        f[3] = v.w;
    }
    static __device__ __forceinline__ void put(float* p, const float (&f)[4]) {
        *reinterpret_cast<float4*>(p) = make_float4(f[0], f[1], f[2], f[3]);
    }
};
template <>
struct Raw4<bf16> {
    typedef uint2 type;  // element 2k in the low half of word k (little-endian)
    static __device__ __forceinline__ uint2 get(const bf16* p) { return *reinterpret_cast<const uint2*>(p); }
    static __device__ __forceinline__ uint2 zero() { return make_uint2(0u, 0u); }
    static __device__ __forceinline__ void widen(uint2 v, float (&f)[4]) {
        f[0] = __uint_as_float(v.x << 16);
        f[1] = __uint_as_float(v.x & 0xffff0000u);
        f[2] = __uint_as_float(v.y << 16);
        f[3] = __uint_as_float(v.y & 0xffff0000u);
    }
    static __device__ __forceinline__ void put(bf16* p, const float (&f)[4]) {
        *reinterpret_cast<uint2*>(p) = make_uint2((unsigned) to_bf16(f[0]) | ((unsigned) to_bf16(f[1]) << 16),
                                                  (unsigned) to_bf16(f[2]) | ((unsigned) to_bf16(f[3]) << 16));
    }
};

// The forward's tile with vector accesses (SASS of v8: the scalar staging and store were about 45% of a forward
// tile's instructions, 2-byte loads and stores each with its own address and bounds test). A thread moves 4
// adjacent channels of one row (row i / CPR + j·RC, channels 4·(i % CPR) ...) and 4 adjacent states of one (B, C)
// row (row i / BPR + j·RB) with one access per tensor and item; rows past the tile (RC or RB > TT) stay idle.
// Shapes it needs (vec_ok, tested once per launch): D, the z and (B, C) row pitches and offsets, N and n' multiples
// of 4, pointers aligned to 4 elements; then a group of 4 channels or states is wholly inside or outside every
// bound. The arithmetic is the scalar tile's, so both give the same bits. THR: the block's threads (S·CH, or half
// of it when a lane computes two channels, see scan_fwd's P).
template <typename T, int S, int K, int CH, int TT, int THR = S * CH>
struct TileLoadV {
    typedef Raw4<T> R4;
    typedef typename R4::type R;
    static constexpr int THREADS = THR, NT = S * K, PR = FWD_PITCH(S, CH);
    static constexpr int CPR = CH / 4, RC = THREADS / CPR, IC = (TT + RC - 1) / RC;
    static constexpr int BPR = NT / 4, RB = THREADS / BPR, IB = (TT + RB - 1) / RB;
    // the layouts it serves: whole 4-groups, and the read-out rows 16-byte aligned
    static constexpr bool OK = CH % 4 == 0 && NT % 4 == 0 && THREADS % CPR == 0 && THREADS % BPR == 0 &&
                               (RC >= TT || TT % RC == 0) && (RB >= TT || TT % RB == 0) && PR % 4 == 0;
    R x[IC], dt[IC], z[IC], bv[IB], cv[IB];

    static __device__ __forceinline__ int row() { return threadIdx.x / CPR; }
    static __device__ __forceinline__ int col() { return (threadIdx.x % CPR) * 4; }
    static __device__ __forceinline__ bool rowIn(int j) { return RC <= TT || row() + j * RC < TT; }

    static __device__ bool vec_ok(const T* x, const T* dt, const T* bc, int ldbc, int bOff, const T* z, int ldz,
                                  int zOff, const T* ext, int ldext, const T* y, int d, int nb, int ne) {
        const u64 align = 4 * sizeof(T) - 1;
        bool ok = d % 4 == 0 && nb % 4 == 0 && ldbc % 4 == 0 && bOff % 4 == 0 && ne % 4 == 0 &&
                  (((u64) x | (u64) dt | (u64) bc | (u64) y) & align) == 0;
        if (z) ok = ok && ldz % 4 == 0 && zOff % 4 == 0 && ((u64) z & align) == 0;
        if (ne) ok = ok && ldext % 4 == 0 && ((u64) ext & align) == 0;
        return ok;
    }

    __device__ void load_fwd(const T* px, const T* pdt, const T* pz, int ldz, int zOff, const T* bc, int ldbc,
                             int bOff, const T* ext, int ldext, int b, int t0, int len, int d, int c0, int nb,
                             int ne) {
        const int r0 = t0 + row(), cg = c0 + col();
        const bool cok = cg < d;
        const u64 o = ((u64) b * len + r0) * d + cg;
        const u64 oz = ((u64) b * len + r0) * ldz + zOff + cg;
#pragma unroll
        for (int j = 0; j < IC; j++) {
            const bool ok = cok && rowIn(j) && r0 + j * RC < len;
            const u64 od = (u64) (j * RC) * d;
            x[j] = ok ? R4::get(px + o + od) : R4::zero();
            dt[j] = ok ? R4::get(pdt + o + od) : R4::zero();
            z[j] = (ok && pz) ? R4::get(pz + oz + (u64) (j * RC) * ldz) : R4::zero();
        }
        // this thread's states n .. n + 3 of the (B, C) rows: base states from bc, extension states from ext, else
        // zeros (N and n' are multiples of 4, so the group is wholly one or the other)
        const int n = (threadIdx.x % BPR) * 4, rb = t0 + threadIdx.x / BPR;
        const T* qb = nullptr;
        int ld = 0, cOff = 0;
        if (n < nb) {
            qb = bc + ((u64) b * len + rb) * ldbc + bOff + n;
            ld = ldbc;
            cOff = nb;
        } else if (n < nb + ne) {
            qb = ext + ((u64) b * len + rb) * ldext + (n - nb);
            ld = ldext;
            cOff = ne;
        }
#pragma unroll
        for (int j = 0; j < IB; j++) {
            const bool ok = qb && (RB <= TT || threadIdx.x / BPR + j * RB < TT) && rb + j * RB < len;
            const u64 ob = (u64) (j * RB) * ld;
            bv[j] = ok ? R4::get(qb + ob) : R4::zero();
            cv[j] = ok ? R4::get(qb + ob + cOff) : R4::zero();
        }
    }

    __device__ void stage_fwd(float2* sdu, float* su, float* sz, float2* sBC) const {
        const int c = col();
#pragma unroll
        for (int j = 0; j < IC; j++) {
            if (!rowIn(j)) continue;
            const int r = row() + j * RC;
            float dv[4], uv[4], zv[4];
            R4::widen(dt[j], dv);
            R4::widen(x[j], uv);
            R4::widen(z[j], zv);
#pragma unroll
            for (int k = 0; k < 4; k++) sdu[du_at<CH>(r, c + k)] = make_float2(dv[k], dv[k] * uv[k]);
            *reinterpret_cast<float4*>(su + r * CH + c) = make_float4(uv[0], uv[1], uv[2], uv[3]);
            *reinterpret_cast<float4*>(sz + r * CH + c) = make_float4(zv[0], zv[1], zv[2], zv[3]);
        }
        const int n = (threadIdx.x % BPR) * 4;
#pragma unroll
        for (int j = 0; j < IB; j++) {
            if (!(RB <= TT || threadIdx.x / BPR + j * RB < TT)) continue;
            const int r = threadIdx.x / BPR + j * RB;
            if constexpr (PackBC<T>::value) {
                // (B, C) as packed bf16 pairs, B in the low half (load_bc_packed): PRMT picks the halves
                const uint2 pb = *reinterpret_cast<const uint2*>(&bv[j]), pc = *reinterpret_cast<const uint2*>(&cv[j]);
                *reinterpret_cast<uint4*>(reinterpret_cast<unsigned*>(sBC) + r * NT + n) =
                        make_uint4(__byte_perm(pb.x, pc.x, 0x5410), __byte_perm(pb.x, pc.x, 0x7632),
                                   __byte_perm(pb.y, pc.y, 0x5410), __byte_perm(pb.y, pc.y, 0x7632));
            } else {
                float fb[4], fc[4];
                R4::widen(bv[j], fb);
                R4::widen(cv[j], fc);
                float4* q = reinterpret_cast<float4*>(sBC + r * NT + n);
                q[0] = make_float4(fb[0], fc[0], fb[1], fc[1]);
                q[1] = make_float4(fb[2], fc[2], fb[3], fc[3]);
            }
        }
    }

    template <int P>
    static __device__ void store_fwd(const float* sy, const float* su, const float* sz, const float* sD,
                                     const float* sYo, bool gate, T* y, int b, int t0, int len, int d, int c0) {
        const int c = col(), cg = c0 + c;
        if (cg >= d) return;
        const float4 dk = *reinterpret_cast<const float4*>(sD + c), yk = *reinterpret_cast<const float4*>(sYo + c);
#pragma unroll
        for (int j = 0; j < IC; j++) {
            const int r = row() + j * RC;
            if (!rowIn(j) || t0 + r >= len) continue;
            const float4 ro = *reinterpret_cast<const float4*>(sy + r * P + c);
            const float4 u = *reinterpret_cast<const float4*>(su + r * CH + c);
            float out[4] = {ro.x + dk.x * u.x + yk.x, ro.y + dk.y * u.y + yk.y, ro.z + dk.z * u.z + yk.z,
                            ro.w + dk.w * u.w + yk.w};
            if (gate) {
                const float4 zq = *reinterpret_cast<const float4*>(sz + r * CH + c);
                out[0] *= zq.x * sigmoid(zq.x);
                out[1] *= zq.y * sigmoid(zq.y);
                out[2] *= zq.z * sigmoid(zq.z);
                out[3] *= zq.w * sigmoid(zq.w);
            }
            R4::put(y + ((u64) b * len + t0 + r) * d + cg, out);
        }
    }
};

// ------------------------------------------------------------------------------------------------------------------
// Forward. x, dt: (B, L, D); negA: (D, nb) = -exp(A_log); bc: (B, L, ldbc) with B_t at bOff, C_t at bOff + nb;
// dskip: (D) or null; z: (B, L, ldz) at zOff or null (no gate); state: (B, D, nb) h0 in, h_{L-1} out (null: zeros,
// not written); hoff: (D, nb) or null; yoff: (D) or null; ext: (B, L, ldext) with B'_t at 0, C'_t at ne;
// extNegA: (D, ne); extState: (B, D, ne) like state; ckpt: (B, ceil(L/TT), D, Ntot) or null -> y: (B, L, D)
// Per step a lane advances its states and keeps its share of C·(h + h') in a register; after S steps the S lanes of
// a channel sum their shares with one transposed butterfly (sum_lanes_transposed: S - 1 shuffles), lane s writing
// the total of the round's step s to sy[tt·PR + c] (pitch PR = CH + 32/S, so the 32/S channels and S steps of a
// warp's store hit 32 different banks when CH / (32/S) is even); the channel's D·u + y' and the gate are applied
// when the tile is stored, by all threads at once.
// HO: whether a state offset h' is read out (an instantiation without it saves an addition per state and step).
// Dynamic shared memory: FWD_SMEM_FLOATS floats (ScanLayout.forwardSharedBytes mirrors it).
#define FWD_SMEM_FLOATS(S, K, CH, TT) (4 * (TT) * (CH) + 2 * (TT) * (S) * (K) + (TT) * FWD_PITCH(S, CH) + 2 * (CH))
// V: the vector tile (TileLoadV) instead of the scalar one, where the layout and the shapes allow it.
template <bool V, class A, class B>
struct Pick {
    typedef A type;
};
template <class A, class B>
struct Pick<false, A, B> {
    typedef B type;
};
// P: channels per lane (1, or 2: lane s of channel slot cl also computes channel cl + CH/2 of the block, reading
// each step's (B, C) once for both, so the block's S·CH/2 threads stage and read half the (B, C) per channel; needs
// the vector tile). The arithmetic of a channel is the same for every P, so every P gives the same bits.
// c0: the block's first channel.
template <typename T, int S, int K, int CH, int TT, bool HO, bool V, int P = 1>
__device__ void scan_fwd(const T* x, const T* dt, const float* negA, const T* bc, int ldbc, int bOff,
                         const float* dskip, const T* z, int ldz, int zOff, float* state, const float* hoff,
                         const float* yoff, const T* ext, int ldext, const float* extNegA, float* extState,
                         float* ckpt, T* y, int len, int d, int nb, int ne, int c0) {
    static_assert(P == 1 || (P == 2 && V && CH % 2 == 0), "two channels per lane: vector tile, even CH");
    constexpr int NT = S * K, PR = FWD_PITCH(S, CH), THREADS = S * CH / P, CP = CH / P;
    // bf16 tokens: (B, C) staged as they arrive, packed bf16 pairs (the shared-memory pipe was the forward's
    // busiest: Nsight Compute, 74% L1/shared throughput, a third of the stalls waiting on shared loads)
    constexpr bool PACKED = PackBC<T>::value;
    extern __shared__ __align__(16) float smem[];
    float2* sdu = reinterpret_cast<float2*>(smem);               // (TT / 2, CH, 2) (Δ, Δ·u)
    float* su = smem + 2 * TT * CH;                               // (TT, CH) u, for D·u
    float* sz = su + TT * CH;                                     // (TT, CH)
    float2* sBC = reinterpret_cast<float2*>(sz + TT * CH);        // (TT, NT) (B, C) (bf16: packed, half of it)
    float* sy = reinterpret_cast<float*>(sBC + TT * NT);          // (TT, PR) read-outs C·(h + h')
    float* sD = sy + TT * PR;
    float* sYo = sD + CH;
    const int b = blockIdx.y;
    int cl, s;
    LaneMap<S>::of(threadIdx.x, cl, s);
    const int ntot = nb + ne;
    const int chunks = (len + TT - 1) / TT;
    for (int i = threadIdx.x; i < CH; i += THREADS) {
        int cc = c0 + i;
        sD[i] = (cc < d && dskip) ? dskip[cc] : 0.f;
        sYo[i] = (cc < d && yoff) ? yoff[cc] : 0.f;
    }
    // the lane's channels c[p] = c0 + cl + p·CH/P
    int c[P], valid[P];
    Lane<K> ln[P];
    float h[P][K];
#pragma unroll
    for (int p = 0; p < P; p++) {
        c[p] = c0 + cl + p * CP;
        valid[p] = c[p] < d;
        ln[p].load(negA, extNegA, hoff, c[p], valid[p], s, nb, ne);
        load_state<K>(h[p], state, extState, b, d, c[p], valid[p], s, nb, ne);
    }
    // two register sets, two tiles ahead: a tile's loads have two tiles of compute to arrive in (one was not enough:
    // the recurrence of one tile is shorter than a loaded memory latency)
    typedef typename Pick<V, TileLoadV<T, S, K, CH, TT, THREADS>, TileLoad<T, S, K, CH, TT>>::type Tile;
    Tile ta, tb;
    ta.load_fwd(x, dt, z, ldz, zOff, bc, ldbc, bOff, ext, ldext, b, 0, len, d, c0, nb, ne);
    if (TT < len) tb.load_fwd(x, dt, z, ldz, zOff, bc, ldbc, bOff, ext, ldext, b, TT, len, d, c0, nb, ne);
    auto tile = [&](Tile& next, int t0) {
        const int ck = t0 / TT;
        __syncthreads();  // the previous tile is consumed and stored
        next.stage_fwd(sdu, su, sz, sBC);
        __syncthreads();
        if (t0 + 2 * TT < len) {
            next.load_fwd(x, dt, z, ldz, zOff, bc, ldbc, bOff, ext, ldext, b, t0 + 2 * TT, len, d, c0, nb, ne);
        }
        if (ckpt) {
#pragma unroll
            for (int p = 0; p < P; p++) {
                if (!valid[p]) continue;
#pragma unroll
                for (int k = 0; k < K; k++) {
                    int n = s * K + k;
                    if (n < ntot) ckpt[(((u64) b * chunks + ck) * d + c[p]) * ntot + n] = h[p][k];
                }
            }
        }
        // a round: R steps, the read-out reduced every S of them; operands read G steps at a time
        constexpr int G = Group<K>::G, R = S > G ? S : G;
        static_assert(TT % R == 0 && R % G == 0 && R % S == 0, "forward: the tile must be a multiple of the round");
        float* readout = sy + s * PR + cl;
SCAN_UNROLL(SCAN_FWD_UNROLL)
        for (int t1 = 0; t1 < TT; t1 += R) {
            float out[P][R / S][S];
#pragma unroll
            for (int t2 = 0; t2 < R; t2 += G) {
                float2 du[P][G];
                float bq[G][K], cq[G][K];
#pragma unroll
                for (int q = 0; q < G; q++) {
                    const int t = t1 + t2 + q;
#pragma unroll
                    for (int p = 0; p < P; p++) {
                        if constexpr (G % 2 == 0) {
                            if (q % 2 == 0) {
                                float4 w = *reinterpret_cast<const float4*>(sdu + du_at<CH>(t, cl + p * CP));
                                du[p][q] = make_float2(w.x, w.y);
                                du[p][q + 1] = make_float2(w.z, w.w);
                            }
                        } else {
                            du[p][q] = sdu[du_at<CH>(t, cl + p * CP)];
                        }
                    }
                    if constexpr (PACKED) {
                        load_bc_packed<K>(bq[q], cq[q], reinterpret_cast<const unsigned*>(sBC) + t * NT + s * K);
                    } else {
                        load_bc<K>(bq[q], cq[q], sBC + t * NT + s * K);
                    }
                }
#pragma unroll
                for (int q = 0; q < G; q++) {
                    const int j = t2 + q;
#pragma unroll
                    for (int p = 0; p < P; p++) {
                        out[p][j / S][j % S] = step_states<K, HO>(h[p], ln[p], du[p][q].x, du[p][q].y, bq[q], cq[q]);
                    }
                }
            }
#pragma unroll
            for (int p = 0; p < P; p++) {
#pragma unroll
                for (int r = 0; r < R / S; r++) {
                    readout[(t1 + r * S) * PR + p * CP] = sum_lanes_transposed<S, LaneMap<S>::X>(out[p][r], s);
                }
            }
        }
        __syncthreads();
        Tile::template store_fwd<PR>(sy, su, sz, sD, sYo, z != nullptr, y, b, t0, len, d, c0);
    };
    for (int t0 = 0; t0 < len; t0 += 2 * TT) {
        tile(ta, t0);
        if (t0 + TT < len) tile(tb, t0 + TT);
    }
#pragma unroll
    for (int p = 0; p < P; p++) store_state<K>(h[p], state, extState, b, d, c[p], valid[p], s, nb, ne);
}

// ------------------------------------------------------------------------------------------------------------------
// Backward (inputs as the forward, plus dy: (B, L, D) and the forward's ckpt) -> dx, ddt: (B, L, D) and dz (when z)
// assigned; dh0: (B, D, nb), dh0ext: (B, D, ne) assigned when not null; per-block partials in work (see
// scan_bwd_finish): dbc (nblk, B, L, 2·NT), then (B, D, NT) dA, (B, D, NT) dh', (B, D) dD, (B, D) dy'.
// The per-(t, channel) factors of the gate are formed once per element when a tile is staged:
//   ds = dy·silu(z) and q = dy·σ(z)·(1 + z·(1 − σ(z))), so that dz = s·q once the lane group has s.
// Dynamic shared memory: BWD_SMEM_FLOATS floats.
#define BWD_SMEM_FLOATS(S, K, CH, TT) \
    (7 * (TT) * (CH) + 2 * (TT) * (S) * (K) + (TT) * (K) * (S) * (CH) + ((S) * (CH) / 32) * (TT) * 2 * (S) * (K))
template <typename T, int S, int K, int CH, int TT>
__device__ void scan_bwd(const T* x, const T* dt, const float* negA, const T* bc, int ldbc, int bOff,
                         const float* dskip, const T* z, int ldz, int zOff, const float* hoff, const float* yoff,
                         const T* ext, int ldext, const float* extNegA, const float* ckpt, const T* dy, T* dx,
                         T* ddt, T* dz, float* dh0, float* dh0ext, float* work, int batch, int len, int d, int nb,
                         int ne) {
    typedef Items<S, K, CH, TT> I;
    constexpr int THREADS = I::THREADS, NT = I::NT, NW = THREADS / 32;
    constexpr int V = 2 * K;  // per lane and step: dB contributions of its K states, then dC's
    constexpr int CW = 32 / S;  // channels per warp
    static_assert(V >= CW, "backward: the reduce-scatter over a warp's channels needs S·K >= 16");
    extern __shared__ __align__(16) float smem[];
    float2* sdu = reinterpret_cast<float2*>(smem);  // (Δ, u)
    float* sds = smem + 2 * TT * CH;
    float* sq = sds + TT * CH;
    float* sdx = sq + TT * CH;
    float* sddt = sdx + TT * CH;
    float* sdz = sddt + TT * CH;
    float2* sBC = reinterpret_cast<float2*>(sdz + TT * CH);
    float* sH = reinterpret_cast<float*>(sBC + TT * NT);  // (TT, K, THREADS): h_t of every lane's states in the tile
    float* sRed = sH + TT * K * THREADS;                   // (NW, TT, 2·NT): per-warp sums over its CW channels

    const int b = blockIdx.y, blk = blockIdx.x, c0 = blk * CH;
    const int nblk = gridDim.x;
    const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
    const int cl = tid / S, s = tid % S, c = c0 + cl;
    const int valid = c < d, ntot = nb + ne;
    const int chunks = (len + TT - 1) / TT;
    const int col = I::col(), cg = c0 + col;
    Lane<K> ln;
    ln.load(negA, extNegA, hoff, c, valid, s, nb, ne);
    const float dv = (valid && dskip) ? dskip[c] : 0.f;
    const float yo = (valid && yoff) ? yoff[c] : 0.f;

    float g[K], dA[K], dho[K];
#pragma unroll
    for (int k = 0; k < K; k++) g[k] = dA[k] = dho[k] = 0.f;
    float dD = 0.f, dyo = 0.f;
    float* dbcPart = work;

    // two register sets, two tiles ahead, as in the forward
    TileLoad<T, S, K, CH, TT> ta, tb;
    ta.load(x, dt, z, ldz, zOff, dy, bc, ldbc, bOff, ext, ldext, b, (chunks - 1) * TT, len, d, c0, nb, ne);
    ta.load_ckpt(ckpt, b, chunks, chunks - 1, d, c, valid, s, ntot);
    if (chunks >= 2) {
        tb.load(x, dt, z, ldz, zOff, dy, bc, ldbc, bOff, ext, ldext, b, (chunks - 2) * TT, len, d, c0, nb, ne);
        tb.load_ckpt(ckpt, b, chunks, chunks - 2, d, c, valid, s, ntot);
    }
    auto tile = [&](TileLoad<T, S, K, CH, TT>& next, int ck) {
        const int t0 = ck * TT;
        __syncthreads();  // the previous (later) tile's outputs have been stored
#pragma unroll
        for (int j = 0; j < I::IC; j++) {
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
        next.store_bc(sBC);
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
            constexpr int G = Group<K>::G;
#pragma unroll 2
            for (int t1 = 0; t1 < TT; t1 += G) {
                float2 du[G];
                float bq[G][K], cq[G][K], hs[G][K];
#pragma unroll
                for (int q = 0; q < G; q++) {
                    du[q] = sdu[(t1 + q) * CH + cl];
                    load_bc<K>(bq[q], cq[q], sBC + (t1 + q) * NT + s * K);
                }
#pragma unroll
                for (int q = 0; q < G; q++) {
#pragma unroll
                    for (int k = 0; k < K; k++) {
                        h[k] = recur(exp2_approx(du[q].x * ln.a2[k]), h[k], du[q].x * du[q].y, bq[q][k]);
                        hs[q][k] = h[k];
                    }
                }
#pragma unroll
                for (int q = 0; q < G; q++) {
#pragma unroll
                    for (int k = 0; k < K; k++) sH[((t1 + q) * K + k) * THREADS + tid] = hs[q][k];
                }
            }
        }
        // the adjoint, backwards through the tile; h_t of step tt is h_{t-1} of step tt + 1 (kept in registers)
        float ht[K];
#pragma unroll
        for (int k = 0; k < K; k++) ht[k] = sH[((TT - 1) * K + k) * THREADS + tid];
#pragma unroll 2
        for (int tt = TT - 1; tt >= 0; tt--) {
            float2 du = sdu[tt * CH + cl];
            float delta = du.x, u = du.y, ds = sds[tt * CH + cl];
            float hp[K], bv[K], cv[K];
            load_bc<K>(bv, cv, sBC + tt * NT + s * K);
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
            float sfull = sum_lanes<S>(acc);
            duAcc = sum_lanes<S>(duAcc);
            ddtAcc = sum_lanes<S>(ddtAcc);
            if (s == 0) {
                sdx[tt * CH + cl] = duAcc + ds * dv;
                sddt[tt * CH + cl] = ddtAcc;
                sdz[tt * CH + cl] = sfull + dv * u + yo;  // s_t; times q when stored
            }
            // dB, dC: sum over the warp's CW channels (the lane bits above the S lanes of a channel) by a butterfly
            // reduce-scatter: each level keeps half of the values and adds the partner's copy of them, so after
            // log2(CW) levels every lane holds V/CW complete sums instead of all lanes holding all V.
            int width = V;
#pragma unroll
            for (int mask = 16; mask >= S; mask >>= 1) {
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
            // lane holds value indices idx = (its channel in the warp)·(V/CW) + j; value idx < K is dB of state
            // s·K + idx, else dC of state s·K + idx - K
            constexpr int per = V / CW;
#pragma unroll
            for (int j = 0; j < per; j++) {
                int idx = (lane / S) * per + j;
                int which = idx >= K;
                int n = s * K + (idx - which * K);
                sRed[(warp * TT + tt) * 2 * NT + which * NT + n] = vals[j];
            }
        }
        __syncthreads();
        // tile outputs: dx, dΔ, dz and this block's dB/dC partial (the NW warps summed in a fixed order)
        const int r0 = t0 + I::row();
        const u64 o = I::at(b, len, r0, d, cg);
        T* qdz = dz ? dz + I::at(b, len, r0, ldz, zOff + cg) : nullptr;
#pragma unroll
        for (int j = 0; j < I::IC; j++) {
            int i = tid + j * THREADS;
            if (r0 + j * S < len && cg < d) {
                u64 od = o + (u64) (j * S * d);
                st(dx, od, sdx[i]);
                st(ddt, od, sddt[i]);
                if (z && qdz) st(qdz, (u64) (j * S * ldz), sdz[i] * sq[i]);
            }
        }
        for (int i = tid; i < TT * 2 * NT; i += THREADS) {
            int tt = i / (2 * NT), j = i % (2 * NT);
            int t = t0 + tt;
            if (t < len) {
                float v = 0.f;
#pragma unroll
                for (int w = 0; w < NW; w++) v += sRed[(w * TT + tt) * 2 * NT + j];
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

// Reduces the backward's partials (NT = S·K of the backward's layout) in a fixed order:
//   dbc (B, L, ldbc) at bOff (dB then dC, nb each) and dext (B, L, ldext) (dB' then dC', ne each): assigned, the sum
//   over channel blocks;  dnegA (D, nb), dExtNegA (D, ne), dhoff (D, nb), dskip (D), dyoff (D): +=, the sum over
//   batch rows (each null when not wanted). One thread per output element: first B·L·2·Ntot, then D·Ntot, then D.
template <typename T>
__device__ void scan_bwd_finish(const float* work, T* dbc, int ldbc, int bOff, T* dext, int ldext, float* dnegA,
                                float* dExtNegA, float* dhoff, float* dskip, float* dyoff, int nblk, int nt,
                                int batch, int len, int d, int nb, int ne) {
    const int ntot = nb + ne;
    const u64 i = (u64) blockIdx.x * blockDim.x + threadIdx.x;
    const u64 nbc = (u64) batch * len * 2 * ntot;
    const u64 npar = (u64) d * ntot;
    if (i < nbc) {
        u64 m = i / (2 * ntot);
        int j = (int) (i % (2 * ntot));
        int which = j >= ntot;
        int n = j - which * ntot;
        float acc = 0.f;
        for (int p = 0; p < nblk; p++) acc += work[((u64) p * batch * len + m) * 2 * nt + which * nt + n];
        if (n < nb) {
            if (dbc) st(dbc, m * ldbc + bOff + which * nb + n, acc);
        } else if (dext) {
            st(dext, m * ldext + which * ne + (n - nb), acc);
        }
        return;
    }
    const float* dApart = work + (u64) nblk * batch * len * 2 * nt;
    const float* dhoPart = dApart + (u64) batch * d * nt;
    const float* dDpart = dhoPart + (u64) batch * d * nt;
    const float* dyoPart = dDpart + (u64) batch * d;
    u64 r = i - nbc;
    if (r < npar) {
        int c = (int) (r / ntot), n = (int) (r % ntot);
        float a = 0.f, o = 0.f;
        for (int b = 0; b < batch; b++) {
            a += dApart[((u64) b * d + c) * nt + n];
            o += dhoPart[((u64) b * d + c) * nt + n];
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
// step_states as the forward of the layout, so a step equals that forward's step bit for bit.

// the (B, C) pairs of row b's step into shared memory: B at brow[0 .. nb), C at brow[nb .. 2nb), the extension's at
// erow[0 .. ne) and erow[ne .. 2ne); zero past them (padded states)
template <typename T, int NT, int THREADS>
__device__ __forceinline__ void stage_step_bc(float2* sBC, const T* brow, const T* erow, int nb, int ne) {
    for (int n = threadIdx.x; n < NT; n += THREADS) {
        float bv = 0.f, cv = 0.f;
        if (n < nb) {
            bv = ld(brow, n);
            cv = ld(brow, nb + n);
        } else if (n < nb + ne) {
            bv = ld(erow, n - nb);
            cv = ld(erow, ne + (n - nb));
        }
        sBC[n] = make_float2(bv, cv);
    }
}

// The step of row b (blockIdx.y), channel c, in two halves, so that a launch can issue every load before it needs
// Δ: load (the lane's A, h', its states, D, y', z) and update (the state update from Δ, u and the staged (B, C), the
// read-out y = (C·(h + h') + D·u + y')·silu(z), the state stored back)
template <typename T, int S, int K, int CH, bool HO>
struct StepLane {
    Lane<K> ln;
    float h[K];
    float dk, yo, zv;
    int b, c, s, valid;

    __device__ __forceinline__ void load(const float* negA, const float* dskip, const T* z, int ldz, int zOff,
                                         const float* state, const float* hoff, const float* yoff,
                                         const float* extNegA, const float* extState, int d, int nb, int ne) {
        b = blockIdx.y;
        c = blockIdx.x * CH + threadIdx.x / S;
        s = threadIdx.x % S;
        valid = c < d;
        ln.load(negA, extNegA, hoff, c, valid, s, nb, ne);
        load_state<K>(h, state, extState, b, d, c, valid, s, nb, ne);
        const bool out = valid && s == 0;
        dk = out && dskip ? dskip[c] : 0.f;
        yo = out && yoff ? yoff[c] : 0.f;
        zv = out && z ? ld(z, (u64) b * ldz + zOff + c) : 0.f;
    }

    __device__ __forceinline__ void update(const float2* sBC, float delta, float u, bool gate, float* state,
                                           float* extState, T* y, int d, int nb, int ne) {
        float bq[K], cq[K];
        load_bc<K>(bq, cq, sBC + s * K);
        float acc = sum_lanes<S>(step_states<K, HO>(h, ln, delta, delta * u, bq, cq));
        if (valid && s == 0) {
            float out = acc + dk * u + yo;
            if (gate) out *= zv * sigmoid(zv);
            st(y, (u64) b * d + c, out);
        }
        store_state<K>(h, state, extState, b, d, c, valid, s, nb, ne);
    }
};

template <typename T, int S, int K, int CH, bool HO>
__device__ void scan_step(const T* x, const T* dt, const float* negA, const T* bc, int ldbc, int bOff,
                          const float* dskip, const T* z, int ldz, int zOff, float* state, const float* hoff,
                          const float* yoff, const T* ext, int ldext, const float* extNegA, float* extState, T* y,
                          int d, int nb, int ne) {
    constexpr int NT = S * K, THREADS = S * CH;
    __shared__ __align__(16) float2 sBC[NT];
    const int b = blockIdx.y, c = blockIdx.x * CH + threadIdx.x / S;
    const int valid = c < d;
    stage_step_bc<T, NT, THREADS>(sBC, bc + (u64) b * ldbc + bOff, ext ? ext + (u64) b * ldext : ext, nb, ne);
    __syncthreads();
    float delta = valid ? ld(dt, (u64) b * d + c) : 0.f;
    float u = valid ? ld(x, (u64) b * d + c) : 0.f;
    StepLane<T, S, K, CH, HO> lane;
    lane.load(negA, dskip, z, ldz, zOff, state, hoff, yoff, extNegA, extState, d, nb, ne);
    lane.update(sBC, delta, u, z != nullptr, state, extState, y, d, nb, ne);
}

// The decode step of the fused few-row path (fp32; org.ssmpeft.runtime.cuda.layers.DecodeKernels has the other
// three launches of a layer): Δ is formed here, so dt_proj, its bias and softplus cost no launch of their own:
//   Δ_c = softplus(dt_low·W_dt[c]ᵀ + b_dt[c])    dt_low, B, C from xdbl (B, R + 2·nb) (decode_conv_xproj's sums);
//                                                the S lanes of channel c sum r = s, s + S, ... then sum_lanes (every
//                                                lane gets the same bits)
//   then scan_step's update from x (B, D) = silu(conv(x)). Also written: dt (B, D), which nothing downstream reads
//   (the tests compare it).
// dt_rank entries of W_dt a lane holds (SelectiveScanKernels.STEP_DT_RANK_PER_LANE): R <= this · S
#define STEP_DT_RANK_PER_LANE 24
template <int S, int K, int CH, bool HO>
__device__ void scan_step_dt(const float* x, float* dt, const float* negA, const float* xdbl, int rank,
                             const float* wdt, const float* bdt, const float* dskip, const float* z, int ldz,
                             int zOff, float* state, const float* hoff, const float* yoff, const float* ext,
                             int ldext, const float* extNegA, float* extState, float* y, int d, int nb, int ne) {
    constexpr int NT = S * K, THREADS = S * CH;
    __shared__ __align__(16) float2 sBC[NT];
    const int b = blockIdx.y, xw = rank + 2 * nb;
    const int c = blockIdx.x * CH + threadIdx.x / S, s = threadIdx.x % S;
    const int valid = c < d;
    const float* row = xdbl + (u64) b * xw;
    // every load first: the lane's state and parameters, u, its share of W_dt[c] and of dt_low, b_dt, (B, C)
    StepLane<float, S, K, CH, HO> lane;
    lane.load(negA, dskip, z, ldz, zOff, state, hoff, yoff, extNegA, extState, d, nb, ne);
    constexpr int RW = STEP_DT_RANK_PER_LANE;
    float wq[RW], xq[RW];
    const float* wc = wdt + (u64) (valid ? c : 0) * rank;
#pragma unroll
    for (int i = 0; i < RW; i++) {
        const bool in = valid && s + i * S < rank;
        wq[i] = in ? wc[s + i * S] : 0.f;
        xq[i] = in ? row[s + i * S] : 0.f;
    }
    const float u = valid ? x[(u64) b * d + c] : 0.f;
    const float bias = valid && bdt ? bdt[c] : 0.f;
    stage_step_bc<float, NT, THREADS>(sBC, row + rank, ext ? ext + (u64) b * ldext : ext, nb, ne);
    float pre = 0.f;
#pragma unroll
    for (int i = 0; i < RW; i++) {
        if (s + i * S < rank) pre = fmaf(xq[i], wq[i], pre);
    }
    pre = sum_lanes<S>(pre);
    float delta = 0.f;
    if (valid) {
        if (bdt) pre += bias;
        delta = softplus(pre);
        if (s == 0) dt[(u64) b * d + c] = delta;
    }
    __syncthreads();
    lane.update(sBC, delta, u, z != nullptr, state, extState, y, d, nb, ne);
}

// hookRows: 1 where every batch row has hooks of its own (a mixed-adapter batch: h' (B, D, nb), y' (B, D), A'
// (B, D, ne), row b's at b's place), 0 where the rows share them ((D, nb), (D), (D, ne)); a block owns one batch
// row (blockIdx.y), so its pointers move once, here. A row without a hook of its own reads zeros there, which the
// arithmetic turns into the bits of no hook (h + 0 = h, y + 0 = y).
__device__ __forceinline__ void hook_rows(int hookRows, const float*& hoff, const float*& yoff,
                                          const float*& extNegA, int d, int nb, int ne) {
    if (!hookRows) return;
    const u64 b = blockIdx.y;
    if (hoff) hoff += b * d * nb;
    if (yoff) yoff += b * d;
    if (extNegA) extNegA += b * d * ne;
}

// The forward's four instantiations: with or without h' (HO), vector or scalar tile (V: where TileLoadV serves the
// layout and vec_ok the shapes; the choice is uniform over the launch, so no warp diverges on it)
// P = 2 (two channels per lane, CH channels on S·CH/2 threads) needs the vector tile; where the shapes do not allow
// it, the block runs its two halves one after the other with the one-channel scalar forward (same bits, half the
// parallelism: only for shapes no Mamba checkpoint has).
template <typename T, int S, int K, int CH, int TT, int P = 1>
__device__ __forceinline__ void fwd_entry(const T* x, const T* dt, const float* negA, const T* bc, int ldbc, int bOff,
                                          const float* dskip, const T* z, int ldz, int zOff, float* state,
                                          const float* hoff, const float* yoff, const T* ext, int ldext,
                                          const float* extNegA, float* extState, float* ckpt, T* y, int len, int d,
                                          int nb, int ne) {
    typedef TileLoadV<T, S, K, CH, TT, S * CH / P> TV;
    const int c0 = blockIdx.x * CH;
    bool vec = false;
    if constexpr (TV::OK) vec = TV::vec_ok(x, dt, bc, ldbc, bOff, z, ldz, zOff, ext, ldext, y, d, nb, ne);
#define SCAN_FWD(CHN, HO, V, PP, C0)                                                                                 \
    scan_fwd<T, S, K, CHN, TT, HO, V, PP>(x, dt, negA, bc, ldbc, bOff, dskip, z, ldz, zOff, state, hoff, yoff, ext,  \
                                          ldext, extNegA, extState, ckpt, y, len, d, nb, ne, C0)
    if constexpr (TV::OK) {
        if (vec) {
            if (hoff) SCAN_FWD(CH, true, true, P, c0);
            else SCAN_FWD(CH, false, true, P, c0);
            return;
        }
    }
    if constexpr (P == 1) {
        if (hoff) SCAN_FWD(CH, true, false, 1, c0);
        else SCAN_FWD(CH, false, false, 1, c0);
    } else {
#pragma unroll 1
        for (int half = 0; half < 2; half++) {
            if (half) __syncthreads();  // the first half's tile is stored before the second stages its own
            if (hoff) SCAN_FWD(CH / 2, true, false, 1, c0 + half * (CH / 2));
            else SCAN_FWD(CH / 2, false, false, 1, c0 + half * (CH / 2));
        }
    }
#undef SCAN_FWD
}

// ------------------------------------------------------------------------------------------------------------------
// Entry points: scan_{fwd,bwd,step}_{f32,bf16}_s{S}k{K}c{CH}t{TT} for each layout below (S lanes per channel, K
// states per lane, CH channels and S·CH threads per block, TT steps per tile and between checkpoints), and
// scan_bwd_finish_{f32,bf16}. SelectiveScanKernels.Layout lists the same layouts and which one each pass uses.
#define ENTRIES(TN, T, S, K, CH, TT)                                                                                 \
    extern "C" __global__ void FWD_LAUNCH_BOUNDS(S * CH) scan_fwd_##TN##_s##S##k##K##c##CH##t##TT(                  \
            const T* x, const T* dt, const float* negA, const T* bc, int ldbc, int bOff, const float* dskip,         \
            const T* z, int ldz, int zOff, float* state, const float* hoff, const float* yoff, const T* ext,         \
            int ldext, const float* extNegA, float* extState, float* ckpt, T* y, int len, int d, int nb, int ne,     \
            int hookRows) {                                                                                          \
        hook_rows(hookRows, hoff, yoff, extNegA, d, nb, ne);                                                         \
        fwd_entry<T, S, K, CH, TT>(x, dt, negA, bc, ldbc, bOff, dskip, z, ldz, zOff, state, hoff, yoff, ext, ldext,  \
                                   extNegA, extState, ckpt, y, len, d, nb, ne);                                      \
    }                                                                                                                \
    extern "C" __global__ void __launch_bounds__(S * CH) scan_bwd_##TN##_s##S##k##K##c##CH##t##TT(                  \
            const T* x, const T* dt, const float* negA, const T* bc, int ldbc, int bOff, const float* dskip,         \
            const T* z, int ldz, int zOff, const float* hoff, const float* yoff, const T* ext, int ldext,            \
            const float* extNegA, const float* ckpt, const T* dy, T* dx, T* ddt, T* dz, float* dh0, float* dh0ext,   \
            float* work, int batch, int len, int d, int nb, int ne) {                                                \
        scan_bwd<T, S, K, CH, TT>(x, dt, negA, bc, ldbc, bOff, dskip, z, ldz, zOff, hoff, yoff, ext, ldext,          \
                                  extNegA, ckpt, dy, dx, ddt, dz, dh0, dh0ext, work, batch, len, d, nb, ne);         \
    }                                                                                                                \
    extern "C" __global__ void __launch_bounds__(S * CH) scan_step_##TN##_s##S##k##K##c##CH##t##TT(                 \
            const T* x, const T* dt, const float* negA, const T* bc, int ldbc, int bOff, const float* dskip,         \
            const T* z, int ldz, int zOff, float* state, const float* hoff, const float* yoff, const T* ext,         \
            int ldext, const float* extNegA, float* extState, T* y, int d, int nb, int ne, int hookRows) {           \
        hook_rows(hookRows, hoff, yoff, extNegA, d, nb, ne);                                                         \
        if (hoff)                                                                                                    \
            scan_step<T, S, K, CH, true>(x, dt, negA, bc, ldbc, bOff, dskip, z, ldz, zOff, state, hoff, yoff, ext,   \
                                         ldext, extNegA, extState, y, d, nb, ne);                                    \
        else                                                                                                         \
            scan_step<T, S, K, CH, false>(x, dt, negA, bc, ldbc, bOff, dskip, z, ldz, zOff, state, hoff, yoff, ext,  \
                                          ldext, extNegA, extState, y, d, nb, ne);                                   \
    }

// the fused decode path's step (fp32 only, see scan_step_dt)
#define STEP_DT_ENTRY(S, K, CH, TT)                                                                                   \
    extern "C" __global__ void __launch_bounds__(S * CH) scan_step_dt_f32_s##S##k##K##c##CH##t##TT(                  \
            const float* x, float* dt, const float* negA, const float* xdbl, int rank, const float* wdt,             \
            const float* bdt, const float* dskip, const float* z, int ldz, int zOff, float* state, const float* hoff, \
            const float* yoff, const float* ext, int ldext, const float* extNegA, float* extState, float* y, int d,   \
            int nb, int ne, int hookRows) {                                                                          \
        hook_rows(hookRows, hoff, yoff, extNegA, d, nb, ne);                                                         \
        if (hoff)                                                                                                    \
            scan_step_dt<S, K, CH, true>(x, dt, negA, xdbl, rank, wdt, bdt, dskip, z, ldz, zOff, state, hoff, yoff,  \
                                         ext, ldext, extNegA, extState, y, d, nb, ne);                               \
        else                                                                                                         \
            scan_step_dt<S, K, CH, false>(x, dt, negA, xdbl, rank, wdt, bdt, dskip, z, ldz, zOff, state, hoff, yoff, \
                                          ext, ldext, extNegA, extState, y, d, nb, ne);                              \
    }

#define LAYOUT(S, K, CH, TT) \
    ENTRIES(f32, float, S, K, CH, TT) ENTRIES(bf16, bf16, S, K, CH, TT) STEP_DT_ENTRY(S, K, CH, TT)

// Forward-only layouts with two channels per lane: CH channels per block on S·CH/2 threads (scan_fwd's P = 2); the
// backward and the decoding step of such a forward run in the one-channel layout (S, K, CH/2), whose arithmetic per
// channel is the same.
#define FWD_P2_ENTRY(TN, T, S, K, CH, TT)                                                                            \
    extern "C" __global__ void FWD_LAUNCH_BOUNDS(S * CH / 2) scan_fwd_##TN##_s##S##k##K##c##CH##t##TT##p2(           \
            const T* x, const T* dt, const float* negA, const T* bc, int ldbc, int bOff, const float* dskip,         \
            const T* z, int ldz, int zOff, float* state, const float* hoff, const float* yoff, const T* ext,         \
            int ldext, const float* extNegA, float* extState, float* ckpt, T* y, int len, int d, int nb, int ne,     \
            int hookRows) {                                                                                          \
        hook_rows(hookRows, hoff, yoff, extNegA, d, nb, ne);                                                         \
        fwd_entry<T, S, K, CH, TT, 2>(x, dt, negA, bc, ldbc, bOff, dskip, z, ldz, zOff, state, hoff, yoff, ext,      \
                                      ldext, extNegA, extState, ckpt, y, len, d, nb, ne);                            \
    }
#define FWD_P2_LAYOUT(S, K, CH, TT) FWD_P2_ENTRY(f32, float, S, K, CH, TT) FWD_P2_ENTRY(bf16, bf16, S, K, CH, TT)

#define FINISH(TN, T)                                                                                                \
    extern "C" __global__ void scan_bwd_finish_##TN(const float* work, T* dbc, int ldbc, int bOff, T* dext,         \
                                                    int ldext, float* dnegA, float* dExtNegA, float* dhoff,          \
                                                    float* dskip, float* dyoff, int nblk, int nt, int batch,         \
                                                    int len, int d, int nb, int ne) {                                \
        scan_bwd_finish<T>(work, dbc, ldbc, bOff, dext, ldext, dnegA, dExtNegA, dhoff, dskip, dyoff, nblk, nt,       \
                           batch, len, d, nb, ne);                                                                   \
    }
FINISH(f32, float)
FINISH(bf16, bf16)

// N + n' <= 16: tiles of 32 steps (the first is N 16's default, the only one under SCAN_BENCH_ONE_LAYOUT)
LAYOUT(8, 2, 16, 32)
FWD_P2_LAYOUT(8, 2, 32, 32)
#ifndef SCAN_BENCH_ONE_LAYOUT
LAYOUT(4, 4, 32, 32)
LAYOUT(8, 2, 32, 32)
LAYOUT(16, 1, 8, 32)
LAYOUT(16, 1, 16, 32)
LAYOUT(8, 2, 8, 32)
// N + n' <= 32: 16 steps
LAYOUT(4, 8, 32, 16)
LAYOUT(8, 4, 16, 16)
LAYOUT(8, 4, 32, 16)
// N + n' <= 64: 8 steps
LAYOUT(4, 16, 32, 8)
LAYOUT(8, 8, 16, 8)
LAYOUT(8, 8, 32, 8)
#endif
