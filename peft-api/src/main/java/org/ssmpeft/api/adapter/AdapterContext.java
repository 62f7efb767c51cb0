package org.ssmpeft.api.adapter;

import java.util.Objects;
import org.ssmpeft.api.config.LayerSelection;
import org.ssmpeft.api.shape.ModelShape;

/**
 * What an adapter is created from: its instance name, the method that made it, its typed config, the model shape it
 * is sized for and the layers it acts on (already checked against the shape).
 */
public record AdapterContext<C extends Record>(String name, String method, C config, ModelShape shape,
                                               LayerSelection layers) {

    public AdapterContext {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(method, "method");
        Objects.requireNonNull(config, "config");
        Objects.requireNonNull(shape, "shape");
        Objects.requireNonNull(layers, "layers");
        layers.outOfRange(shape.layers()).ifPresent(m -> {
            throw new IllegalArgumentException("adapter '" + name + "': " + m);
        });
    }

    /** The selected layers, ascending. */
    public int[] layerIndices() {
        return layers.resolve(shape.layers());
    }

    public boolean selects(int layer) {
        for (int l : layerIndices()) {
            if (l == layer) {
                return true;
            }
        }
        return false;
    }
}
