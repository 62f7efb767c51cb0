package org.ssmpeft.runtime.cuda.ssd;

/**
 * Sizes of one Mamba-2 SSD scan: batch rows B, time steps L, H heads of P channels (D = H·P), G groups of B/C (H a
 * multiple of G; head h reads group h / (H/G)), N states, chunk length Q.
 */
public record SsdShape(int batch, int len, int heads, int headDim, int groups, int states, int chunk) {

    /** The largest chunk the kernels take (the chunk's decays and C·B rows are staged per block). */
    public static final int MAX_CHUNK = 256;

    public SsdShape {
        if (batch < 1 || len < 1 || heads < 1 || headDim < 1 || groups < 1 || states < 1 || chunk < 1) {
            throw new IllegalArgumentException("ssd shape: batch " + batch + ", length " + len + ", heads " + heads
                    + ", head dim " + headDim + ", groups " + groups + ", states " + states + ", chunk " + chunk
                    + " (each at least 1)");
        }
        if (heads % groups != 0) {
            throw new IllegalArgumentException("ssd shape: " + heads + " heads are not a multiple of " + groups
                    + " groups");
        }
        if (chunk > MAX_CHUNK) {
            throw new IllegalArgumentException("ssd shape: chunk " + chunk + " above the kernels' " + MAX_CHUNK);
        }
    }

    public int dInner() {
        return heads * headDim;
    }

    public int chunks() {
        return (len + chunk - 1) / chunk;
    }

    /** Floats of the chunk input states (B, chunks, H, P, N): the forward's checkpoints. */
    public long checkpointFloats() {
        return (long) batch * chunks() * heads * headDim * states;
    }
}
