package org.ssmpeft.runtime.cuda.model;

import java.util.LinkedHashMap;
import java.util.Map;
import org.ssmpeft.api.tensor.Tensor;
import org.ssmpeft.runtime.backend.Precision;
import org.ssmpeft.runtime.checkpoint.LanguageModelWeights;
import org.ssmpeft.runtime.checkpoint.MambaWeights;

/**
 * A Mamba-1 model's base weights on the device, uploaded once and resident until {@link #close}: every parameter
 * under its Hugging Face name (a tied head is the embedding's buffer, as in {@link MambaWeights#parameters()}), and
 * per layer A = -exp(A_log) (D, N), computed once on the device. The arrays of the spec are read, never written.
 * A bf16 model also keeps a bf16 copy of every matrix its products read (in_proj, x_proj, dt_proj, out_proj per
 * layer, the head: the embedding's when tied), made once here; the fp32 buffers stay the master weights (the
 * embedding lookup, the effective weights θ_base + ΣΔθ and the gradients start from them).
 */
final class DeviceWeights implements AutoCloseable {

    private final DeviceMemory.Arena arena;
    private final Map<String, Long> byName = new LinkedHashMap<>();
    private final long[] negA;
    private final boolean tied;
    // fp32 address -> (bf16 copy, elements) of the matrices bf16 products read
    private final java.util.TreeMap<Long, long[]> bf16 = new java.util.TreeMap<>();

    DeviceWeights(Device device, MambaWeights weights) {
        this.arena = device.memory().arena();
        this.tied = weights.tiedHead();
        try {
            for (Map.Entry<String, Tensor> e : weights.parameters().entrySet()) {
                float[] v = e.getValue().data();
                long at = arena.floats(v.length);
                device.memory().upload(at, v);
                byName.put(e.getKey(), at);
            }
            int layers = weights.config().layers();
            int dn = weights.config().dInner() * weights.config().dState();
            negA = new long[layers];
            for (int l = 0; l < layers; l++) {
                negA[l] = arena.floats(dn);
                device.layers().negExp(negA[l], address(LanguageModelWeights.layerName(l, "mixer.A_log")), dn);
            }
            if (weights.precision() == Precision.BF16) {
                Map<String, Tensor> params = weights.parameters();
                java.util.List<String> matrices = new java.util.ArrayList<>();
                for (int l = 0; l < layers; l++) {
                    for (String module : DevicePlan.MODULES) {
                        matrices.add(LanguageModelWeights.layerName(l, "mixer." + module + ".weight"));
                    }
                }
                matrices.add(tied ? LanguageModelWeights.EMBEDDING : LanguageModelWeights.LM_HEAD);
                for (String name : matrices) {
                    int[] shape = params.get(name).shape();
                    int rows = shape[0];
                    int cols = shape[1];
                    long n = (long) rows * cols;
                    long copy = arena.bf16(n);
                    device.layers().toBf16(copy, address(name), cols, rows, cols);
                    bf16.put(address(name), new long[] {copy, n});
                }
            }
        } catch (RuntimeException | Error e) {
            arena.close();
            throw e;
        }
    }

    /** The device address of a base parameter by Hugging Face name; {@code lm_head.weight} of a tied head is the
     * embedding's; 0 for a parameter the model does not have (an absent bias). */
    long address(String name) {
        if (tied && name.equals(LanguageModelWeights.LM_HEAD)) {
            name = LanguageModelWeights.EMBEDDING;
        }
        Long at = byName.get(name);
        return at == null ? 0 : at;
    }

    /**
     * The bf16 copy of the {@code n} elements of a base matrix at fp32 address {@code address} (a matrix's start or
     * a row inside it, as DoRA's rows), or 0 when that is no part of a copied matrix (a call's own weights).
     */
    long bf16(long address, long n) {
        var e = bf16.floorEntry(address);
        if (e == null) {
            return 0;
        }
        long offset = address - e.getKey();
        if (offset % 4 != 0 || offset / 4 + n > e.getValue()[1]) {
            return 0;
        }
        return e.getValue()[0] + 2 * (offset / 4);
    }

    /** Whether the head is the embedding's matrix. */
    boolean tied() {
        return tied;
    }

    /** Base layer {@code l}'s A = -exp(A_log) (D, N). */
    long negA(int l) {
        return negA[l];
    }

    /** Bytes held on the device. */
    long bytes() {
        return arena.bytes();
    }

    @Override
    public void close() {
        arena.close();
    }
}
