package org.ssmpeft.runtime.backend;

import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * The arithmetic of a model's matrix products, an option of the model ({@link ModelSpec#precision()}): everything
 * else (norms, conv, scan and its state, cross-entropy, gradients, weights and adapter parameters, the optimizer)
 * stays float32 in every mode. A backend that cannot honour a precision refuses the model when it is built
 * ({@link BackendProvider#precisions()}).
 * <ul>
 *   <li>{@link #FLOAT32} {@code fp32}: true float32 products (the default; what cpu and djl compute);</li>
 *   <li>{@link #TF32} {@code tf32}: float32 operands rounded to TF32 (10-bit mantissa) by the tensor cores, float32
 *       accumulate and output;</li>
 *   <li>{@link #BF16} {@code bf16}: autocast, as {@code torch.autocast(dtype=torch.bfloat16)} does for matmuls: both
 *       inputs of every product (weights, activations, output gradients) rounded to bfloat16, float32 accumulate
 *       and output; the float32 master weights stay the ones trained.</li>
 * </ul>
 */
public enum Precision {
    FLOAT32("fp32"), TF32("tf32"), BF16("bf16");

    private final String id;

    Precision(String id) {
        this.id = id;
    }

    /** The name configurations and the command line use: {@code fp32}, {@code tf32}, {@code bf16}. */
    public String id() {
        return id;
    }

    /** The precision named {@code text} (its id, case-insensitive); fails listing the valid names. */
    public static Precision forName(String text) {
        String t = text == null ? "" : text.strip().toLowerCase(Locale.ROOT);
        for (Precision p : values()) {
            if (p.id.equals(t)) {
                return p;
            }
        }
        throw new IllegalArgumentException("unknown precision '" + text + "'; valid: " + names());
    }

    /** The valid names, comma-separated: {@code fp32, tf32, bf16}. */
    public static String names() {
        return Arrays.stream(values()).map(Precision::id).collect(Collectors.joining(", "));
    }

    @Override
    public String toString() {
        return id;
    }
}
