package org.ssmpeft.runtime.plan;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

/** PiSSA's factors against a matrix built with known singular values and vectors: W = U diag(σ) Vᵀ. */
class PrincipalFactorsTest {

    /** Columns of a random (n, k) matrix made orthonormal (Gram-Schmidt in double). */
    private static double[][] orthonormalColumns(int n, int k, Random rng) {
        double[][] q = new double[k][n];
        for (int c = 0; c < k; c++) {
            for (int i = 0; i < n; i++) {
                q[c][i] = rng.nextGaussian();
            }
            for (int p = 0; p < c; p++) {
                double dot = 0;
                for (int i = 0; i < n; i++) {
                    dot += q[c][i] * q[p][i];
                }
                for (int i = 0; i < n; i++) {
                    q[c][i] -= dot * q[p][i];
                }
            }
            double norm = 0;
            for (int i = 0; i < n; i++) {
                norm += q[c][i] * q[c][i];
            }
            for (int i = 0; i < n; i++) {
                q[c][i] /= Math.sqrt(norm);
            }
        }
        return q;
    }

    /**
     * Rows {@code offset .. offset + out - 1} of a (offset + out + 2, in) weight are U diag(σ) Vᵀ with σ = 5, 3, 2,
     * 1, 0.5, ... (the rows around them random): the factors give σ's top r, s·B0·A0 = U_r S_r V_rᵀ, and
     * B0 = U_r √S_r / √s, A0 = √S_r V_rᵀ / √s up to one sign per component. Both Gram sides (in ≤ out and in > out).
     */
    @ParameterizedTest(name = "out {0}, in {1}, r {2}")
    @CsvSource({"7, 5, 3", "4, 9, 2", "6, 6, 6"})
    void theFactorsAreTheTopRSingularTriplesScaled(int out, int in, int r) {
        var rng = new Random(11);
        int k = Math.min(in, out);
        double[] sigma = new double[k];
        double[] known = {5, 3, 2, 1, 0.5, 0.25};
        System.arraycopy(known, 0, sigma, 0, k);
        double[][] u = orthonormalColumns(out, k, rng);
        double[][] v = orthonormalColumns(in, k, rng);
        int offset = 2;
        float[] w = new float[(offset + out + 2) * in];
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) rng.nextGaussian(); // rows outside the block must not count
        }
        for (int j = 0; j < out; j++) {
            for (int c = 0; c < in; c++) {
                double sum = 0;
                for (int q = 0; q < k; q++) {
                    sum += u[q][j] * sigma[q] * v[q][c];
                }
                w[(offset + j) * in + c] = (float) sum;
            }
        }
        float s = 0.5f;
        PrincipalFactors f = PrincipalFactors.of(w, in, offset, out, r, s);
        for (int q = 0; q < r; q++) {
            assertThat(f.singularValues()[q]).as("σ_%d", q).isCloseTo(sigma[q],
                    org.assertj.core.data.Offset.offset(1e-5));
            double root = Math.sqrt(sigma[q] / s);
            // one sign per component: B0's column q and A0's row q flip together
            double sign = Math.signum(f.a0()[q * in] * v[q][0]);
            for (int c = 0; c < in; c++) {
                assertThat((double) f.a0()[q * in + c]).as("A0[%d, %d]", q, c)
                        .isCloseTo(sign * root * v[q][c], org.assertj.core.data.Offset.offset(1e-5));
            }
            for (int j = 0; j < out; j++) {
                assertThat((double) f.b0()[j * r + q]).as("B0[%d, %d]", j, q)
                        .isCloseTo(sign * root * u[q][j], org.assertj.core.data.Offset.offset(1e-5));
            }
        }
        for (int j = 0; j < out; j++) {
            for (int c = 0; c < in; c++) {
                double best = 0;
                double product = 0;
                for (int q = 0; q < r; q++) {
                    best += u[q][j] * sigma[q] * v[q][c];
                    product += s * f.b0()[j * r + q] * f.a0()[q * in + c];
                }
                assertThat(product).as("s·B0·A0 [%d, %d]", j, c).isCloseTo(best,
                        org.assertj.core.data.Offset.offset(1e-5));
            }
        }
    }

    @Test
    void theSameWeightGivesTheSameFactorsBitForBit() {
        var rng = new Random(3);
        float[] w = new float[6 * 4];
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) rng.nextGaussian();
        }
        PrincipalFactors f = PrincipalFactors.of(w, 4, 0, 6, 2, 2f);
        PrincipalFactors g = PrincipalFactors.of(w.clone(), 4, 0, 6, 2, 2f);
        assertThat(g.a0()).isEqualTo(f.a0());
        assertThat(g.b0()).isEqualTo(f.b0());
    }

    @Test
    void aRankAboveTheBlocksSmallerSideIsRefused() {
        assertThatThrownBy(() -> PrincipalFactors.of(new float[3 * 5], 5, 0, 3, 4, 1f))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("PiSSA needs r <= min(in, out) of the adapted rows: r 4, rows (3, 5)");
    }
}
