package org.ssmpeft.runtime.cuda.model;

import java.util.LinkedHashMap;
import java.util.Map;
import org.ssmpeft.api.tensor.Tensor;
import org.ssmpeft.runtime.checkpoint.LanguageModelWeights;
import org.ssmpeft.runtime.checkpoint.MambaWeights;

/**
 * A Mamba-1 model's base weights on the device, uploaded once and resident until {@link #close}: every parameter
 * under its Hugging Face name (a tied head is the embedding's buffer, as in {@link MambaWeights#parameters()}), and
 * per layer A = -exp(A_log) (D, N), computed once on the device. The arrays of the spec are read, never written.
 */
final class DeviceWeights implements AutoCloseable {

    private final DeviceMemory.Arena arena;
    private final Map<String, Long> byName = new LinkedHashMap<>();
    private final long[] negA;
    private final boolean tied;

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
