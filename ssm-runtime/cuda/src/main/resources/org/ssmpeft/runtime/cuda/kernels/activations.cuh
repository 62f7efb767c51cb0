// activations.cuh: silu and softplus as the cpu computes them (Activations.silu / softplus: in double, then rounded
// to float), one definition for every kernel module that applies them (expanded in place by CudaModule.source).
#ifndef SSMPEFT_ACTIVATIONS_CUH
#define SSMPEFT_ACTIVATIONS_CUH

// silu(x) = x / (1 + e^-x), in double (Activations.silu)
__device__ __forceinline__ float silu(float x) {
    return (float) ((double) x / (1.0 + exp(-(double) x)));
}

// softplus(v) = log(1 + e^v), v itself above 20 (torch's threshold), in double as the cpu's
__device__ __forceinline__ float softplus(float v) {
    return v > 20.f ? v : (float) log1p(exp((double) v));
}

#endif
