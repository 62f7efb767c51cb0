package org.ssmpeft.runtime.cuda.model;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.lang.foreign.MemorySegment;
import org.ssmpeft.runtime.cuda.CudaBackendProvider;
import org.ssmpeft.runtime.cuda.driver.Cublas;
import org.ssmpeft.runtime.cuda.driver.CudaContext;
import org.ssmpeft.runtime.cuda.driver.CudaUnavailableException;
import org.ssmpeft.runtime.cuda.layers.DecodeKernels;
import org.ssmpeft.runtime.cuda.layers.DeviceLinear;
import org.ssmpeft.runtime.cuda.layers.LayerKernels;
import org.ssmpeft.runtime.cuda.layers.OptimizerKernels;
import org.ssmpeft.runtime.cuda.scan.ScanOperands;
import org.ssmpeft.runtime.cuda.scan.ScanShape;
import org.ssmpeft.runtime.cuda.scan.SelectiveScanKernels;
import org.ssmpeft.runtime.cuda.scan.SelectiveScanKernels.Precision;

/**
 * A {@link Device} on a GPU: one {@link CudaContext} (its one non-blocking stream), one cuBLAS handle bound to it,
 * {@link LayerKernels}, a {@link DeviceLinear} per precision (fp32, tf32 and bf16 products on the one handle: a
 * model picks its own, so models of different precisions share the device), {@link SelectiveScanKernels} (float32),
 * and the driver's memory in
 * reused chunks ({@link ChunkPool}: after the first call of a shape, calls and decode steps allocate nothing). Every operation queues on the stream; the host waits only in downloads (and in an
 * upload, for its host buffer to be read).
 */
final class CudaDevice {

    private CudaDevice() {
    }

    private static final java.util.Map<Integer, Device> SHARED = new java.util.HashMap<>();

    /**
     * The process's device {@code ordinal}, opened on first use and kept for the process's life: every model on it
     * shares its context, stream, cuBLAS handle, compiled kernels and memory pool (their calls are serialised on its
     * lock anyway). Kernel modules cannot be unloaded through {@code LayerKernels} or {@code SelectiveScanKernels},
     * so opening a device per model would leave each model's modules loaded while anything else holds the primary
     * context; one shared device loads them once.
     */
    static synchronized Device shared(int ordinal) throws CudaUnavailableException {
        Device d = SHARED.get(ordinal);
        if (d == null) {
            d = open(ordinal);
            SHARED.put(ordinal, d);
        }
        return d;
    }

    /** Device {@code ordinal} with its handle and kernels (compiled, or taken from the disk cache). */
    private static Device open(int ordinal) throws CudaUnavailableException {
        CudaContext context = CudaContext.open(ordinal);
        try {
            context.bind();
            Cublas cublas = Cublas.create(context);
            try {
                LayerKernels layers = new LayerKernels(context);
                java.util.Map<org.ssmpeft.runtime.backend.Precision, ProductOps> linear = new java.util.EnumMap<>(
                        org.ssmpeft.runtime.backend.Precision.class);
                for (org.ssmpeft.runtime.backend.Precision p : org.ssmpeft.runtime.backend.Precision.values()) {
                    linear.put(p, new Products(new DeviceLinear(cublas, layers, math(p))));
                }
                SelectiveScanKernels scan = new SelectiveScanKernels(context);
                OptimizerKernels optimizer = new OptimizerKernels(context);
                ChunkPool pool = new ChunkPool(context.driver()::memAlloc, context.driver()::memFree);
                return new Device(CudaBackendProvider.NAME, context.deviceName() + " (" + context.architecture() + ")",
                        new Memory(context, pool), new Layers(layers, new DecodeKernels(context)), linear, new Scan(scan),
                        java.util.Optional.of(new Optimizer(optimizer)), context::bind, () -> {
                            try {
                                context.syncStream();
                                pool.close();
                            } finally {
                                try {
                                    cublas.close();
                                } finally {
                                    context.close();
                                }
                            }
                        });
            } catch (RuntimeException | Error e) {
                cublas.close();
                throw e;
            }
        } catch (CudaUnavailableException | RuntimeException | Error e) {
            context.close();
            throw e;
        }
    }

    /** The cuBLAS arithmetic of a model precision. */
    static Cublas.Math math(org.ssmpeft.runtime.backend.Precision p) {
        return switch (p) {
            case FLOAT32 -> Cublas.Math.FLOAT32;
            case TF32 -> Cublas.Math.TF32;
            case BF16 -> Cublas.Math.BF16;
        };
    }

    /** The driver's memory (chunks of a {@link ChunkPool}) and copies on the context's stream. */
    private record Memory(CudaContext context, ChunkPool pool) implements DeviceMemory {

        @Override
        public Arena arena() {
            return pool.arena();
        }

        @Override
        public void trim() {
            context.syncStream();
            pool.releaseIdle();
        }

        @Override
        public void zero(long dst, long n) {
            if (n > 0) {
                context.driver().memsetD32Async(dst, 0, n, context.stream());
            }
        }

        @Override
        public void copy(long dst, long src, long n) {
            if (n > 0) {
                context.driver().copyDeviceToDeviceAsync(dst, src, 4L * n, context.stream());
            }
        }

        @Override
        public void upload(long dst, float[] values) {
            if (values.length == 0) {
                return;
            }
            try (java.lang.foreign.Arena a = java.lang.foreign.Arena.ofConfined()) {
                toDevice(dst, a.allocateFrom(JAVA_FLOAT, values));
            }
        }

        // dst <- the host segment, waiting for the copy (the segment is freed when its arena closes)
        private void toDevice(long dst, MemorySegment host) {
            context.driver().copyHostToDeviceAsync(dst, host, host.byteSize(), context.stream());
            context.syncStream();
        }

        @Override
        public long uploadInts(Arena arena, int[]... rows) {
            int n = 0;
            for (int[] r : rows) {
                n += r.length;
            }
            long dst = arena.floats(Math.max(1, n)); // int32 and float32 take the same room
            try (java.lang.foreign.Arena a = java.lang.foreign.Arena.ofConfined()) {
                MemorySegment host = a.allocate(4L * Math.max(1, n), 16);
                int at = 0;
                for (int[] r : rows) {
                    MemorySegment.copy(r, 0, host, JAVA_INT, 4L * at, r.length);
                    at += r.length;
                }
                toDevice(dst, host.asSlice(0, 4L * n));
            }
            return dst;
        }

        @Override
        public void uploadInts(long dst, int[] values) {
            if (values.length == 0) {
                return;
            }
            try (java.lang.foreign.Arena a = java.lang.foreign.Arena.ofConfined()) {
                toDevice(dst, a.allocateFrom(JAVA_INT, values));
            }
        }

        @Override
        public int[] downloadInts(long src, int n) {
            int[] out = new int[n];
            if (n == 0) {
                return out;
            }
            try (java.lang.foreign.Arena a = java.lang.foreign.Arena.ofConfined()) {
                MemorySegment.copy(fromDevice(a, src, 4L * n), JAVA_INT, 0, out, 0, n);
            }
            return out;
        }

        /**
         * A CUDA graph of what the body queues on the stream: captured in relaxed mode (a chunk the pool allocates
         * during the capture is allowed; the capture runs nothing), instantiated, the graph itself destroyed (the
         * executable keeps what it needs).
         */
        @Override
        public Replay record(Runnable body) {
            var driver = context.driver();
            long stream = context.stream();
            driver.streamBeginCapture(stream, org.ssmpeft.runtime.cuda.driver.Driver.CU_STREAM_CAPTURE_MODE_RELAXED);
            try {
                body.run();
            } catch (RuntimeException | Error e) {
                try {
                    driver.graphDestroy(driver.streamEndCapture(stream));
                } catch (RuntimeException suppressed) {
                    e.addSuppressed(suppressed);
                }
                throw e;
            }
            long graph = driver.streamEndCapture(stream);
            long exec;
            try {
                exec = driver.graphInstantiate(graph);
            } finally {
                driver.graphDestroy(graph);
            }
            return new Replay() {
                private boolean closed;

                @Override
                public void launch() {
                    driver.graphLaunch(exec, stream);
                }

                @Override
                public void close() {
                    if (!closed) {
                        closed = true;
                        context.syncStream();
                        driver.graphExecDestroy(exec);
                    }
                }
            };
        }

        @Override
        public float[] download(long src, long n) {
            float[] out = new float[Math.toIntExact(n)];
            if (n == 0) {
                return out;
            }
            try (java.lang.foreign.Arena a = java.lang.foreign.Arena.ofConfined()) {
                MemorySegment.copy(fromDevice(a, src, 4L * n), JAVA_FLOAT, 0, out, 0, out.length);
            }
            return out;
        }

        // bytes at src, after the work queued before, in a host segment of arena a
        private MemorySegment fromDevice(java.lang.foreign.Arena a, long src, long bytes) {
            MemorySegment host = a.allocate(bytes, 16);
            context.driver().copyDeviceToHostAsync(host, src, bytes, context.stream());
            context.syncStream();
            return host;
        }

        @Override
        public void sync() {
            context.syncStream();
        }
    }

    /** {@link OptimizerKernels}, method for method. */
    private record Optimizer(OptimizerKernels k) implements OptimizerOps {

        @Override
        public void accumulateGradient(long sum, long g, double weight, long n, long firstBad) {
            k.accumulateGradient(sum, g, weight, n, firstBad);
        }

        @Override
        public void finishGradient(long g, long sum, double targets, long n) {
            k.finishGradient(g, sum, targets, n);
        }

        @Override
        public void segmentSumSquares(long out, long g, long table, int segments) {
            k.segmentSumSquares(out, g, table, segments);
        }

        @Override
        public void adamwStep(long theta, long m, long v, long g, long table, int segments, long maxLength,
                              float coef, float oneMinusBeta1, float beta2, float oneMinusBeta2, float bias2Sqrt,
                              float eps, long firstBad) {
            k.adamwStep(theta, m, v, g, table, segments, maxLength, coef, oneMinusBeta1, beta2, oneMinusBeta2,
                    bias2Sqrt, eps, firstBad);
        }
    }

    /** {@link LayerKernels}, method for method. */
    private record Layers(LayerKernels k, DecodeKernels decode) implements LayerOps {

        @Override
        public void normProduct(long y, int ldy, long xn, long x, int ldx, long g, double eps, long w, long bias,
                                int m, int in, int out) {
            decode.normProduct(y, ldy, xn, x, ldx, g, eps, w, bias, m, in, out);
        }

        @Override
        public void productAdd(long y, int ldy, long x, int ldx, long w, int m, int in, int out) {
            decode.product(y, ldy, x, ldx, w, 0, true, m, in, out);
        }

        @Override
        public void convXProj(long xc, long part, long xdbl, long counter, long x, int ldx, long cw, long cb,
                              long state, long wx, int m, int d, int kernel, int xw) {
            decode.convXProj(xc, part, xdbl, counter, x, ldx, cw, cb, state, wx, m, d, kernel, xw);
        }

        @Override
        public void embed(long h, long tokens, long prompt, long emb, int batch, int promptLength, int tokensPerRow,
                          int dModel) {
            k.embed(h, tokens, prompt, emb, batch, promptLength, tokensPerRow, dModel);
        }

        @Override
        public void embeddingBackward(long dEmb, long dPrompt, long dHidden, long tokens, int batch, int promptLength,
                                      int tokensPerRow, int dModel, int vocab) {
            k.embeddingBackward(dEmb, dPrompt, dHidden, tokens, batch, promptLength, tokensPerRow, dModel, vocab);
        }

        @Override
        public void rmsNormForward(long y, long x, long w, int m, int d, double eps) {
            k.rmsNormForward(y, x, w, m, d, eps);
        }

        @Override
        public void rmsNormBackward(long dx, long dw, long dy, long x, long w, int m, int d, double eps,
                                    boolean accumulate) {
            k.rmsNormBackward(dx, dw, dy, x, w, m, d, eps, accumulate);
        }

        @Override
        public void convSiluForward(long y, long pre, long x, int ldx, long w, long bias, long state, int batch,
                                    int len, int channels, int kernel) {
            k.convSiluForward(y, pre, x, ldx, w, bias, state, batch, len, channels, kernel);
        }

        @Override
        public void convSiluBackward(long dx, int lddx, long dw, long dBias, long dy, long pre, long x, int ldx,
                                     long w, int batch, int len, int channels, int kernel) {
            k.convSiluBackward(dx, lddx, dw, dBias, dy, pre, x, ldx, w, batch, len, channels, kernel);
        }

        @Override
        public void softplusInPlace(long x, long n) {
            k.softplusInPlace(x, n);
        }

        @Override
        public void softplusBackwardInPlace(long dx, long y, long n) {
            k.softplusBackwardInPlace(dx, y, n);
        }

        @Override
        public void crossEntropy(long dlogits, long rowLoss, long logits, long targets, int m, int vocab,
                                 int count) {
            k.crossEntropy(dlogits, rowLoss, logits, targets, m, vocab, count);
        }

        @Override
        public void dtSoftplus(long dt, long xdbl, int ld, long w, long b, int m, int r, int d) {
            k.dtSoftplus(dt, xdbl, ld, w, b, m, r, d);
        }

        @Override
        public void topTokens(long ids, long logp, long logits, int rows, int vocab, int n, long excluded,
                              long work) {
            k.topTokens(ids, logp, logits, rows, vocab, n, excluded, work);
        }

        @Override
        public void doraForward(long y, int ldy, long base, long u, long gain, float scale, int m, int out) {
            k.doraForward(y, ldy, base, u, gain, scale, m, out);
        }

        @Override
        public void doraBackward(long dMagnitude, long scaled, long rest, long dy, int lddy, long base, long u,
                                 long gain, long norm, float scale, int m, int out) {
            k.doraBackward(dMagnitude, scaled, rest, dy, lddy, base, u, gain, norm, scale, m, out);
        }

        @Override
        public void toBf16(long dst, long src, int ldSrc, int rows, int cols) {
            k.toBf16(dst, src, ldSrc, rows, cols);
        }

        @Override
        public void copy2d(long dst, int ldDst, long src, int ldSrc, int rows, int cols) {
            k.copy2d(dst, ldDst, src, ldSrc, rows, cols);
        }

        @Override
        public void fill(long dst, long n, float value) {
            k.fill(dst, n, value);
        }

        @Override
        public void addScaled(long y, long x, float scale, long n) {
            k.addScaled(y, x, scale, n);
        }

        @Override
        public void sumBatches(long dst, long src, int batches, long batchStride, int rows, int cols, int ld,
                               boolean accumulate) {
            k.sumBatches(dst, src, batches, batchStride, rows, cols, ld, accumulate);
        }

        @Override
        public void addBroadcast(long state, long v, int batch, int size) {
            k.addBroadcast(state, v, batch, size);
        }

        @Override
        public void gatherRows(long dst, long src, long rows, int n, long size) {
            k.gatherRows(dst, src, rows, n, size);
        }

        @Override
        public void negExp(long negA, long aLog, long n) {
            k.negExp(negA, aLog, n);
        }

        @Override
        public void mulAdd(long dst, long a, long b, long n) {
            k.mulAdd(dst, a, b, n);
        }
    }

    /** {@link DeviceLinear}, method for method. */
    private record Products(DeviceLinear linear) implements ProductOps {

        @Override
        public void forward(long y, int ldy, long x, int ldx, long w, long b, int m, int in, int out) {
            linear.forward(y, ldy, x, ldx, w, b, m, in, out);
        }

        @Override
        public void forwardAdd(long y, int ldy, long x, int ldx, long w, float scale, int m, int in, int out) {
            linear.forwardAdd(y, ldy, x, ldx, w, scale, m, in, out);
        }

        @Override
        public void backwardInput(long dx, int lddx, long dy, int lddy, long w, float scale, int m, int in, int out,
                                  boolean accumulate) {
            linear.backwardInput(dx, lddx, dy, lddy, w, scale, m, in, out, accumulate);
        }

        @Override
        public void backwardWeight(long dw, long dy, int lddy, long x, int ldx, float scale, int m, int in, int out) {
            linear.backwardWeight(dw, dy, lddy, x, ldx, scale, m, in, out);
        }

        @Override
        public void backwardBias(long db, long dy, int lddy, int m, int out) {
            linear.backwardBias(db, dy, lddy, m, out);
        }
    }

    /** {@link SelectiveScanKernels} in float32. */
    private record Scan(SelectiveScanKernels kernels) implements ScanOps {

        @Override
        public long checkpointFloats(ScanShape s) {
            return SelectiveScanKernels.checkpointFloats(s);
        }

        @Override
        public long workFloats(ScanShape s) {
            return kernels.workFloats(s);
        }

        @Override
        public void forward(ScanShape s, ScanOperands o, long state, long extState, long checkpoints, long y) {
            kernels.forward(Precision.FLOAT32, s, o, state, extState, checkpoints, y);
        }

        @Override
        public void backward(ScanShape s, ScanOperands o, long checkpoints, long dy, SelectiveScanKernels.Gradients g,
                             long work) {
            kernels.backward(Precision.FLOAT32, s, o, checkpoints, dy, g, work);
        }

        @Override
        public void step(ScanShape s, ScanOperands o, long state, long extState, long y) {
            kernels.step(Precision.FLOAT32, s, o, state, extState, y);
        }

        @Override
        public void stepDelta(ScanShape s, ScanOperands o, long dtWeight, long dtBias, int rank, long state,
                              long extState, long y) {
            kernels.stepDelta(s, o, dtWeight, dtBias, rank, state, extState, y);
        }
    }
}
