package org.ssmpeft.runtime.plan;

import java.util.Arrays;

/**
 * PiSSA's principal factors (Meng et al. 2024) of a block of rows of a weight, as Hugging Face PEFT's
 * {@code pissa_init} (its {@code init_lora_weights="pissa"}, the exact SVD) defines them: with the block
 * {@code W[rows] = U S Vᵀ} (out, in) and the LoRA scaling s,
 * {@code B0 = U_r · √S_r / √s} (out, r) and {@code A0 = √S_r · V_rᵀ / √s} (r, in), so {@code s·B0·A0} is the best
 * rank-r approximation of the block.
 *
 * <p>The SVD is exact up to rounding, with no iteration count to tune: the symmetric eigen-decomposition of the smaller
 * Gram matrix ({@code WᵀW} (in, in) when in ≤ out, else {@code WWᵀ} (out, out)) by cyclic Jacobi rotations in double,
 * swept until the off-diagonal sum of squares is below 1e-30 of the diagonal's; the singular values are the
 * eigenvalues' square roots and the other side's vectors follow as {@code W v / σ} (or {@code Wᵀ u / σ}; zero for
 * σ = 0, where the product does not depend on them). The largest element of each Gram-side singular vector is made
 * positive, so the factors are deterministic; torch picks other signs, but {@code B0·A0} is the same whenever the
 * top r singular values are distinct from the (r+1)-th. Cost O(n³) per sweep for n = min(in, out): 0.2 s on a
 * Mamba-130M x_proj (80 × 1536), 12.5 s on its in_proj (3072 × 768); the plan computes it once per weight (see
 * {@link HookPlan}).
 *
 * @param a0 (r, in) row-major
 * @param b0 (out, r) row-major
 * @param singularValues the top r singular values of the block, descending
 */
public record PrincipalFactors(float[] a0, float[] b0, double[] singularValues) {

    /** The factors of rows {@code rowOffset .. rowOffset + out - 1} of {@code w} (·, in), rank r, scaling s > 0. */
    public static PrincipalFactors of(float[] w, int in, int rowOffset, int out, int r, float s) {
        if (r > Math.min(in, out)) {
            throw new IllegalArgumentException("PiSSA needs r <= min(in, out) of the adapted rows: r " + r
                    + ", rows (" + out + ", " + in + ")");
        }
        boolean rightGram = in <= out; // eigenvectors of WᵀW are V (in); else of WWᵀ, U (out)
        int n = rightGram ? in : out;
        int m = rightGram ? out : in;
        double[] g = new double[n * n]; // the upper triangle summed row by row of W (contiguous), then mirrored
        double[] row = new double[in];
        for (int k = 0; k < out; k++) {
            for (int c = 0; c < in; c++) {
                row[c] = w(w, in, rowOffset, k, c);
            }
            if (rightGram) { // WᵀW += w_kᵀ w_k
                for (int i = 0; i < n; i++) {
                    double wi = row[i];
                    for (int j = i; j < n; j++) {
                        g[i * n + j] += wi * row[j];
                    }
                }
            } else { // (WWᵀ)[k][j] = w_k · w_j
                for (int j = k; j < n; j++) {
                    double sum = 0;
                    for (int c = 0; c < in; c++) {
                        sum += row[c] * w(w, in, rowOffset, j, c);
                    }
                    g[k * n + j] = sum;
                }
            }
        }
        for (int i = 0; i < n; i++) {
            for (int j = i + 1; j < n; j++) {
                g[j * n + i] = g[i * n + j];
            }
        }
        double[] vectors = jacobi(g, n); // columns are eigenvectors, g's diagonal the eigenvalues
        Integer[] order = new Integer[n];
        for (int i = 0; i < n; i++) {
            order[i] = i;
        }
        Arrays.sort(order, (p, q) -> Double.compare(g[q * n + q], g[p * n + p]));
        float[] a0 = new float[r * in];
        float[] b0 = new float[out * r];
        double[] sigma = new double[r];
        double rootS = Math.sqrt(s);
        for (int q = 0; q < r; q++) {
            int c = order[q];
            sigma[q] = Math.sqrt(Math.max(g[c * n + c], 0));
            double[] v = new double[n]; // the Gram side's singular vector
            int largest = 0;
            for (int i = 0; i < n; i++) {
                v[i] = vectors[i * n + c];
                if (Math.abs(v[i]) > Math.abs(v[largest])) {
                    largest = i;
                }
            }
            double sign = v[largest] < 0 ? -1 : 1;
            double[] u = new double[m]; // the other side's: W v / σ or Wᵀ u / σ
            for (int j = 0; j < out; j++) {
                for (int col = 0; col < in; col++) {
                    double x = w(w, in, rowOffset, j, col);
                    if (rightGram) {
                        u[j] += x * v[col];
                    } else {
                        u[col] += x * v[j];
                    }
                }
            }
            for (int k = 0; k < m; k++) {
                u[k] = sigma[q] > 0 ? sign * u[k] / sigma[q] : 0;
            }
            double root = Math.sqrt(sigma[q]) / rootS;
            double[] right = rightGram ? v : u;
            double[] left = rightGram ? u : v;
            double rightSign = rightGram ? sign : 1;
            double leftSign = rightGram ? 1 : sign;
            for (int k = 0; k < in; k++) {
                a0[q * in + k] = (float) (rightSign * right[k] * root);
            }
            for (int j = 0; j < out; j++) {
                b0[j * r + q] = (float) (leftSign * left[j] * root);
            }
        }
        return new PrincipalFactors(a0, b0, sigma);
    }

    private static float w(float[] w, int in, int rowOffset, int row, int col) {
        return w[(rowOffset + row) * in + col];
    }

    /**
     * Cyclic Jacobi on the symmetric {@code g} (n, n), in place: on return its diagonal holds the eigenvalues and the
     * returned (n, n) matrix the eigenvectors as columns. Each rotation J (c, s at p, q) makes {@code g ← Jᵀ g J} with
     * g[p][q] = 0 (Golub and Van Loan §8.5): rows p and q are updated where they lie contiguous and mirrored into
     * columns p and q, the diagonal pair by {@code g_pp − t·g_pq}, {@code g_qq + t·g_pq}.
     */
    private static double[] jacobi(double[] g, int n) {
        double[] vt = new double[n * n]; // eigenvectors as rows while rotating (contiguous), transposed at the end
        for (int i = 0; i < n; i++) {
            vt[i * n + i] = 1;
        }
        for (int sweep = 0; sweep < 100; sweep++) {
            double off = 0;
            double diag = 0;
            for (int i = 0; i < n; i++) {
                diag += g[i * n + i] * g[i * n + i];
                for (int j = i + 1; j < n; j++) {
                    off += g[i * n + j] * g[i * n + j];
                }
            }
            if (off <= 1e-30 * diag || off == 0) {
                double[] v = new double[n * n];
                for (int i = 0; i < n; i++) {
                    for (int j = 0; j < n; j++) {
                        v[i * n + j] = vt[j * n + i];
                    }
                }
                return v;
            }
            for (int p = 0; p < n; p++) {
                for (int q = p + 1; q < n; q++) {
                    double gpq = g[p * n + q];
                    if (gpq == 0) {
                        continue;
                    }
                    // the angle that zeroes g[p][q]: θ = (g_qq − g_pp) / (2 g_pq), t = tan of the smaller root
                    double theta = (g[q * n + q] - g[p * n + p]) / (2 * gpq);
                    double t = theta == 0 ? 1 : Math.signum(theta) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
                    double c = 1 / Math.sqrt(t * t + 1);
                    double sn = t * c;
                    for (int k = 0; k < n; k++) {
                        if (k == p || k == q) {
                            continue;
                        }
                        double gpk = g[p * n + k];
                        double gqk = g[q * n + k];
                        double np = c * gpk - sn * gqk;
                        double nq = sn * gpk + c * gqk;
                        g[p * n + k] = np;
                        g[q * n + k] = nq;
                        g[k * n + p] = np;
                        g[k * n + q] = nq;
                    }
                    g[p * n + p] -= t * gpq;
                    g[q * n + q] += t * gpq;
                    g[p * n + q] = 0;
                    g[q * n + p] = 0;
                    for (int k = 0; k < n; k++) { // v ← v J, on the rows of vt
                        double vp = vt[p * n + k];
                        double vq = vt[q * n + k];
                        vt[p * n + k] = c * vp - sn * vq;
                        vt[q * n + k] = sn * vp + c * vq;
                    }
                }
            }
        }
        throw new IllegalStateException("Jacobi eigen-decomposition did not converge in 100 sweeps (n " + n + ")");
    }
}
