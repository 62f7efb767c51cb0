package org.ssmpeft.runtime.backend;

import java.util.Map;
import org.ssmpeft.api.shape.ModelFamily;
import org.ssmpeft.api.shape.ModelShape;
import org.ssmpeft.api.tensor.Tensor;

/**
 * What a backend needs to build a model, whatever the family: the family (its block definition, DESIGN.md §3),
 * the dimensions adapters are sized from, and every parameter under its Hugging Face name. A family's weights type
 * implements it ({@link org.ssmpeft.runtime.checkpoint.MambaWeights} for Mamba-1); a backend creates a model from the
 * families it implements and refuses the others by name ({@link BackendProvider#create}).
 */
public interface ModelSpec {

    /** The block definition this model uses. */
    ModelFamily family();

    /** Dimensions of the model (layers, widths, state size, vocab). */
    ModelShape shape();

    /**
     * Every parameter under its Hugging Face name, in checkpoint order; a tied head is not listed separately (it is
     * the embedding). These are the names parameter hooks and trainers use.
     */
    Map<String, Tensor> parameters();

    /** Whether the head shares the embedding's matrix. */
    boolean tiedHead();

    /**
     * The arithmetic of the model's matrix products ({@link Precision}); float32 unless asked otherwise. A backend
     * that cannot honour it refuses the model ({@link BackendProvider#create}).
     */
    default Precision precision() {
        return Precision.FLOAT32;
    }

    /**
     * The same model with products in {@code precision} (the weights shared, not copied). The families' weights
     * implement it; a spec that cannot carry a precision answers itself for its own and fails for any other.
     */
    default ModelSpec withPrecision(Precision precision) {
        if (precision == precision()) {
            return this;
        }
        throw new UnsupportedOperationException(getClass().getName() + " (" + describe() + ") cannot carry the"
                + " precision " + precision + "; build the model from its family's weights (MambaWeights, ...)");
    }

    /** One line for messages: family and dimensions. */
    default String describe() {
        return shape().describe();
    }
}
