package org.ssmpeft.runtime.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/**
 * The Vector API path of {@link Gemm}: {@code FloatVector.SPECIES_PREFERRED}, fused multiply-add, register tiles of
 * 4 x 4 (16 accumulators). Loaded only when {@link Gemm#VECTOR} is true, since it references the incubator module.
 *
 * <p>{@link #abT} computes every output as a dot product along K: lane l of one accumulator collects
 * {@code fma(a[p], b[p], acc)} for {@code p = l, l + L, l + 2L, ...} in order, the lanes are summed by the fixed
 * pairwise tree of {@link #laneSums}, and the K tail (fewer than L elements) is added by scalar FMAs in order. All
 * tile shapes (4 x 4, 1 x 4, 1 x 1) use exactly these operations per output, so a row's result is the same whether
 * it is computed alone or in a batch, on any thread, interpreted or compiled.
 *
 * <p>{@link #nn} vectorises along the output columns (no reduction across lanes): tiles of 4 rows x 4 vectors over a
 * block of the reduction dimension that stays in L1, accumulated in place in C.
 */
final class GemmVector {

    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();

    // Lane folds for laneSums(): lane i takes lane i ^ half, for half < L; UPPER_h: the lanes with bit h set.
    private static final VectorShuffle<Float> FOLD_32 = fold(32);
    private static final VectorShuffle<Float> FOLD_16 = fold(16);
    private static final VectorShuffle<Float> FOLD_8 = fold(8);
    private static final VectorShuffle<Float> FOLD_4 = fold(4);
    private static final VectorShuffle<Float> FOLD_2 = fold(2);
    private static final VectorShuffle<Float> FOLD_1 = fold(1);
    private static final VectorMask<Float> UPPER_32 = upper(32);
    private static final VectorMask<Float> UPPER_16 = upper(16);
    private static final VectorMask<Float> UPPER_8 = upper(8);
    private static final VectorMask<Float> UPPER_4 = upper(4);
    private static final VectorMask<Float> UPPER_2 = upper(2);
    private static final VectorMask<Float> UPPER_1 = upper(1);
    private static final int[] LANE_OF = reversedLanes();

    private static final long SERIAL_FLOPS = 1 << 16;
    // abT tasks: a block of A rows kept in L2 (about 512 KiB) against a block of B rows streamed through L1.
    private static final int ABT_A_FLOATS = 128 * 1024;
    private static final int ABT_COLS = 64;
    // nn tasks: 64 rows x 4 vectors of C; reduction blocks of 128 keep the B panel (128 x 4 vectors) in L1.
    private static final int NN_ROWS = 64;
    private static final int NN_DEPTH = 128;

    private GemmVector() {
    }

    static int lanes() {
        return L;
    }

    static String describe() {
        return "vector (" + S.vectorBitSize() + "-bit, " + L + " lanes)";
    }

    private static VectorShuffle<Float> fold(int half) {
        return half < L ? VectorShuffle.fromOp(S, i -> i ^ half) : VectorShuffle.iota(S, 0, 1, false);
    }

    private static VectorMask<Float> upper(int half) {
        return half < L ? VectorMask.fromLong(S, laneBits(half)) : S.maskAll(false);
    }

    // lanes whose index has the bit `half` set
    private static long laneBits(int half) {
        long bits = 0;
        for (int i = 0; i < Math.min(L, 64); i++) {
            if ((i & half) != 0) {
                bits |= 1L << i;
            }
        }
        return bits;
    }

    // After the folds, lane i of a group holds the sum of the group's vector REVERSED[i] (log2 L bits reversed).
    private static int[] reversedLanes() {
        int bits = Integer.numberOfTrailingZeros(L);
        int[] rev = new int[L];
        for (int i = 0; i < L; i++) {
            rev[bits == 0 ? 0 : Integer.reverse(i) >>> (32 - bits)] = i;
        }
        return rev;
    }

    /**
     * The sum of the lanes of each of the {@code n} vectors stored at {@code acc[v * L]}, into {@code sums[v]}; it
     * overwrites {@code acc}. Every sum is the same fixed pairwise tree, whatever n and whichever slot v: first
     * {@code x[i] + x[i ^ L/2]}, then {@code ^ L/4}, ..., {@code ^ 1}. The vectors are folded together (two vectors
     * per fold, each keeping its half of the lanes), so the tree is shared out over full-width additions instead of
     * one shuffle-and-add chain per output; each lane operation is one IEEE addition, so the bits are reproducible.
     */
    static void laneSums(float[] acc, int n, float[] sums) {
        int count = n;
        if (L > 32) {
            count = foldPairs(acc, count, UPPER_32, FOLD_32);
        }
        if (L > 16) {
            count = foldPairs(acc, count, UPPER_16, FOLD_16);
        }
        if (L > 8) {
            count = foldPairs(acc, count, UPPER_8, FOLD_8);
        }
        if (L > 4) {
            count = foldPairs(acc, count, UPPER_4, FOLD_4);
        }
        if (L > 2) {
            count = foldPairs(acc, count, UPPER_2, FOLD_2);
        }
        if (L > 1) {
            foldPairs(acc, count, UPPER_1, FOLD_1);
        }
        for (int v = 0; v < n; v++) {
            sums[v] = acc[v - v % L + LANE_OF[v % L]];
        }
    }

    // Vector j of the next level folds vectors 2j and 2j + 1 (zeros past the end): lanes without the bit keep
    // p[i] + p[i ^ bit], lanes with it q[i] + q[i ^ bit].
    private static int foldPairs(float[] acc, int count, VectorMask<Float> upper, VectorShuffle<Float> swap) {
        int next = (count + 1) / 2;
        for (int j = 0; j < next; j++) {
            FloatVector p = FloatVector.fromArray(S, acc, 2 * j * L);
            FloatVector q = 2 * j + 1 < count ? FloatVector.fromArray(S, acc, (2 * j + 1) * L) : FloatVector.zero(S);
            p.blend(q, upper).add(q.blend(p, upper).rearrange(swap)).intoArray(acc, j * L);
        }
        return next;
    }

    // The K tail after the vector loop: sequential FMAs onto the folded sum.
    private static float tail(float s, float[] a, int ai, float[] b, int bj, int p, int k) {
        for (; p < k; p++) {
            s = Math.fma(a[ai + p], b[bj + p], s);
        }
        return s;
    }

    // C (M, N) = A (M, K) · Bᵀ + bias, B (N, K), bias (N) or null
    static void abT(Parallel par, float[] a, int aOff, int lda, float[] b, int bOff, int ldb, float[] bias,
                    float[] c, int cOff, int ldc, int m, int n, int k) {
        if ((long) m * n * k < SERIAL_FLOPS) {
            abTBlock(a, aOff, lda, b, bOff, ldb, bias, c, cOff, ldc, k, 0, m, 0, n);
            return;
        }
        int rowsPerTask = Math.min(m, Math.max(4, ABT_A_FLOATS / Math.max(1, k) / 4 * 4));
        int rowTasks = (m + rowsPerTask - 1) / rowsPerTask;
        int colTasks = (n + ABT_COLS - 1) / ABT_COLS;
        par.forEach(rowTasks * colTasks, t -> {
            int r0 = (t % rowTasks) * rowsPerTask;
            int c0 = (t / rowTasks) * ABT_COLS;
            abTBlock(a, aOff, lda, b, bOff, ldb, bias, c, cOff, ldc, k, r0, Math.min(m, r0 + rowsPerTask), c0,
                    Math.min(n, c0 + ABT_COLS));
        });
    }

    // Rows [r0, r1) x columns [c0, c1) of C: 4 columns (B rows, kept in L1) against all rows, then the leftovers.
    private static void abTBlock(float[] a, int aOff, int lda, float[] b, int bOff, int ldb, float[] bias,
                                 float[] c, int cOff, int ldc, int k, int r0, int r1, int c0, int c1) {
        float[] acc = new float[16 * L];
        float[] sums = new float[16];
        int j = c0;
        for (; j + 4 <= c1; j += 4) {
            int r = r0;
            for (; r + 4 <= r1; r += 4) {
                dot4x4(a, aOff + r * lda, lda, b, bOff + j * ldb, ldb, k, acc, sums);
                finish(4, 4, a, aOff + r * lda, lda, b, bOff + j * ldb, ldb, k, sums, bias, j, c, cOff + r * ldc + j,
                        ldc);
            }
            for (; r < r1; r++) {
                dot1x4(a, aOff + r * lda, b, bOff + j * ldb, ldb, k, acc, sums);
                finish(1, 4, a, aOff + r * lda, lda, b, bOff + j * ldb, ldb, k, sums, bias, j, c, cOff + r * ldc + j,
                        ldc);
            }
        }
        for (; j < c1; j++) {
            for (int r = r0; r < r1; r++) {
                dot1x1(a, aOff + r * lda, b, bOff + j * ldb, k, acc, sums);
                finish(1, 1, a, aOff + r * lda, lda, b, bOff + j * ldb, ldb, k, sums, bias, j, c, cOff + r * ldc + j,
                        ldc);
            }
        }
    }

    // C[r, q] = (lane sum of row r x column q) + the K tail by scalar FMAs in order + bias, for a rows x cols tile
    private static void finish(int rows, int cols, float[] a, int ai, int lda, float[] b, int bj, int ldb, int k,
                               float[] sums, float[] bias, int j, float[] c, int ci, int ldc) {
        int kv = S.loopBound(k);
        for (int r = 0; r < rows; r++) {
            for (int q = 0; q < cols; q++) {
                float s = tail(sums[r * cols + q], a, ai + r * lda, b, bj + q * ldb, kv, k);
                c[ci + r * ldc + q] = s + (bias == null ? 0f : bias[j + q]);
            }
        }
    }


    // sums[r * 4 + q] = lane sums of A row r · B row q over the first loopBound(K) columns
    private static void dot4x4(float[] a, int ai, int lda, float[] b, int bj, int ldb, int k, float[] acc,
                               float[] sums) {
        FloatVector s00 = FloatVector.zero(S);
        FloatVector s01 = FloatVector.zero(S);
        FloatVector s02 = FloatVector.zero(S);
        FloatVector s03 = FloatVector.zero(S);
        FloatVector s10 = FloatVector.zero(S);
        FloatVector s11 = FloatVector.zero(S);
        FloatVector s12 = FloatVector.zero(S);
        FloatVector s13 = FloatVector.zero(S);
        FloatVector s20 = FloatVector.zero(S);
        FloatVector s21 = FloatVector.zero(S);
        FloatVector s22 = FloatVector.zero(S);
        FloatVector s23 = FloatVector.zero(S);
        FloatVector s30 = FloatVector.zero(S);
        FloatVector s31 = FloatVector.zero(S);
        FloatVector s32 = FloatVector.zero(S);
        FloatVector s33 = FloatVector.zero(S);
        int kv = S.loopBound(k);
        for (int p = 0; p < kv; p += L) {
            FloatVector a0 = FloatVector.fromArray(S, a, ai + p);
            FloatVector a1 = FloatVector.fromArray(S, a, ai + lda + p);
            FloatVector a2 = FloatVector.fromArray(S, a, ai + 2 * lda + p);
            FloatVector a3 = FloatVector.fromArray(S, a, ai + 3 * lda + p);
            FloatVector b0 = FloatVector.fromArray(S, b, bj + p);
            s00 = a0.fma(b0, s00);
            s10 = a1.fma(b0, s10);
            s20 = a2.fma(b0, s20);
            s30 = a3.fma(b0, s30);
            FloatVector b1 = FloatVector.fromArray(S, b, bj + ldb + p);
            s01 = a0.fma(b1, s01);
            s11 = a1.fma(b1, s11);
            s21 = a2.fma(b1, s21);
            s31 = a3.fma(b1, s31);
            FloatVector b2 = FloatVector.fromArray(S, b, bj + 2 * ldb + p);
            s02 = a0.fma(b2, s02);
            s12 = a1.fma(b2, s12);
            s22 = a2.fma(b2, s22);
            s32 = a3.fma(b2, s32);
            FloatVector b3 = FloatVector.fromArray(S, b, bj + 3 * ldb + p);
            s03 = a0.fma(b3, s03);
            s13 = a1.fma(b3, s13);
            s23 = a2.fma(b3, s23);
            s33 = a3.fma(b3, s33);
        }
        s00.intoArray(acc, 0);
        s01.intoArray(acc, L);
        s02.intoArray(acc, 2 * L);
        s03.intoArray(acc, 3 * L);
        s10.intoArray(acc, 4 * L);
        s11.intoArray(acc, 5 * L);
        s12.intoArray(acc, 6 * L);
        s13.intoArray(acc, 7 * L);
        s20.intoArray(acc, 8 * L);
        s21.intoArray(acc, 9 * L);
        s22.intoArray(acc, 10 * L);
        s23.intoArray(acc, 11 * L);
        s30.intoArray(acc, 12 * L);
        s31.intoArray(acc, 13 * L);
        s32.intoArray(acc, 14 * L);
        s33.intoArray(acc, 15 * L);
        laneSums(acc, 16, sums);
    }

    // sums[r * 4 + q] = lane sums of A row r · B row q over the first loopBound(K) columns
    private static void dot1x4(float[] a, int ai, float[] b, int bj, int ldb, int k, float[] acc, float[] sums) {
        FloatVector s00 = FloatVector.zero(S);
        FloatVector s01 = FloatVector.zero(S);
        FloatVector s02 = FloatVector.zero(S);
        FloatVector s03 = FloatVector.zero(S);
        int kv = S.loopBound(k);
        for (int p = 0; p < kv; p += L) {
            FloatVector a0 = FloatVector.fromArray(S, a, ai + p);
            FloatVector b0 = FloatVector.fromArray(S, b, bj + p);
            s00 = a0.fma(b0, s00);
            FloatVector b1 = FloatVector.fromArray(S, b, bj + ldb + p);
            s01 = a0.fma(b1, s01);
            FloatVector b2 = FloatVector.fromArray(S, b, bj + 2 * ldb + p);
            s02 = a0.fma(b2, s02);
            FloatVector b3 = FloatVector.fromArray(S, b, bj + 3 * ldb + p);
            s03 = a0.fma(b3, s03);
        }
        s00.intoArray(acc, 0);
        s01.intoArray(acc, L);
        s02.intoArray(acc, 2 * L);
        s03.intoArray(acc, 3 * L);
        laneSums(acc, 4, sums);
    }

    // sums[r * 1 + q] = lane sums of A row r · B row q over the first loopBound(K) columns
    private static void dot1x1(float[] a, int ai, float[] b, int bj, int k, float[] acc, float[] sums) {
        FloatVector s00 = FloatVector.zero(S);
        int kv = S.loopBound(k);
        for (int p = 0; p < kv; p += L) {
            FloatVector a0 = FloatVector.fromArray(S, a, ai + p);
            FloatVector b0 = FloatVector.fromArray(S, b, bj + p);
            s00 = a0.fma(b0, s00);
        }
        s00.intoArray(acc, 0);
        laneSums(acc, 1, sums);
    }

    /**
     * {@code C[i, j] (+)= Σ_p A(i, p) · B[p, j]} for i < rows, j < cols, p < depth, with
     * {@code A(i, p) = a[aOff + i * ars + p * aps]}, B and C row-major with row strides ldb and ldc.
     */
    static void nn(Parallel par, float[] a, int aOff, int ars, int aps, float[] b, int bOff, int ldb, float[] c,
                   int cOff, int ldc, int rows, int cols, int depth, boolean accumulate) {
        if ((long) rows * cols * depth < SERIAL_FLOPS) {
            nnBlock(a, aOff, ars, aps, b, bOff, ldb, c, cOff, ldc, depth, accumulate, 0, rows, 0, cols);
            return;
        }
        int panel = 4 * L;
        int rowTasks = (rows + NN_ROWS - 1) / NN_ROWS;
        int colTasks = (cols + panel - 1) / panel;
        par.forEach(rowTasks * colTasks, t -> {
            int r0 = (t / colTasks) * NN_ROWS;
            int c0 = (t % colTasks) * panel;
            nnBlock(a, aOff, ars, aps, b, bOff, ldb, c, cOff, ldc, depth, accumulate, r0,
                    Math.min(rows, r0 + NN_ROWS), c0, Math.min(cols, c0 + panel));
        });
    }

    private static void nnBlock(float[] a, int aOff, int ars, int aps, float[] b, int bOff, int ldb, float[] c,
                                int cOff, int ldc, int depth, boolean accumulate, int r0, int r1, int c0, int c1) {
        if (depth == 0) {
            if (!accumulate) {
                for (int i = r0; i < r1; i++) {
                    java.util.Arrays.fill(c, cOff + i * ldc + c0, cOff + i * ldc + c1, 0f);
                }
            }
            return;
        }
        for (int p0 = 0; p0 < depth; p0 += NN_DEPTH) {
            int p1 = Math.min(depth, p0 + NN_DEPTH);
            boolean load = accumulate || p0 > 0;
            int j = c0;
            for (; j + 4 * L <= c1; j += 4 * L) {
                int i = r0;
                for (; i + 4 <= r1; i += 4) {
                    nn4x4(a, aOff + i * ars, ars, aps, b, bOff + j, ldb, c, cOff + i * ldc + j, ldc, p0, p1, load);
                }
                for (; i < r1; i++) {
                    nn1x4(a, aOff + i * ars, aps, b, bOff + j, ldb, c, cOff + i * ldc + j, p0, p1, load);
                }
            }
            for (; j < c1; j += L) {
                VectorMask<Float> mask = S.indexInRange(j, c1);
                int i = r0;
                for (; i + 4 <= r1; i += 4) {
                    nn4x1(a, aOff + i * ars, ars, aps, b, bOff + j, ldb, c, cOff + i * ldc + j, ldc, p0, p1, load,
                            mask);
                }
                for (; i < r1; i++) {
                    nn1x1(a, aOff + i * ars, aps, b, bOff + j, ldb, c, cOff + i * ldc + j, p0, p1, load, mask);
                }
            }
        }
    }


    private static void nn4x4(float[] a, int ai, int ars, int aps, float[] b, int bj, int ldb, float[] c, int ci,
                              int ldc, int p0, int p1, boolean load) {
        FloatVector c00 = load ? FloatVector.fromArray(S, c, ci) : FloatVector.zero(S);
        FloatVector c01 = load ? FloatVector.fromArray(S, c, ci + L) : FloatVector.zero(S);
        FloatVector c02 = load ? FloatVector.fromArray(S, c, ci + 2 * L) : FloatVector.zero(S);
        FloatVector c03 = load ? FloatVector.fromArray(S, c, ci + 3 * L) : FloatVector.zero(S);
        FloatVector c10 = load ? FloatVector.fromArray(S, c, ci + 1 * ldc) : FloatVector.zero(S);
        FloatVector c11 = load ? FloatVector.fromArray(S, c, ci + 1 * ldc + L) : FloatVector.zero(S);
        FloatVector c12 = load ? FloatVector.fromArray(S, c, ci + 1 * ldc + 2 * L) : FloatVector.zero(S);
        FloatVector c13 = load ? FloatVector.fromArray(S, c, ci + 1 * ldc + 3 * L) : FloatVector.zero(S);
        FloatVector c20 = load ? FloatVector.fromArray(S, c, ci + 2 * ldc) : FloatVector.zero(S);
        FloatVector c21 = load ? FloatVector.fromArray(S, c, ci + 2 * ldc + L) : FloatVector.zero(S);
        FloatVector c22 = load ? FloatVector.fromArray(S, c, ci + 2 * ldc + 2 * L) : FloatVector.zero(S);
        FloatVector c23 = load ? FloatVector.fromArray(S, c, ci + 2 * ldc + 3 * L) : FloatVector.zero(S);
        FloatVector c30 = load ? FloatVector.fromArray(S, c, ci + 3 * ldc) : FloatVector.zero(S);
        FloatVector c31 = load ? FloatVector.fromArray(S, c, ci + 3 * ldc + L) : FloatVector.zero(S);
        FloatVector c32 = load ? FloatVector.fromArray(S, c, ci + 3 * ldc + 2 * L) : FloatVector.zero(S);
        FloatVector c33 = load ? FloatVector.fromArray(S, c, ci + 3 * ldc + 3 * L) : FloatVector.zero(S);
        for (int p = p0; p < p1; p++) {
            int ap = ai + p * aps;
            int bp = bj + p * ldb;
            FloatVector x0 = FloatVector.broadcast(S, a[ap]);
            FloatVector x1 = FloatVector.broadcast(S, a[ap + ars]);
            FloatVector x2 = FloatVector.broadcast(S, a[ap + 2 * ars]);
            FloatVector x3 = FloatVector.broadcast(S, a[ap + 3 * ars]);
            FloatVector y0 = FloatVector.fromArray(S, b, bp);
            c00 = x0.fma(y0, c00);
            c10 = x1.fma(y0, c10);
            c20 = x2.fma(y0, c20);
            c30 = x3.fma(y0, c30);
            FloatVector y1 = FloatVector.fromArray(S, b, bp + L);
            c01 = x0.fma(y1, c01);
            c11 = x1.fma(y1, c11);
            c21 = x2.fma(y1, c21);
            c31 = x3.fma(y1, c31);
            FloatVector y2 = FloatVector.fromArray(S, b, bp + 2 * L);
            c02 = x0.fma(y2, c02);
            c12 = x1.fma(y2, c12);
            c22 = x2.fma(y2, c22);
            c32 = x3.fma(y2, c32);
            FloatVector y3 = FloatVector.fromArray(S, b, bp + 3 * L);
            c03 = x0.fma(y3, c03);
            c13 = x1.fma(y3, c13);
            c23 = x2.fma(y3, c23);
            c33 = x3.fma(y3, c33);
        }
        c00.intoArray(c, ci);
        c01.intoArray(c, ci + L);
        c02.intoArray(c, ci + 2 * L);
        c03.intoArray(c, ci + 3 * L);
        c10.intoArray(c, ci + 1 * ldc);
        c11.intoArray(c, ci + 1 * ldc + L);
        c12.intoArray(c, ci + 1 * ldc + 2 * L);
        c13.intoArray(c, ci + 1 * ldc + 3 * L);
        c20.intoArray(c, ci + 2 * ldc);
        c21.intoArray(c, ci + 2 * ldc + L);
        c22.intoArray(c, ci + 2 * ldc + 2 * L);
        c23.intoArray(c, ci + 2 * ldc + 3 * L);
        c30.intoArray(c, ci + 3 * ldc);
        c31.intoArray(c, ci + 3 * ldc + L);
        c32.intoArray(c, ci + 3 * ldc + 2 * L);
        c33.intoArray(c, ci + 3 * ldc + 3 * L);
    }

    private static void nn1x4(float[] a, int ai, int aps, float[] b, int bj, int ldb, float[] c, int ci, int p0, int p1,
                              boolean load) {
        FloatVector c00 = load ? FloatVector.fromArray(S, c, ci) : FloatVector.zero(S);
        FloatVector c01 = load ? FloatVector.fromArray(S, c, ci + L) : FloatVector.zero(S);
        FloatVector c02 = load ? FloatVector.fromArray(S, c, ci + 2 * L) : FloatVector.zero(S);
        FloatVector c03 = load ? FloatVector.fromArray(S, c, ci + 3 * L) : FloatVector.zero(S);
        for (int p = p0; p < p1; p++) {
            int ap = ai + p * aps;
            int bp = bj + p * ldb;
            FloatVector x0 = FloatVector.broadcast(S, a[ap]);
            FloatVector y0 = FloatVector.fromArray(S, b, bp);
            c00 = x0.fma(y0, c00);
            FloatVector y1 = FloatVector.fromArray(S, b, bp + L);
            c01 = x0.fma(y1, c01);
            FloatVector y2 = FloatVector.fromArray(S, b, bp + 2 * L);
            c02 = x0.fma(y2, c02);
            FloatVector y3 = FloatVector.fromArray(S, b, bp + 3 * L);
            c03 = x0.fma(y3, c03);
        }
        c00.intoArray(c, ci);
        c01.intoArray(c, ci + L);
        c02.intoArray(c, ci + 2 * L);
        c03.intoArray(c, ci + 3 * L);
    }

    private static void nn4x1(float[] a, int ai, int ars, int aps, float[] b, int bj, int ldb, float[] c, int ci,
                              int ldc, int p0, int p1, boolean load, VectorMask<Float> mask) {
        FloatVector c00 = load ? FloatVector.fromArray(S, c, ci, mask) : FloatVector.zero(S);
        FloatVector c10 = load ? FloatVector.fromArray(S, c, ci + 1 * ldc, mask) : FloatVector.zero(S);
        FloatVector c20 = load ? FloatVector.fromArray(S, c, ci + 2 * ldc, mask) : FloatVector.zero(S);
        FloatVector c30 = load ? FloatVector.fromArray(S, c, ci + 3 * ldc, mask) : FloatVector.zero(S);
        for (int p = p0; p < p1; p++) {
            int ap = ai + p * aps;
            int bp = bj + p * ldb;
            FloatVector x0 = FloatVector.broadcast(S, a[ap]);
            FloatVector x1 = FloatVector.broadcast(S, a[ap + ars]);
            FloatVector x2 = FloatVector.broadcast(S, a[ap + 2 * ars]);
            FloatVector x3 = FloatVector.broadcast(S, a[ap + 3 * ars]);
            FloatVector y0 = FloatVector.fromArray(S, b, bp, mask);
            c00 = x0.fma(y0, c00);
            c10 = x1.fma(y0, c10);
            c20 = x2.fma(y0, c20);
            c30 = x3.fma(y0, c30);
        }
        c00.intoArray(c, ci, mask);
        c10.intoArray(c, ci + 1 * ldc, mask);
        c20.intoArray(c, ci + 2 * ldc, mask);
        c30.intoArray(c, ci + 3 * ldc, mask);
    }

    private static void nn1x1(float[] a, int ai, int aps, float[] b, int bj, int ldb, float[] c, int ci, int p0, int p1,
                              boolean load, VectorMask<Float> mask) {
        FloatVector c00 = load ? FloatVector.fromArray(S, c, ci, mask) : FloatVector.zero(S);
        for (int p = p0; p < p1; p++) {
            int ap = ai + p * aps;
            int bp = bj + p * ldb;
            FloatVector x0 = FloatVector.broadcast(S, a[ap]);
            FloatVector y0 = FloatVector.fromArray(S, b, bp, mask);
            c00 = x0.fma(y0, c00);
        }
        c00.intoArray(c, ci, mask);
    }
}
