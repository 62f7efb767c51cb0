package org.ssmpeft.runtime.cuda.model;

import java.util.HashMap;
import java.util.Map;
import org.ssmpeft.runtime.backend.Precision;

/**
 * One model's matrix products in its own precision ({@link org.ssmpeft.runtime.backend.ModelSpec#precision()}), on
 * the device's raw products of that precision ({@link Device#linear}): the device may be shared by models of
 * different precisions, so the choice and the bf16 copies live here, per model. Every operand the model passes is
 * float32, as {@link ProductOps} says.
 * <ul>
 *   <li>fp32 and tf32: the raw products themselves (tf32 rounds the fp32 operands inside cuBLAS);</li>
 *   <li>bf16 (autocast): both inputs of every product rounded to bf16, fp32 accumulate and output. A weight is the
 *       resident bf16 copy made once when the model was built ({@link DeviceWeights#bf16}) where it is a base
 *       matrix, else converted once per call and kept for the call (θ_base + ΣΔθ, LoRA factors, extension maps:
 *       constant during a call); an activation or an output gradient is converted into scratch right before its
 *       product. A bf16 copy is contiguous, so the product reads it with row stride = its width.</li>
 * </ul>
 * Conversions and products queue on the one stream in order, so a scratch buffer is reused product after product;
 * it grows in the call's arena ({@link #begin}) and goes back with it ({@link #end}). Used under the device lock.
 */
final class ModelProducts implements ProductOps {

    private final Precision precision;
    private final ProductOps raw;
    private final LayerOps layers;
    private final DeviceWeights weights;

    // per call (bf16): the arena, two scratch slots (first and second input), weight copies by fp32 address
    private DeviceMemory.Arena call;
    private final long[] scratch = new long[2];
    private final long[] capacity = new long[2];
    private final Map<Long, Long> callCopies = new HashMap<>();

    ModelProducts(Precision precision, Device device, DeviceWeights weights) {
        this.precision = precision;
        this.raw = device.linear(precision);
        this.layers = device.layers();
        this.weights = weights;
    }

    Precision precision() {
        return precision;
    }

    /** A call starts: its scratch and per-call weight copies come from {@code arena}. */
    void begin(DeviceMemory.Arena arena) {
        call = arena;
        callCopies.clear();
        capacity[0] = capacity[1] = 0;
    }

    /** The call ended: its arena (and with it the scratch and copies) is being closed. */
    void end() {
        call = null;
        callCopies.clear();
        capacity[0] = capacity[1] = 0;
    }

    private boolean bf16() {
        return precision == Precision.BF16;
    }

    // x (rows, cols) row stride ld -> bf16 contiguous in scratch slot `slot`
    private long activation(int slot, long x, int ld, int rows, int cols) {
        long n = (long) rows * cols;
        if (capacity[slot] < n) {
            scratch[slot] = arena().bf16(Math.max(n, 1));
            capacity[slot] = Math.max(n, 1);
        }
        layers.toBf16(scratch[slot], x, ld, rows, cols);
        return scratch[slot];
    }

    // W (out, in) contiguous fp32 -> its bf16 copy: the resident one of a base matrix, else one made for this call
    private long weight(long w, int out, int in) {
        long resident = weights.bf16(w, (long) out * in);
        if (resident != 0) {
            return resident;
        }
        Long copy = callCopies.get(w);
        if (copy == null) {
            copy = arena().bf16(Math.max(1, (long) out * in));
            layers.toBf16(copy, w, in, out, in);
            callCopies.put(w, copy);
        }
        return copy;
    }

    private DeviceMemory.Arena arena() {
        if (call == null) {
            throw new IllegalStateException("a bf16 product outside a call (no arena for its operands)");
        }
        return call;
    }

    @Override
    public void forward(long y, int ldy, long x, int ldx, long w, long b, int m, int in, int out) {
        if (!bf16() || m == 0 || in == 0 || out == 0) {
            raw.forward(y, ldy, x, ldx, w, b, m, in, out); // also the empty cases: the raw checks and fills
            return;
        }
        raw.forward(y, ldy, activation(0, x, ldx, m, in), in, weight(w, out, in), b, m, in, out);
    }

    @Override
    public void forwardAdd(long y, int ldy, long x, int ldx, long w, float scale, int m, int in, int out) {
        if (!bf16() || m == 0 || in == 0 || out == 0) {
            raw.forwardAdd(y, ldy, x, ldx, w, scale, m, in, out);
            return;
        }
        raw.forwardAdd(y, ldy, activation(0, x, ldx, m, in), in, weight(w, out, in), scale, m, in, out);
    }

    @Override
    public void backwardInput(long dx, int lddx, long dy, int lddy, long w, float scale, int m, int in, int out,
                              boolean accumulate) {
        if (!bf16() || m == 0 || in == 0 || out == 0) {
            raw.backwardInput(dx, lddx, dy, lddy, w, scale, m, in, out, accumulate);
            return;
        }
        raw.backwardInput(dx, lddx, activation(0, dy, lddy, m, out), out, weight(w, out, in), scale, m, in, out,
                accumulate);
    }

    @Override
    public void backwardWeight(long dw, long dy, int lddy, long x, int ldx, float scale, int m, int in, int out) {
        if (!bf16() || m == 0 || in == 0 || out == 0) {
            raw.backwardWeight(dw, dy, lddy, x, ldx, scale, m, in, out);
            return;
        }
        raw.backwardWeight(dw, activation(0, dy, lddy, m, out), out, activation(1, x, ldx, m, in), in, scale, m, in,
                out);
    }

    /** A column sum, no product: fp32 in every precision. */
    @Override
    public void backwardBias(long db, long dy, int lddy, int m, int out) {
        raw.backwardBias(db, dy, lddy, m, out);
    }
}
