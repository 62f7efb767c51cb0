// bf16.cuh: the float -> bf16 rounding every kernel module uses, one definition (expanded in place by CudaModule.source).
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

#endif
