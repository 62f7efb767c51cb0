// activations.cuh: what more than one kernel module computes element by element, one definition each (expanded in
// place by CudaModule.source): silu and softplus as the cpu computes them (Activations.silu / softplus: in double,
// then rounded to float), and a decode step's causal conv of one channel (CausalConv1d at L = 1).
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

#ifndef MAX_CONV_KERNEL
#define MAX_CONV_KERNEL 8
#endif

// One conv step of a channel from its state s (K inputs, the last K of its sequence) and the new input xv: e =
// [s_1 .. s_{K-1} | xv], returns p = b + Σ_j w_j·e_j (j in order; a module compiled with --fmad=false rounds each
// product and sum apart, as Java does), and s <- e. w: the channel's K taps.
__device__ __forceinline__ float conv_step(float* s, float xv, const float* w, float bias, int K) {
    float e[MAX_CONV_KERNEL];
    float acc = bias;
#pragma unroll
    for (int j = 0; j < MAX_CONV_KERNEL; j++) {
        if (j < K) {
            e[j] = j + 1 < K ? s[j + 1] : xv;
            acc = acc + w[j] * e[j];
        }
    }
#pragma unroll
    for (int j = 0; j < MAX_CONV_KERNEL; j++) {
        if (j < K) s[j] = e[j];
    }
    return acc;
}

#endif
