// The optimiser step of a training run whose tensors stay on the device, float32, each kernel the device twin of a
// host class of org.ssmpeft.runtime.train (GradientAccumulator, GradientClipping, AdamW); the Java side is
// org.ssmpeft.runtime.cuda.layers.OptimizerKernels, whose javadoc gives each call.
//
// Every trainable tensor is a segment of one flat float32 buffer (values θ, moments m and v, gradient g, each laid out
// alike); a segment table of int32 quadruples (offset, length, step size bits, decay factor bits) drives the norm
// and the update, which runs over every segment in ONE launch (blockIdx.y = segment).
//
// Rounding, so that the device computes what the host computes:
//   - compiled with --fmad=false: a product and a sum round separately, as Java's float arithmetic does; where the
//     host calls Math.fma, the kernel calls fmaf (one rounding), so AdamW's moments equal the host's bit for bit;
//   - sqrt and division are the IEEE correctly rounded ones (__fsqrt_rn, __fdiv_rn), as Java's are; the host's
//     (float) Math.sqrt(v) is the correctly rounded float square root too (double rounding is innocuous there);
//   - the accumulation is float64 (the host's double[] sums) in micro-batch order, element by element: the same bits;
//   - the global norm's sum of squares is a block reduction in float64 in a fixed order: deterministic, but not the
//     host's sequential order, so the norm may differ from the host's in its last bits (the one place).
// Non-finite values are found by their exponent bits (NaN and ±inf), the first index by atomicMin on an int32.

typedef unsigned long long u64;

#define GRID_STRIDE(i, n) for (u64 i = (u64) blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (u64) gridDim.x * blockDim.x)
#define NORM_THREADS 256

__device__ __forceinline__ bool non_finite(float x) {
    return (__float_as_uint(x) & 0x7f800000u) == 0x7f800000u;
}

// sum (n doubles) += w·g (n floats), in double (GradientAccumulator.add: s[i] += n·grad[i]);
// *firstBad = min(*firstBad, first index of a non-finite g)
extern "C" __global__ void accumulate_gradient(double* sum, const float* g, double w, u64 n, int* firstBad) {
    GRID_STRIDE(i, n) {
        float x = g[i];
        if (non_finite(x)) {
            atomicMin(firstBad, (int) i);
        }
        sum[i] = sum[i] + w * (double) x;
    }
}

// g (n floats) = (float) (sum / targets), 0 without targets (GradientAccumulator.gradients)
extern "C" __global__ void finish_gradient(float* g, const double* sum, double targets, u64 n) {
    GRID_STRIDE(i, n) {
        g[i] = targets > 0 ? (float) (sum[i] / targets) : 0.f;
    }
}

// out[s] = Σ_i g[offset_s + i]², in double (exact squares of floats), one block per segment: each thread sums its
// strided elements in order, then a tree over the block's threads (GradientClipping.globalNorm's per-tensor sum)
extern "C" __global__ void segment_sum_squares(double* out, const float* g, const int* table) {
    __shared__ double part[NORM_THREADS];
    int s = blockIdx.x;
    int offset = table[4 * s];
    int length = table[4 * s + 1];
    double acc = 0.0;
    for (int i = threadIdx.x; i < length; i += NORM_THREADS) {
        double x = (double) g[offset + i];
        acc = acc + x * x;
    }
    part[threadIdx.x] = acc;
    __syncthreads();
    for (int w = NORM_THREADS / 2; w > 0; w >>= 1) {
        if (threadIdx.x < w) {
            part[threadIdx.x] = part[threadIdx.x] + part[threadIdx.x + w];
        }
        __syncthreads();
    }
    if (threadIdx.x == 0) {
        out[s] = part[0];
    }
}

// AdamW (train/AdamW.java, torch.optim.AdamW) over every segment in one launch, gradient clipped by coef first
// (GradientClipping: g·coef, coef = 1 without clipping, an exact no-op):
//   θ     = θ · keep                               keep = (float) (1 − lr·λ) where decayed, else 1 (exact)
//   m     = fma(1 − β1, g − m, m)
//   v     = fma((1 − β2)·g, g, β2·v)
//   denom = sqrt(v) / sqrt(1 − β2^t) + ε
//   θ     = θ + ((−stepSize) · m) / denom          stepSize = (float) (lr / (1 − β1^t))
// then *firstBad = min(*firstBad, first flat index of a non-finite θ)
extern "C" __global__ void adamw_step(float* theta, float* m, float* v, float* g, const int* table, float coef,
                                      float oneMinusBeta1, float beta2, float oneMinusBeta2, float bias2Sqrt,
                                      float eps, int* firstBad) {
    int s = blockIdx.y;
    int offset = table[4 * s];
    int length = table[4 * s + 1];
    float stepSize = __int_as_float(table[4 * s + 2]);
    float keep = __int_as_float(table[4 * s + 3]);
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < length; i += gridDim.x * blockDim.x) {
        int at = offset + i;
        float gi = g[at] * coef;
        g[at] = gi;
        float th = theta[at] * keep;
        float mi = fmaf(oneMinusBeta1, gi - m[at], m[at]);
        float vi = fmaf(oneMinusBeta2 * gi, gi, v[at] * beta2);
        float denom = __fdiv_rn(__fsqrt_rn(vi), bias2Sqrt) + eps;
        th = th + __fdiv_rn(-stepSize * mi, denom);
        m[at] = mi;
        v[at] = vi;
        theta[at] = th;
        if (non_finite(th)) {
            atomicMin(firstBad, at);
        }
    }
}
