// bf16.cuh: the float -> bf16 rounding every kernel module uses and the bf16 element type, one definition
// (expanded in place by CudaModule.source).
#ifndef SSMPEFT_BF16_CUH
#define SSMPEFT_BF16_CUH

// float -> bf16 bits, round to nearest even, NaN stays NaN (one instruction, cvt.rn.bf16.f32, from sm_80 on)
__device__ __forceinline__ unsigned short to_bf16(float x) {
#if __CUDA_ARCH__ >= 800
    unsigned short r;
    asm("cvt.rn.bf16.f32 %0, %1;" : "=h"(r) : "f"(x));
    return r;
#else
    unsigned u = __float_as_uint(x);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (unsigned short) ((u >> 16) | 0x40);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (unsigned short) (u >> 16);
#endif
}

// bf16 token elements (the raw 16 bits) and the element loads/stores of the scan modules: load widens to float
// (exact), store rounds to nearest even
struct bf16 {
    unsigned short v;
};

__device__ __forceinline__ float ld(const float* p, unsigned long long i) { return p[i]; }
__device__ __forceinline__ float ld(const bf16* p, unsigned long long i) {
    return __uint_as_float(((unsigned) p[i].v) << 16);
}
__device__ __forceinline__ void st(float* p, unsigned long long i, float x) { p[i] = x; }
__device__ __forceinline__ void st(bf16* p, unsigned long long i, float x) { p[i].v = to_bf16(x); }

#endif
