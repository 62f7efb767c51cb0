package org.ssmpeft.runtime.adapters;

import java.nio.file.Path;
import java.util.Arrays;
import org.ssmpeft.api.adapter.Adapter;
import org.ssmpeft.api.config.LayerSelection;
import org.ssmpeft.api.shape.ModelShape;
import org.ssmpeft.api.tensor.Tensor;
import org.ssmpeft.stateoffset.StateInit;
import org.ssmpeft.stateoffset.StateOffsetConfig;

/**
 * The child of {@link AdapterSaveKillTest}: saves versions first, first + 1, ... of a state-offset adapter of
 * Mamba-130M's shape (every parameter equal to the version number, 2.4 MB of weights) into one folder, printing
 * {@code saved V} after each save returns, until it is killed.
 */
public final class AdapterSaveProcess {

    private AdapterSaveProcess() {
    }

    static Adapter adapter(float version) {
        Adapter a = TinyAdapters.adapter("kill", "state-offset", LayerSelection.ALL,
                new StateOffsetConfig(StateOffsetConfig.Variant.H, StateInit.ZERO), 1,
                ModelShape.requirePreset("mamba-130m"));
        for (Tensor t : a.parameters().values()) {
            Arrays.fill(t.data(), version);
        }
        a.refreshDerived();
        return a;
    }

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args[0]);
        int first = Integer.parseInt(args[1]);
        Adapter a = adapter(first);
        for (int v = first; ; v++) {
            for (Tensor t : a.parameters().values()) {
                Arrays.fill(t.data(), v);
            }
            AdapterFiles.save(a, dir);
            System.out.println("saved " + v);
            System.out.flush();
        }
    }
}
