package org.ssmpeft.runtime.safetensors;

import java.nio.file.Path;
import java.util.Arrays;

/**
 * The check that weights hold no NaN or ±Inf, shared by every loader of weights (base checkpoints, adapter folders,
 * through {@link SafetensorsFile#readFiniteFloats}). A non-finite weight is never what was trained: loading it would
 * only move the report to a NaN loss at the first step, blamed on the learning rate. The refusal names the file, the
 * tensor, how many values are bad, the first one's index and value.
 */
public final class FiniteValues {

    private FiniteValues() {
    }

    /**
     * Fails if {@code values} (the float32 contents of {@code tensor} in {@code file}) hold a NaN or an infinity. One
     * pass, no allocation when all are finite.
     */
    public static void check(Path file, TensorInfo tensor, float[] values) throws SafetensorsException {
        int first = -1;
        long bad = 0;
        for (int i = 0; i < values.length; i++) {
            if (!Float.isFinite(values[i])) {
                if (first < 0) {
                    first = i;
                }
                bad++;
            }
        }
        if (first < 0) {
            return;
        }
        float v = values[first];
        String kind = Float.isNaN(v) ? "NaN" : v > 0 ? "+Inf" : "-Inf";
        long[] shape = tensor.shape();
        String where = shape.length > 1 ? " " + Arrays.toString(unravel(first, shape)) + " of shape "
                + tensor.shapeString() : "";
        String conversion = tensor.dtype() == DType.F64 && !Float.isNaN(v)
                ? " (an F64 value beyond float32's range)" : "";
        throw SafetensorsException.inTensor(file, tensor.name(), "holds " + bad + " non-finite value"
                + (bad == 1 ? "" : "s") + " of " + values.length + ", the first " + kind + conversion + " at index "
                + first + where + "; weights must be finite (the file is corrupt, or was saved from a run that"
                + " diverged)");
    }

    /** The row-major multi-index of flat index {@code i}. */
    private static long[] unravel(long i, long[] shape) {
        long[] out = new long[shape.length];
        for (int d = shape.length - 1; d >= 0; d--) {
            out[d] = i % shape[d];
            i /= shape[d];
        }
        return out;
    }
}
