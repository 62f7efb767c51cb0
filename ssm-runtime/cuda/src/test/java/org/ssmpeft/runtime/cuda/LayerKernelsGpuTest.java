package org.ssmpeft.runtime.cuda;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.function.Supplier;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.FieldSource;
import org.ssmpeft.runtime.cpu.CpuLayerReference;
import org.ssmpeft.runtime.cuda.driver.Cublas;
import org.ssmpeft.runtime.cuda.driver.CudaContext;
import org.ssmpeft.runtime.cuda.driver.CudaUnavailableException;
import org.ssmpeft.runtime.cuda.driver.DeviceArena;
import org.ssmpeft.runtime.cuda.driver.DeviceBuffer;
import org.ssmpeft.runtime.cuda.layers.DeviceLinear;
import org.ssmpeft.runtime.cuda.layers.LayerKernels;

/**
 * Every {@link LayerKernels} and {@link DeviceLinear} method against its cpu twin ({@link CpuLayerReference}) on
 * seeded random inputs, over edge shapes: one row, widths off 4 and 32, d up to 2048, conv kernels 1-4 and 8 with L
 * from 1 (shorter than K, the state shifts within itself) to 300, vocabularies up to 50280 with ignored rows,
 * strided rows, prompts of length 0 and more, repeated tokens, = and +=, 0 for an absent output.
 *
 * <p>Every output is poisoned with NaN first, and every column or tail a call must not write is NaN (or, for an
 * in-place or accumulated buffer, a known value) and must stay so. Bounds, with b the cpu's value:
 * <ul>
 *   <li>copies and fills: bitwise;</li>
 *   <li>elementwise ops: |a − b| <= 1e-6·max(1, |b|, Σ|terms|), the terms being the summands of b (a few ulp: the
 *       device may fuse a multiply-add or round exp / log1p / expm1 differently from Java's double then float);</li>
 *   <li>reductions and short fixed sums (RMSNorm, conv, cross-entropy, column and batch sums, DoRA's magnitude
 *       gradient, repeated embedding rows): |a − b| <= 1e-5·max|b| over the tensor (another summation order, the
 *       cpu's partly in double);</li>
 *   <li>cuBLAS products: |a − b| <= 1e-5·sqrt(K)·max|b| (pedantic fp32 against the cpu's Gemm: both fp32, blocked
 *       in different orders, so the error grows with the inner dimension K).</li>
 * </ul>
 * Each reduction is run twice and its results must be bitwise equal (the contract's fixed order). A failure names
 * the method, the case and the first bad index; the largest error of each check is printed, failing or not.
 */
@Tag("gpu")
class LayerKernelsGpuTest {

    static final double ELEMENTWISE = 1e-6;
    static final double REDUCTION = 1e-5;
    static final double GEMM = 1e-5;

    static final float NAN = Float.intBitsToFloat(Gpu.NAN32);
    /** Floats after an elementwise op's n elements: NaN (assigned outputs) or a sentinel (in-place ones). */
    static final int TAIL = 37;
    static final float SENTINEL = 1f;

    static CudaContext context;
    static Cublas cublas;
    static LayerKernels kernels;
    static DeviceLinear linear;

    private static String unavailable;

    /**
     * The class's context, cuBLAS handle and kernels. Without CUDA the reason is kept and each test skips in
     * {@link #skipWithoutAGpu} (CublasGpuTest's pattern): an assumption in {@code @BeforeAll} would abort the class
     * before its factories run, and surefire would count nothing at all instead of the skipped tests.
     */
    @BeforeAll
    static void open() {
        try {
            context = CudaContext.open(0);
            System.out.println("GPU: " + context.deviceName() + " (" + context.architecture() + ")");
            cublas = Cublas.create(context);
        } catch (CudaUnavailableException e) {
            unavailable = e.getMessage();
            close();
            return;
        }
        kernels = new LayerKernels(context);
        linear = new DeviceLinear(cublas, kernels);
    }

    /** This test's device memory, freed after it. */
    DeviceArena arena;

    @BeforeEach
    void skipWithoutAGpu() {
        assumeTrue(linear != null, () -> unavailable);
        arena = context.arena();
    }

    @AfterEach
    void freeTheArena() {
        if (arena != null) {
            arena.close();
        }
    }

    @AfterAll
    static void close() {
        if (cublas != null) {
            cublas.close();
            cublas = null;
        }
        if (context != null) {
            context.close();
            context = null;
        }
    }

    // =================================================================================================================
    // embedding

    record Embed(int batch, int prompt, int tokens, int d, int vocab, boolean dEmb, boolean dPrompt) {
    }

    static final List<Embed> EMBED = List.of(
            new Embed(1, 0, 1, 1, 3, true, false),
            new Embed(2, 0, 7, 33, 50, true, false),
            new Embed(3, 4, 10, 130, 100, true, true),
            new Embed(2, 3, 40, 77, 5, true, true), // every token repeated
            new Embed(4, 16, 64, 768, 1000, true, true),
            new Embed(2, 5, 9, 37, 20, false, true), // dEmb absent
            new Embed(2, 5, 9, 37, 20, true, false), // dPrompt absent
            new Embed(1, 1, 1, 2048, 2, true, true));

    @ParameterizedTest(name = "{0}")
    @FieldSource("EMBED")
    void embedGathersThePromptAndTheTokensRows(Embed c) {
        Random r = seeded("embed", EMBED.indexOf(c));
        int[][] tokens = tokens(r, c.batch, c.tokens, c.vocab);
        float[] emb = uniform(r, c.vocab * c.d, 1);
        float[] prompt = c.prompt > 0 ? uniform(r, c.prompt * c.d, 1) : null;
        float[] want = CpuLayerReference.embed(tokens, prompt, c.prompt, emb, c.d);

        DeviceBuffer h = poisoned(arena, want.length);
        kernels.embed(h.address(), upInts(arena, flat(tokens)).address(),
                prompt == null ? 0 : up(arena, prompt).address(), up(arena, emb).address(), c.batch, c.prompt,
                c.tokens, c.d);
        assertClose("embed h " + c, down(h, want.length), want, null, c.d, Tol.EXACT);
    }

    @ParameterizedTest(name = "{0}")
    @FieldSource("EMBED")
    void embeddingBackwardAddsTokenRowsAndSumsThePromptOverTheBatch(Embed c) {
        Random r = seeded("embeddingBackward", EMBED.indexOf(c));
        int[][] tokens = tokens(r, c.batch, c.tokens, c.vocab);
        int len = c.prompt + c.tokens;
        float[] dHidden = uniform(r, c.batch * len * c.d, 1);
        float[] emb0 = uniform(r, c.vocab * c.d, 1);
        float[] wantEmb = emb0.clone();
        float[] wantPrompt = CpuLayerReference.embeddingBackward(tokens, dHidden, wantEmb, c.prompt, c.d);
        boolean withPrompt = c.dPrompt && c.prompt > 0;

        Supplier<float[][]> run = () -> {
            DeviceBuffer dEmb = c.dEmb ? up(arena, emb0) : null;
            DeviceBuffer dPrompt = withPrompt ? poisoned(arena, c.prompt * c.d) : null;
            kernels.embeddingBackward(address(dEmb), address(dPrompt), up(arena, dHidden).address(),
                    upInts(arena, flat(tokens)).address(), c.batch, c.prompt, c.tokens, c.d, c.vocab);
            return new float[][] {
                    c.dEmb ? down(dEmb, emb0.length) : null,
                    withPrompt ? down(dPrompt, c.prompt * c.d) : null};
        };
        float[][] got = run.get();
        if (c.dEmb) {
            assertClose("embeddingBackward dEmb " + c, got[0], wantEmb, null, c.d, Tol.REDUCTION);
            boolean[] named = new boolean[c.vocab];
            Arrays.stream(tokens).flatMapToInt(Arrays::stream).forEach(t -> named[t] = true);
            for (int v = 0; v < c.vocab; v++) {
                if (!named[v]) {
                    assertBitwise("embeddingBackward dEmb row " + v + " (no token names it) " + c,
                            Arrays.copyOfRange(got[0], v * c.d, (v + 1) * c.d),
                            Arrays.copyOfRange(emb0, v * c.d, (v + 1) * c.d));
                }
            }
        }
        if (withPrompt) {
            assertClose("embeddingBackward dPrompt " + c, got[1], wantPrompt, null, c.d, Tol.REDUCTION);
        }
        assertDeterministic("embeddingBackward " + c, got, run.get());
    }

    // =================================================================================================================
    // RMSNorm

    record Norm(int m, int d, double eps, boolean accumulate, boolean dx, boolean dw) {
    }

    static final List<Norm> NORM = List.of(
            new Norm(1, 1, 1e-5, false, true, true),
            new Norm(1, 3, 1e-5, true, true, true),
            new Norm(1, 2048, 1e-5, false, true, false),
            new Norm(5, 33, 1e-6, false, true, true),
            new Norm(7, 768, 1e-5, true, true, true),
            new Norm(64, 2047, 1e-5, false, false, true),
            new Norm(300, 130, 1e-5, true, true, true),
            new Norm(3, 2048, 1e-6, false, true, true));

    /** x with row 1 (where there is one) a thousand times smaller, so that eps matters there. */
    static float[] normInput(Random r, Norm c) {
        float[] x = uniform(r, c.m * c.d, 3);
        if (c.m > 1) {
            for (int i = c.d; i < 2 * c.d; i++) {
                x[i] *= 1e-3f;
            }
        }
        return x;
    }

    @ParameterizedTest(name = "{0}")
    @FieldSource("NORM")
    void rmsNormForwardMatchesTheCpu(Norm c) {
        Random r = seeded("rmsNormForward", NORM.indexOf(c));
        float[] x = normInput(r, c);
        float[] w = uniform(r, c.d, 2);
        float[] want = new float[c.m * c.d];
        CpuLayerReference.rmsNormForward(want, x, w, c.m, c.d, c.eps);

        Supplier<float[][]> run = () -> {
            DeviceBuffer y = poisoned(arena, want.length);
            kernels.rmsNormForward(y.address(), up(arena, x).address(), up(arena, w).address(), c.m, c.d, c.eps);
            return new float[][] {down(y, want.length)};
        };
        float[][] got = run.get();
        assertClose("rmsNormForward y " + c, got[0], want, null, c.d, Tol.REDUCTION);
        assertDeterministic("rmsNormForward " + c, got, run.get());
    }

    @ParameterizedTest(name = "{0}")
    @FieldSource("NORM")
    void rmsNormBackwardMatchesTheCpu(Norm c) {
        Random r = seeded("rmsNormBackward", NORM.indexOf(c));
        float[] x = normInput(r, c);
        float[] w = uniform(r, c.d, 2);
        float[] dy = uniform(r, c.m * c.d, 1);
        float[] dx0 = c.accumulate ? uniform(r, c.m * c.d, 1) : poison(c.m * c.d);
        float[] dw0 = uniform(r, c.d, 1);
        float[] wantDx = c.dx ? dx0.clone() : null;
        float[] wantDw = c.dw ? dw0.clone() : null;
        CpuLayerReference.rmsNormBackward(wantDx, wantDw, dy, x, w, c.m, c.d, c.eps, c.accumulate);

        Supplier<float[][]> run = () -> {
            DeviceBuffer dx = c.dx ? up(arena, dx0) : null;
            DeviceBuffer dw = c.dw ? up(arena, dw0) : null;
            kernels.rmsNormBackward(address(dx), address(dw), up(arena, dy).address(), up(arena, x).address(),
                    up(arena, w).address(), c.m, c.d, c.eps, c.accumulate);
            return new float[][] {c.dx ? down(dx, dx0.length) : null, c.dw ? down(dw, c.d) : null};
        };
        float[][] got = run.get();
        if (c.dx) {
            assertClose("rmsNormBackward dx " + c, got[0], wantDx, null, c.d, Tol.REDUCTION);
        }
        if (c.dw) {
            assertClose("rmsNormBackward dw " + c, got[1], wantDw, null, 0, Tol.REDUCTION);
        }
        assertDeterministic("rmsNormBackward " + c, got, run.get());
    }

    // =================================================================================================================
    // causal conv1d + silu

    record Conv(int batch, int len, int channels, int kernel, int ldx, boolean bias, boolean state, boolean pre) {
    }

    static final List<Conv> CONV = List.of(
            new Conv(1, 1, 1, 1, 1, true, false, true),
            new Conv(1, 1, 37, 4, 37, true, true, true), // a decode step
            new Conv(2, 3, 31, 8, 31, true, true, true), // L < K: the state shifts within itself
            new Conv(4, 2, 5, 8, 5, true, true, true),
            new Conv(2, 5, 64, 4, 2 * 64 + 3, true, true, true), // x inside a wider row
            new Conv(3, 300, 130, 4, 130, true, false, true),
            new Conv(1, 300, 33, 8, 70, false, true, true),
            new Conv(2, 17, 200, 2, 200, false, false, false), // pre absent
            new Conv(1, 40, 1536, 4, 2 * 1536, true, true, true),
            new Conv(2, 9, 77, 3, 77, true, true, false));

    record ConvBackward(int batch, int len, int channels, int kernel, int ldx, int lddx, boolean dw, boolean dBias) {
    }

    static final List<ConvBackward> CONV_BACKWARD = List.of(
            new ConvBackward(1, 1, 1, 1, 1, 1, true, true),
            new ConvBackward(2, 3, 31, 8, 31, 31, true, true), // L < K
            new ConvBackward(4, 2, 5, 8, 5, 5, true, false),
            new ConvBackward(2, 5, 64, 4, 2 * 64 + 3, 64, true, true),
            new ConvBackward(3, 300, 130, 4, 130, 2 * 130, true, true), // dx inside a wider row
            new ConvBackward(1, 300, 33, 8, 70, 40, false, true),
            new ConvBackward(2, 17, 200, 2, 200, 200, false, false),
            new ConvBackward(1, 40, 1536, 4, 2 * 1536, 1536, true, true),
            new ConvBackward(2, 9, 77, 3, 77, 80, true, true));

    @ParameterizedTest(name = "{0}")
    @FieldSource("CONV")
    void convSiluForwardMatchesTheCpuAndLeavesTheLastInputsInTheState(Conv c) {
        Random r = seeded("convSiluForward", CONV.indexOf(c));
        int m = c.batch * c.len;
        int d = c.channels;
        float[] x = uniform(r, m * c.ldx, 1);
        float[] w = uniform(r, d * c.kernel, 0.5);
        float[] bias = c.bias ? uniform(r, d, 0.5) : null;
        float[] state0 = c.state ? uniform(r, c.batch * d * c.kernel, 1) : new float[c.batch * d * c.kernel];
        float[] wantY = new float[m * d];
        float[] wantPre = c.pre ? new float[m * d] : null;
        float[] wantState = state0.clone();
        CpuLayerReference.convSiluForward(wantY, wantPre, x, c.ldx, w, bias, wantState, c.batch, c.len, d,
                c.kernel);

        DeviceBuffer y = poisoned(arena, m * d);
        DeviceBuffer pre = c.pre ? poisoned(arena, m * d) : null;
        DeviceBuffer state = up(arena, state0);
        kernels.convSiluForward(y.address(), address(pre), up(arena, x).address(), c.ldx, up(arena, w).address(),
                bias == null ? 0 : up(arena, bias).address(), state.address(), c.batch, c.len, d, c.kernel);
        float[] gotY = down(y, m * d);
        assertClose("convSiluForward y " + c, gotY, wantY, null, d, Tol.REDUCTION);
        assertClose("convSiluForward state " + c, down(state, state0.length), wantState, null, c.kernel,
                Tol.EXACT);
        if (c.pre) {
            float[] gotPre = down(pre, m * d);
            assertClose("convSiluForward pre " + c, gotPre, wantPre, null, d, Tol.REDUCTION);
            float[] siluOfPre = new float[m * d];
            for (int i = 0; i < siluOfPre.length; i++) {
                siluOfPre[i] = CpuLayerReference.silu(gotPre[i]);
            }
            assertClose("convSiluForward y = silu(pre) " + c, gotY, siluOfPre, null, d, Tol.ELEMENTWISE);
        }
    }

    @ParameterizedTest(name = "{0}")
    @FieldSource("CONV_BACKWARD")
    void convSiluBackwardMatchesTheCpu(ConvBackward c) {
        Random r = seeded("convSiluBackward", CONV_BACKWARD.indexOf(c));
        int m = c.batch * c.len;
        int d = c.channels;
        float[] x = uniform(r, m * c.ldx, 1);
        float[] w = uniform(r, d * c.kernel, 0.5);
        float[] bias = uniform(r, d, 0.5);
        float[] pre = new float[m * d];
        CpuLayerReference.convSiluForward(new float[m * d], pre, x, c.ldx, w, bias,
                new float[c.batch * d * c.kernel], c.batch, c.len, d, c.kernel);
        float[] dy = uniform(r, m * d, 1);
        float[] dw0 = uniform(r, d * c.kernel, 1);
        float[] dBias0 = uniform(r, d, 1);
        float[] wantDx = poison(m * c.lddx);
        float[] wantDw = c.dw ? dw0.clone() : null;
        float[] wantDBias = c.dBias ? dBias0.clone() : null;
        CpuLayerReference.convSiluBackward(wantDx, c.lddx, wantDw, wantDBias, dy, pre, x, c.ldx, w, c.batch,
                c.len, d, c.kernel);

        Supplier<float[][]> run = () -> {
            DeviceBuffer dx = poisoned(arena, m * c.lddx);
            DeviceBuffer dw = c.dw ? up(arena, dw0) : null;
            DeviceBuffer dBias = c.dBias ? up(arena, dBias0) : null;
            kernels.convSiluBackward(dx.address(), c.lddx, address(dw), address(dBias), up(arena, dy).address(),
                    up(arena, pre).address(), up(arena, x).address(), c.ldx, up(arena, w).address(), c.batch, c.len, d,
                    c.kernel);
            return new float[][] {
                    down(dx, m * c.lddx), c.dw ? down(dw, dw0.length) : null, c.dBias ? down(dBias, d) : null};
        };
        float[][] got = run.get();
        assertClose("convSiluBackward dx " + c, got[0], wantDx, null, c.lddx, Tol.REDUCTION);
        if (c.dw) {
            assertClose("convSiluBackward dw " + c, got[1], wantDw, null, c.kernel, Tol.REDUCTION);
        }
        if (c.dBias) {
            assertClose("convSiluBackward dBias " + c, got[2], wantDBias, null, 0, Tol.REDUCTION);
        }
        assertDeterministic("convSiluBackward " + c, got, run.get());
    }

    // =================================================================================================================
    // softplus

    static final List<Integer> ELEMENTS = List.of(1, 7, 1000, 100_003);

    /** Uniform in [-30, 30), the first elements the edges: the threshold 20 and its neighbours, ±0, ±88, tiny. */
    static float[] softplusInput(Random r, int n) {
        float[] x = uniform(r, n, 30);
        float[] edges = {20f, Math.nextUp(20f), Math.nextDown(20f), 0f, -0f, -88f, 88f, 1e-8f, -1e-8f, 15f, -15f};
        System.arraycopy(edges, 0, x, 0, Math.min(n, edges.length));
        return x;
    }

    @ParameterizedTest(name = "{0}")
    @FieldSource("ELEMENTS")
    void softplusInPlaceMatchesTheCpu(int n) {
        Random r = seeded("softplusInPlace", ELEMENTS.indexOf(n));
        float[] x0 = withTail(softplusInput(r, n), SENTINEL);
        float[] want = x0.clone();
        float[] head = Arrays.copyOf(want, n);
        CpuLayerReference.softplusInPlace(head);
        System.arraycopy(head, 0, want, 0, n);

        DeviceBuffer x = up(arena, x0);
        kernels.softplusInPlace(x.address(), n);
        assertClose("softplusInPlace n=" + n, down(x, x0.length), want, null, 0, Tol.ELEMENTWISE);
    }

    @ParameterizedTest(name = "{0}")
    @FieldSource("ELEMENTS")
    void softplusBackwardInPlaceMatchesTheCpu(int n) {
        Random r = seeded("softplusBackwardInPlace", ELEMENTS.indexOf(n));
        float[] y = softplusInput(r, n);
        CpuLayerReference.softplusInPlace(y);
        float[] dx0 = withTail(uniform(r, n, 2), SENTINEL);
        float[] want = dx0.clone();
        float[] head = Arrays.copyOf(want, n);
        CpuLayerReference.softplusBackwardInPlace(head, y);
        System.arraycopy(head, 0, want, 0, n);

        DeviceBuffer dx = up(arena, dx0);
        kernels.softplusBackwardInPlace(dx.address(), up(arena, y).address(), n);
        assertClose("softplusBackwardInPlace n=" + n, down(dx, dx0.length), want, null, 0, Tol.ELEMENTWISE);
    }

    // =================================================================================================================
    // cross-entropy

    enum Gradient { SEPARATE, IN_PLACE, ABSENT }

    record Entropy(int m, int vocab, int ignored, Gradient dlogits) {
    }

    static final List<Entropy> ENTROPY = List.of(
            new Entropy(1, 2, 0, Gradient.SEPARATE),
            new Entropy(1, 5, 0, Gradient.SEPARATE),
            new Entropy(3, 17, 1, Gradient.SEPARATE),
            new Entropy(7, 1000, 2, Gradient.IN_PLACE),
            new Entropy(5, 1000, 5, Gradient.SEPARATE), // no targets: count 0
            new Entropy(64, 4099, 10, Gradient.SEPARATE),
            new Entropy(8, 50280, 3, Gradient.SEPARATE),
            new Entropy(8, 50280, 3, Gradient.IN_PLACE),
            new Entropy(4, 50280, 1, Gradient.ABSENT),
            new Entropy(1, 50280, 0, Gradient.IN_PLACE));

    @ParameterizedTest(name = "{0}")
    @FieldSource("ENTROPY")
    void crossEntropyMatchesTheCpu(Entropy c) {
        Random r = seeded("crossEntropy", ENTROPY.indexOf(c));
        int n = c.m * c.vocab;
        float[] logits = gaussian(r, n, 3);
        for (int i = 0; i < c.vocab; i++) {
            logits[i] += 100f; // row 0 beyond float exp (e^100 overflows): the log-sum-exp must start from the max
        }
        int[] targets = new int[c.m];
        for (int i = 0; i < c.m; i++) {
            targets[i] = r.nextInt(c.vocab);
        }
        targets[c.m - 1] = c.vocab - 1;
        if (c.m > 1) {
            targets[0] = 0;
            int peaked = c.m / 2;
            logits[peaked * c.vocab + targets[peaked]] += 30f; // a confident row: loss near 0
        }
        List<Integer> rows = new ArrayList<>(IntStream.range(0, c.m).boxed().toList());
        Collections.shuffle(rows, r);
        for (int i = 0; i < c.ignored; i++) {
            targets[rows.get(i)] = CpuLayerReference.IGNORE_INDEX;
        }
        int count = CpuLayerReference.targetCount(targets);
        float[] wantLoss = new float[c.m];
        float[] wantD = c.dlogits == Gradient.ABSENT ? null : new float[n];
        double wantMean = CpuLayerReference.crossEntropy(wantD, wantLoss, logits, targets, c.m, c.vocab);

        Supplier<float[][]> run = () -> {
            DeviceBuffer z = up(arena, logits);
            DeviceBuffer d = switch (c.dlogits) {
                case SEPARATE -> poisoned(arena, n);
                case IN_PLACE -> z;
                case ABSENT -> null;
            };
            DeviceBuffer loss = poisoned(arena, c.m);
            kernels.crossEntropy(address(d), loss.address(), z.address(), upInts(arena, targets).address(), c.m,
                    c.vocab, count);
            return new float[][] {down(loss, c.m), d == null ? null : down(d, n)};
        };
        float[][] got = run.get();
        assertClose("crossEntropy rowLoss " + c, got[0], wantLoss, null, 0, Tol.REDUCTION);
        double sum = 0;
        for (float l : got[0]) {
            sum += l;
        }
        double mean = count == 0 ? 0 : sum / count;
        assertThat(Math.abs(mean - wantMean))
                .as("crossEntropy mean loss %s: got %s, cpu %s", c, mean, wantMean)
                .isLessThanOrEqualTo(REDUCTION * Math.max(1, Math.abs(wantMean)));
        if (wantD != null) {
            assertClose("crossEntropy dlogits " + c, got[1], wantD, null, c.vocab, Tol.REDUCTION);
        }
        for (int i = 0; i < c.m; i++) {
            if (targets[i] == CpuLayerReference.IGNORE_INDEX) {
                assertBitwise("crossEntropy rowLoss at ignored row " + i + " " + c,
                        new float[] {got[0][i]}, new float[] {0f});
                if (wantD != null) {
                    assertBitwise("crossEntropy dlogits at ignored row " + i + " " + c,
                            Arrays.copyOfRange(got[1], i * c.vocab, (i + 1) * c.vocab), new float[c.vocab]);
                }
            }
        }
        assertDeterministic("crossEntropy " + c, got, run.get());
    }

    // =================================================================================================================
    // DoRA's gain

    record Dora(int m, int in, int rank, int out, int outFull, int rowOffset, int ldy, float scale) {

        CpuLayerReference.Dora reference(Random r) {
            float[] norm = new float[out];
            float[] magnitude = new float[out];
            for (int j = 0; j < out; j++) {
                norm[j] = 0.5f + 1.5f * r.nextFloat();
                magnitude[j] = norm[j] * (1f + 0.2f * (2 * r.nextFloat() - 1));
            }
            return new CpuLayerReference.Dora(uniform(r, rank * in, 0.3), uniform(r, out * rank, 0.3),
                    uniform(r, outFull * in, 1 / Math.sqrt(in)), magnitude, norm, scale, rank, in, out, rowOffset);
        }
    }

    static final List<Dora> DORA = List.of(
            new Dora(1, 8, 1, 1, 1, 0, 1, 1f),
            new Dora(7, 33, 4, 37, 37, 0, 37, 2f),
            new Dora(5, 64, 8, 50, 130, 40, 133, 0.5f), // rows 40..89 of a wider output, y's row wider still
            new Dora(300, 130, 16, 96, 192, 96, 192, 2f), // the second half (in_proj's z)
            new Dora(2, 768, 8, 1536, 3072, 0, 3072, 0.25f),
            new Dora(1, 3, 2, 5, 9, 4, 11, 1f));

    @ParameterizedTest(name = "{0}")
    @FieldSource("DORA")
    void doraForwardAddsTheGainedBaseAndUpdate(Dora c) {
        Random r = seeded("doraForward", DORA.indexOf(c));
        CpuLayerReference.Dora dora = c.reference(r);
        float[] x = uniform(r, c.m * c.in, 1);
        float[] y0 = block(r, c.m, c.ldy, c.rowOffset, c.out, 1); // NaN outside the delta's columns
        float[] base = dora.base(x, c.in, c.m);
        float[] u = dora.update(x, c.in, c.m);
        float[] gain = dora.gain();
        float[] want = y0.clone();
        dora.forward(want, c.ldy, x, c.in, c.m);
        float[] terms = new float[want.length];
        for (int i = 0; i < c.m; i++) {
            for (int j = 0; j < c.out; j++) {
                int at = i * c.ldy + c.rowOffset + j;
                terms[at] = Math.abs(y0[at]) + Math.abs((gain[j] - 1f) * base[i * c.out + j])
                        + Math.abs(gain[j] * c.scale * u[i * c.out + j]);
            }
        }

        DeviceBuffer y = up(arena, y0);
        kernels.doraForward(y.at(4L * c.rowOffset), c.ldy, up(arena, base).address(), up(arena, u).address(),
                up(arena, gain).address(), c.scale, c.m, c.out);
        assertClose("doraForward y " + c, down(y, want.length), want, terms, c.ldy, Tol.ELEMENTWISE);
    }

    @ParameterizedTest(name = "{0}")
    @FieldSource("DORA")
    void doraBackwardGivesTheMagnitudeGradientAndTheGainedDy(Dora c) {
        Random r = seeded("doraBackward", DORA.indexOf(c));
        CpuLayerReference.Dora dora = c.reference(r);
        float[] x = uniform(r, c.m * c.in, 1);
        float[] dy = uniform(r, c.m * c.ldy, 1);
        float[] base = dora.base(x, c.in, c.m);
        float[] u = dora.update(x, c.in, c.m);
        float[] wantMagnitude = dora.magnitudeGradient(dy, c.ldy, x, c.in, c.m);
        float[][] wantScaledRest = dora.scaledAndRest(dy, c.ldy, c.m);
        int n = c.m * c.out;

        Supplier<float[][]> run = () -> {
            DeviceBuffer dMagnitude = poisoned(arena, c.out);
            DeviceBuffer scaled = poisoned(arena, n);
            DeviceBuffer rest = poisoned(arena, n);
            DeviceBuffer gdy = up(arena, dy);
            kernels.doraBackward(dMagnitude.address(), scaled.address(), rest.address(),
                    gdy.at(4L * c.rowOffset), c.ldy, up(arena, base).address(), up(arena, u).address(),
                    up(arena, dora.gain()).address(), up(arena, dora.norm()).address(), c.scale, c.m, c.out);
            return new float[][] {down(dMagnitude, c.out), down(scaled, n), down(rest, n)};
        };
        float[][] got = run.get();
        assertClose("doraBackward dMagnitude " + c, got[0], wantMagnitude, null, 0, Tol.REDUCTION);
        assertClose("doraBackward scaled " + c, got[1], wantScaledRest[0], null, c.out, Tol.ELEMENTWISE);
        assertClose("doraBackward rest " + c, got[2], wantScaledRest[1], null, c.out, Tol.ELEMENTWISE);
        assertDeterministic("doraBackward " + c, got, run.get());
    }

    // =================================================================================================================
    // rows, sums and elementwise

    record Copy(int rows, int cols, int ldSrc, int ldDst) {
    }

    static final List<Copy> COPY = List.of(new Copy(1, 1, 1, 1), new Copy(1, 5, 5, 5), new Copy(7, 33, 40, 33),
            new Copy(64, 3, 4, 7), new Copy(300, 130, 257, 131), new Copy(5, 2048, 2048, 4099));

    @ParameterizedTest(name = "{0}")
    @FieldSource("COPY")
    void copy2dCopiesTheRowsAndNothingElse(Copy c) {
        Random r = seeded("copy2d", COPY.indexOf(c));
        float[] src = uniform(r, c.rows * c.ldSrc, 1);
        float[] want = poison(c.rows * c.ldDst);
        for (int i = 0; i < c.rows; i++) {
            System.arraycopy(src, i * c.ldSrc, want, i * c.ldDst, c.cols);
        }
        DeviceBuffer dst = poisoned(arena, want.length);
        kernels.copy2d(dst.address(), c.ldDst, up(arena, src).address(), c.ldSrc, c.rows, c.cols);
        assertClose("copy2d " + c, down(dst, want.length), want, null, c.ldDst, Tol.EXACT);
    }

    record Fill(int n, float value) {
    }

    static final List<Fill> FILL = List.of(
            new Fill(1, 0.25f), new Fill(3, -0f), new Fill(1000, 0f), new Fill((1 << 20) + 7, -3e38f));

    @ParameterizedTest(name = "{0}")
    @FieldSource("FILL")
    void fillWritesTheValueToNElements(Fill c) {
        float[] want = poison(c.n + TAIL);
        Arrays.fill(want, 0, c.n, c.value);
        DeviceBuffer dst = poisoned(arena, want.length);
        kernels.fill(dst.address(), c.n, c.value);
        assertClose("fill " + c, down(dst, want.length), want, null, 0, Tol.EXACT);
    }

    record Scaled(int n, float scale) {
    }

    static final List<Scaled> SCALED = List.of(
            new Scaled(1, 1f), new Scaled(5, -0.5f), new Scaled(1025, 3f), new Scaled(100_001, 1f));

    @ParameterizedTest(name = "{0}")
    @FieldSource("SCALED")
    void addScaledMatchesTheCpu(Scaled c) {
        Random r = seeded("addScaled", SCALED.indexOf(c));
        float[] y0 = withTail(uniform(r, c.n, 1), SENTINEL);
        float[] x = uniform(r, c.n + TAIL, 1);
        float[] want = y0.clone();
        float[] head = Arrays.copyOf(want, c.n);
        CpuLayerReference.addScaled(head, Arrays.copyOf(x, c.n), c.scale);
        System.arraycopy(head, 0, want, 0, c.n);
        float[] terms = new float[want.length];
        for (int i = 0; i < c.n; i++) {
            terms[i] = Math.abs(y0[i]) + Math.abs(c.scale * x[i]);
        }
        DeviceBuffer y = up(arena, y0);
        kernels.addScaled(y.address(), up(arena, x).address(), c.scale, c.n);
        assertClose("addScaled " + c, down(y, want.length), want, terms, 0, Tol.ELEMENTWISE);
    }

    record Sum(int batches, long batchStride, int rows, int cols, int ld, int srcOffset, boolean accumulate) {
    }

    static final List<Sum> SUM = List.of(
            new Sum(1, 1, 1, 1, 1, 0, false), // a bias gradient of one row
            new Sum(300, 130, 1, 130, 130, 0, true), // a bias gradient
            new Sum(300, 195, 1, 96, 195, 99, false), // a bias gradient of a column block
            new Sum(4, (5 + 9) * 77, 5, 77, 77, 0, false), // a prompt's gradient (P 5, T 9)
            new Sum(3, 10 * 100, 6, 40, 100, 60, true), // a prefix's: 6 virtual rows of 10, columns 60..99
            new Sum(8, 2048, 1, 2048, 2048, 0, false),
            new Sum(2, 9, 3, 2, 3, 0, true));

    @ParameterizedTest(name = "{0}")
    @FieldSource("SUM")
    void sumBatchesSumsInBatchOrder(Sum c) {
        Random r = seeded("sumBatches", SUM.indexOf(c));
        int span = (int) ((c.batches - 1) * c.batchStride) + (c.rows - 1) * c.ld + c.cols;
        float[] src = uniform(r, c.srcOffset + span, 1);
        int n = c.rows * c.cols;
        float[] dst0 = c.accumulate ? withTail(uniform(r, n, 1), NAN) : poison(n + TAIL);
        float[] want = dst0.clone();
        CpuLayerReference.sumBatches(want, Arrays.copyOfRange(src, c.srcOffset, src.length), c.batches,
                c.batchStride, c.rows, c.cols, c.ld, c.accumulate);

        Supplier<float[][]> run = () -> {
            DeviceBuffer dst = up(arena, dst0);
            kernels.sumBatches(dst.address(), up(arena, src).at(4L * c.srcOffset), c.batches, c.batchStride, c.rows,
                    c.cols, c.ld, c.accumulate);
            return new float[][] {down(dst, want.length)};
        };
        float[][] got = run.get();
        assertClose("sumBatches " + c, got[0], want, null, c.cols, Tol.REDUCTION);
        assertDeterministic("sumBatches " + c, got, run.get());
    }

    record Broadcast(int batch, int size) {
    }

    static final List<Broadcast> BROADCAST = List.of(new Broadcast(1, 1), new Broadcast(2, 5), new Broadcast(3, 37),
            new Broadcast(8, 1536 * 16));

    @ParameterizedTest(name = "{0}")
    @FieldSource("BROADCAST")
    void addBroadcastAddsTheVectorToEveryBatchRow(Broadcast c) {
        Random r = seeded("addBroadcast", BROADCAST.indexOf(c));
        int n = c.batch * c.size;
        float[] state0 = withTail(uniform(r, n, 1), SENTINEL);
        float[] v = uniform(r, c.size, 1);
        float[] head = Arrays.copyOf(state0, n);
        CpuLayerReference.addBroadcast(head, v, c.batch);
        float[] want = state0.clone();
        System.arraycopy(head, 0, want, 0, n);
        float[] terms = new float[want.length];
        for (int i = 0; i < n; i++) {
            terms[i] = Math.abs(state0[i]) + Math.abs(v[i % c.size]);
        }
        DeviceBuffer state = up(arena, state0);
        kernels.addBroadcast(state.address(), up(arena, v).address(), c.batch, c.size);
        assertClose("addBroadcast " + c, down(state, want.length), want, terms, c.size, Tol.ELEMENTWISE);
    }

    record Gather(int source, int[] rows, long size) {
        @Override
        public String toString() {
            return "source " + source + ", rows " + Arrays.toString(rows) + ", size " + size;
        }
    }

    static final List<Gather> GATHER = List.of(new Gather(1, new int[] {0}, 1),
            new Gather(4, new int[] {3, 2, 1, 0}, 37), new Gather(4, new int[] {2, 2, 0, 2, 3, 1}, 5),
            new Gather(16, new int[] {15, 0, 7, 7}, 1536L * 16));

    @ParameterizedTest(name = "{0}")
    @FieldSource("GATHER")
    void gatherRowsCopiesEachPickedRowExactly(Gather c) {
        Random r = seeded("gatherRows", GATHER.indexOf(c));
        int n = c.rows.length;
        float[] src = uniform(r, Math.toIntExact(c.source * c.size), 1);
        float[] want = withTail(new float[Math.toIntExact(n * c.size)], NAN);
        for (int i = 0; i < n; i++) {
            System.arraycopy(src, Math.toIntExact(c.rows[i] * c.size), want, Math.toIntExact(i * c.size),
                    Math.toIntExact(c.size));
        }
        DeviceBuffer dst = poisoned(arena, want.length);
        kernels.gatherRows(dst.address(), up(arena, src).address(), upInts(arena, c.rows).address(), n, c.size);
        // copies: bit for bit, the tail untouched
        assertThat(down(dst, want.length)).as("gatherRows " + c).isEqualTo(want);
    }

    static final List<Integer> NEG_EXP = List.of(1, 100, 1536 * 16 + 3);

    @ParameterizedTest(name = "{0}")
    @FieldSource("NEG_EXP")
    void negExpMatchesTheCpu(int n) {
        Random r = seeded("negExp", NEG_EXP.indexOf(n));
        float[] aLog = uniform(r, n, 5);
        aLog[0] = 0f;
        if (n > 1) {
            aLog[1] = (float) Math.log(16);
        }
        float[] want = withTail(CpuLayerReference.negExp(aLog), NAN);
        DeviceBuffer negA = poisoned(arena, want.length);
        kernels.negExp(negA.address(), up(arena, aLog).address(), n);
        assertClose("negExp n=" + n, down(negA, want.length), want, null, 0, Tol.ELEMENTWISE);
    }

    static final List<Integer> MUL_ADD = List.of(1, 37, 100_003);

    @ParameterizedTest(name = "{0}")
    @FieldSource("MUL_ADD")
    void mulAddMatchesTheCpu(int n) {
        Random r = seeded("mulAdd", MUL_ADD.indexOf(n));
        float[] dst0 = withTail(uniform(r, n, 1), SENTINEL);
        float[] x = uniform(r, n + TAIL, 1);
        float[] y = uniform(r, n + TAIL, 1);
        float[] head = Arrays.copyOf(dst0, n);
        CpuLayerReference.mulAdd(head, Arrays.copyOf(x, n), Arrays.copyOf(y, n));
        float[] want = dst0.clone();
        System.arraycopy(head, 0, want, 0, n);
        float[] terms = new float[want.length];
        for (int i = 0; i < n; i++) {
            terms[i] = Math.abs(dst0[i]) + Math.abs(x[i] * y[i]);
        }
        DeviceBuffer dst = up(arena, dst0);
        kernels.mulAdd(dst.address(), up(arena, x).address(), up(arena, y).address(), n);
        assertClose("mulAdd n=" + n, down(dst, want.length), want, terms, 0, Tol.ELEMENTWISE);
    }

    // =================================================================================================================
    // DeviceLinear (cuBLAS)

    record Forward(int m, int in, int out, int ldx, int ldy, boolean bias) {
    }

    static final List<Forward> FORWARD = List.of(
            new Forward(1, 1, 1, 1, 1, false),
            new Forward(5, 1, 3, 1, 3, true),
            new Forward(1, 768, 1536, 768, 1536, true), // a decode step
            new Forward(7, 33, 37, 40, 45, false),
            new Forward(300, 130, 97, 130, 200, true),
            new Forward(64, 2048, 48, 2052, 48, true),
            new Forward(2, 5, 2048, 5, 2050, false));

    @ParameterizedTest(name = "{0}")
    @FieldSource("FORWARD")
    void linearForwardMatchesTheCpu(Forward c) {
        Random r = seeded("DeviceLinear.forward", FORWARD.indexOf(c));
        float[] x = uniform(r, c.m * c.ldx, 1);
        float[] w = uniform(r, c.out * c.in, 1 / Math.sqrt(c.in));
        float[] b = c.bias ? uniform(r, c.out, 1) : null;
        float[] packed = new float[c.m * c.out];
        CpuLayerReference.linearForward(packed, x, c.ldx, w, b, c.m, c.in, c.out);
        float[] want = rows(packed, c.m, c.out, poison(c.m * c.ldy), c.ldy, 0);

        Supplier<float[][]> run = () -> {
            DeviceBuffer y = poisoned(arena, want.length);
            linear.forward(y.address(), c.ldy, up(arena, x).address(), c.ldx, up(arena, w).address(),
                    b == null ? 0 : up(arena, b).address(), c.m, c.in, c.out);
            return new float[][] {down(y, want.length)};
        };
        float[][] got = run.get();
        assertClose("DeviceLinear.forward y " + c, got[0], want, null, c.ldy, Tol.gemm(c.in));
        assertDeterministic("DeviceLinear.forward " + c, got, run.get());
    }

    record ForwardAdd(int m, int in, int out, int ldx, int ldy, int yOff, float scale) {
    }

    static final List<ForwardAdd> FORWARD_ADD = List.of(
            new ForwardAdd(1, 1, 1, 1, 1, 0, 1f),
            new ForwardAdd(7, 33, 37, 40, 80, 5, 0.5f),
            new ForwardAdd(300, 130, 97, 130, 200, 100, 2f),
            new ForwardAdd(1, 768, 16, 768, 1536 + 16, 1536, -1f),
            new ForwardAdd(64, 2048, 48, 2048, 96, 48, 0.125f));

    @ParameterizedTest(name = "{0}")
    @FieldSource("FORWARD_ADD")
    void linearForwardAddMatchesTheCpu(ForwardAdd c) {
        Random r = seeded("DeviceLinear.forwardAdd", FORWARD_ADD.indexOf(c));
        float[] x = uniform(r, c.m * c.ldx, 1);
        float[] w = uniform(r, c.out * c.in, 1 / Math.sqrt(c.in));
        float[] y0 = block(r, c.m, c.ldy, c.yOff, c.out, 1);
        float[] want = y0.clone();
        CpuLayerReference.linearForwardAdd(want, c.yOff, c.ldy, x, c.ldx, w, c.scale, c.m, c.in, c.out);

        DeviceBuffer y = up(arena, y0);
        linear.forwardAdd(y.at(4L * c.yOff), c.ldy, up(arena, x).address(), c.ldx, up(arena, w).address(), c.scale, c.m,
                c.in, c.out);
        assertClose("DeviceLinear.forwardAdd y " + c, down(y, want.length), want, null, c.ldy, Tol.gemm(c.in));
    }

    record BackwardInput(int m, int in, int out, int lddx, int lddy, int dyOff, float scale, boolean accumulate) {
    }

    static final List<BackwardInput> BACKWARD_INPUT = List.of(
            new BackwardInput(1, 1, 1, 1, 1, 0, 1f, false),
            new BackwardInput(5, 3, 1, 3, 1, 0, 1f, true),
            new BackwardInput(7, 33, 37, 40, 45, 3, 1f, true),
            new BackwardInput(300, 130, 97, 131, 200, 100, 0.5f, false),
            new BackwardInput(1, 768, 1536, 768, 3072, 1536, 1f, false),
            new BackwardInput(64, 48, 2048, 50, 2048, 0, -2f, true));

    @ParameterizedTest(name = "{0}")
    @FieldSource("BACKWARD_INPUT")
    void linearBackwardInputMatchesTheCpu(BackwardInput c) {
        Random r = seeded("DeviceLinear.backwardInput", BACKWARD_INPUT.indexOf(c));
        float[] dy = uniform(r, c.m * c.lddy, 1);
        float[] w = uniform(r, c.out * c.in, 1 / Math.sqrt(c.out));
        float[] dx0 = c.accumulate ? block(r, c.m, c.lddx, 0, c.in, 1) : poison(c.m * c.lddx);
        float[] want = dx0.clone();
        CpuLayerReference.linearBackwardInput(want, c.lddx, dy, c.dyOff, c.lddy, w, c.scale, c.m, c.in, c.out,
                c.accumulate);

        Supplier<float[][]> run = () -> {
            DeviceBuffer dx = up(arena, dx0);
            linear.backwardInput(dx.address(), c.lddx, up(arena, dy).at(4L * c.dyOff), c.lddy, up(arena, w).address(),
                    c.scale, c.m, c.in, c.out, c.accumulate);
            return new float[][] {down(dx, want.length)};
        };
        float[][] got = run.get();
        assertClose("DeviceLinear.backwardInput dx " + c, got[0], want, null, c.lddx, Tol.gemm(c.out));
        assertDeterministic("DeviceLinear.backwardInput " + c, got, run.get());
    }

    record BackwardWeight(int m, int in, int out, int ldx, int lddy, int dyOff, float scale) {
    }

    static final List<BackwardWeight> BACKWARD_WEIGHT = List.of(
            new BackwardWeight(1, 1, 1, 1, 1, 0, 1f),
            new BackwardWeight(5, 3, 1, 3, 1, 0, -2f),
            new BackwardWeight(7, 33, 37, 40, 45, 3, 1f),
            new BackwardWeight(300, 130, 97, 131, 200, 100, 0.5f),
            new BackwardWeight(1, 768, 1536, 768, 3072, 1536, 1f),
            new BackwardWeight(1200, 48, 64, 48, 64, 0, 1f));

    @ParameterizedTest(name = "{0}")
    @FieldSource("BACKWARD_WEIGHT")
    void linearBackwardWeightMatchesTheCpu(BackwardWeight c) {
        Random r = seeded("DeviceLinear.backwardWeight", BACKWARD_WEIGHT.indexOf(c));
        float[] dy = uniform(r, c.m * c.lddy, 1);
        float[] x = uniform(r, c.m * c.ldx, 1);
        float[] dw0 = withTail(uniform(r, c.out * c.in, 1), NAN);
        float[] want = dw0.clone();
        CpuLayerReference.linearBackwardWeight(want, dy, c.dyOff, c.lddy, x, c.ldx, c.scale, c.m, c.in, c.out);

        Supplier<float[][]> run = () -> {
            DeviceBuffer dw = up(arena, dw0);
            linear.backwardWeight(dw.address(), up(arena, dy).at(4L * c.dyOff), c.lddy, up(arena, x).address(), c.ldx,
                    c.scale, c.m, c.in, c.out);
            return new float[][] {down(dw, want.length)};
        };
        float[][] got = run.get();
        assertClose("DeviceLinear.backwardWeight dw " + c, got[0], want, null, c.in, Tol.gemm(c.m));
        assertDeterministic("DeviceLinear.backwardWeight " + c, got, run.get());
    }

    record BackwardBias(int m, int out, int lddy, int dyOff) {
    }

    static final List<BackwardBias> BACKWARD_BIAS = List.of(
            new BackwardBias(1, 1, 1, 0), new BackwardBias(7, 37, 45, 3), new BackwardBias(300, 97, 200, 100),
            new BackwardBias(1200, 48, 64, 0), new BackwardBias(1, 1536, 3072, 1536));

    @ParameterizedTest(name = "{0}")
    @FieldSource("BACKWARD_BIAS")
    void linearBackwardBiasMatchesTheCpu(BackwardBias c) {
        Random r = seeded("DeviceLinear.backwardBias", BACKWARD_BIAS.indexOf(c));
        float[] dy = uniform(r, c.m * c.lddy, 1);
        float[] db0 = withTail(uniform(r, c.out, 1), NAN);
        float[] want = db0.clone();
        CpuLayerReference.linearBackwardBias(want, dy, c.dyOff, c.lddy, c.m, c.out);

        Supplier<float[][]> run = () -> {
            DeviceBuffer db = up(arena, db0);
            linear.backwardBias(db.address(), up(arena, dy).at(4L * c.dyOff), c.lddy, c.m, c.out);
            return new float[][] {down(db, want.length)};
        };
        float[][] got = run.get();
        assertClose("DeviceLinear.backwardBias db " + c, got[0], want, null, 0, Tol.REDUCTION);
        assertDeterministic("DeviceLinear.backwardBias " + c, got, run.get());
    }

    // =================================================================================================================
    // cases, buffers and comparisons

    /** The inputs of case {@code index} of a method's list: a seed fixed by both. */
    static Random seeded(String method, int index) {
        return new Random(31L * method.hashCode() + index);
    }

    /** How far the device may be from the cpu: bitwise, per element, or relative to the reference's largest value. */
    record Tol(double relative, boolean exact, boolean perElement, String text) {
        static final Tol EXACT = new Tol(0, true, false, "bitwise");
        static final Tol ELEMENTWISE = new Tol(LayerKernelsGpuTest.ELEMENTWISE, false, true,
                "1e-6·max(1, |ref|, Σ|terms|)");
        static final Tol REDUCTION = new Tol(LayerKernelsGpuTest.REDUCTION, false, false, "1e-5·max|ref|");

        /** A product over inner dimension k. */
        static Tol gemm(int k) {
            return new Tol(GEMM * Math.sqrt(Math.max(1, k)), false, false, "1e-5·sqrt(K = " + k + ")·max|ref|");
        }
    }

    /**
     * got against want element by element: where want is NaN (poison the call must not overwrite) got must be NaN;
     * elsewhere got must be finite and within the bound. cols > 0 names indices as [row, column].
     */
    static void assertClose(String what, float[] got, float[] want, float[] terms, int cols, Tol bound) {
        assertThat(got).as(what + ": length").hasSize(want.length);
        double maxRef = 0;
        for (float w : want) {
            if (!Float.isNaN(w)) {
                maxRef = Math.max(maxRef, Math.abs(w));
            }
        }
        int bad = 0;
        int first = -1;
        double firstBound = 0;
        double worst = 0;
        int worstAt = -1;
        for (int i = 0; i < want.length; i++) {
            float w = want[i];
            float g = got[i];
            boolean ok;
            double limit = 0;
            double err = Math.abs((double) g - w);
            if (Float.isNaN(w)) {
                ok = Float.isNaN(g);
            } else if (bound.exact()) {
                ok = Float.floatToRawIntBits(g) == Float.floatToRawIntBits(w);
            } else {
                limit = bound.perElement()
                        ? bound.relative() * Math.max(1, Math.max(Math.abs(w), terms == null ? 0 : terms[i]))
                        : bound.relative() * maxRef;
                ok = Float.isFinite(g) && err <= limit;
            }
            if (Float.isFinite(g) && Float.isFinite(w) && err > worst) {
                worst = err;
                worstAt = i;
            }
            if (!ok) {
                if (first < 0) {
                    first = i;
                    firstBound = limit;
                }
                bad++;
            }
        }
        System.out.printf("%s: largest error %.3e%s (max |ref| %.3e, bound %s)%n", what, worst,
                worstAt < 0 ? "" : " at " + index(worstAt, cols), maxRef, bound.text());
        if (bad > 0) {
            int f = first;
            String message = String.format("%s: %d of %d elements off; first at %s: got %s, want %s (bound %s = %.3e);"
                            + " largest finite error %.3e%s", what, bad, want.length, index(f, cols), got[f], want[f],
                    bound.text(), firstBound, worst, worstAt < 0 ? "" : " at " + index(worstAt, cols));
            assertThat(bad).withFailMessage(message).isZero();
        }
    }

    static void assertBitwise(String what, float[] got, float[] want) {
        assertClose(what, got, want, null, 0, Tol.EXACT);
    }

    /** A second run of the same call on the same inputs gives the same bits (the contract's fixed order). */
    static void assertDeterministic(String what, float[][] first, float[][] second) {
        for (int t = 0; t < first.length; t++) {
            if (first[t] == null) {
                continue;
            }
            float[] a = first[t];
            float[] b = second[t];
            int at = IntStream.range(0, a.length)
                    .filter(i -> Float.floatToRawIntBits(a[i]) != Float.floatToRawIntBits(b[i]))
                    .findFirst().orElse(-1);
            assertThat(at).withFailMessage("%s, output %d: a second run differs first at [%d]: %s then %s", what, t,
                    at, at < 0 ? 0 : a[at], at < 0 ? 0 : b[at]).isNegative();
        }
    }

    static String index(int i, int cols) {
        return cols > 0 ? "[" + i / cols + ", " + i % cols + "]" : "[" + i + "]";
    }

    static long address(DeviceBuffer b) {
        return b == null ? 0 : b.address();
    }

    /** A device copy of v (at least one float, so that an empty array still has an address). */
    static DeviceBuffer up(DeviceArena a, float[] v) {
        DeviceBuffer b = a.allocateFloats(Math.max(1, v.length));
        if (v.length > 0) {
            b.copyFrom(v);
        }
        return b;
    }

    static DeviceBuffer upInts(DeviceArena a, int[] v) {
        DeviceBuffer b = a.allocate(4L * Math.max(1, v.length));
        if (v.length > 0) {
            try (Arena host = Arena.ofConfined()) {
                MemorySegment s = host.allocateFrom(ValueLayout.JAVA_INT, v);
                context.driver().copyHostToDeviceAsync(b.address(), s, 4L * v.length, context.stream());
                context.syncStream();
            }
        }
        return b;
    }

    /** n floats of NaN on the device. */
    static DeviceBuffer poisoned(DeviceArena a, int n) {
        DeviceBuffer b = a.allocateFloats(Math.max(1, n));
        b.fill32(Gpu.NAN32);
        return b;
    }

    static float[] down(DeviceBuffer b, int n) {
        return n == 0 ? new float[0] : b.toFloats(n);
    }

    static float[] poison(int n) {
        float[] v = new float[n];
        Arrays.fill(v, NAN);
        return v;
    }

    /** v followed by {@link #TAIL} copies of tail. */
    static float[] withTail(float[] v, float tail) {
        float[] t = Arrays.copyOf(v, v.length + TAIL);
        Arrays.fill(t, v.length, t.length, tail);
        return t;
    }

    /** (rows, ld), random in columns [off, off + cols) and NaN elsewhere (columns a call must leave alone). */
    static float[] block(Random r, int rows, int ld, int off, int cols, double scale) {
        float[] v = poison(rows * ld);
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < cols; j++) {
                v[i * ld + off + j] = (float) ((2 * r.nextDouble() - 1) * scale);
            }
        }
        return v;
    }

    /** into (rows, ld) with packed (rows, cols) copied to columns [off, off + cols). */
    static float[] rows(float[] packed, int rows, int cols, float[] into, int ld, int off) {
        for (int i = 0; i < rows; i++) {
            System.arraycopy(packed, i * cols, into, i * ld + off, cols);
        }
        return into;
    }

    static float[] uniform(Random r, int n, double scale) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) ((2 * r.nextDouble() - 1) * scale);
        }
        return v;
    }

    static float[] gaussian(Random r, int n, double sigma) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) (r.nextGaussian() * sigma);
        }
        return v;
    }

    /** (B, T) ids in [0, vocab); the last of row 0 repeats its first, so every case sums a repeated row. */
    static int[][] tokens(Random r, int batch, int t, int vocab) {
        int[][] ids = new int[batch][t];
        for (int[] row : ids) {
            for (int i = 0; i < t; i++) {
                row[i] = r.nextInt(vocab);
            }
        }
        if (t > 1) {
            ids[0][t - 1] = ids[0][0];
        }
        return ids;
    }

    static int[] flat(int[][] tokens) {
        return Arrays.stream(tokens).flatMapToInt(Arrays::stream).toArray();
    }
}
