package org.ssmpeft.runtime.cuda.model;

/**
 * The rows of one block: B sequences of L positions, M = B·L residual rows; with a prefix of n virtual tokens
 * Lx = n + L and Mx = B·Lx rows inside the mixer (else Lx = L). The cpu's {@code CpuLanguageModel.Rows}.
 */
record Rows(int batch, int len, int prefix) {

    int m() {
        return Math.multiplyExact(batch, len);
    }

    int lx() {
        return len + prefix;
    }

    int mx() {
        return Math.multiplyExact(batch, lx());
    }
}
