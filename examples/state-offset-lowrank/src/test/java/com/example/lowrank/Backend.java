package com.example.lowrank;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import org.ssmpeft.runtime.backend.BackendProvider;
import org.ssmpeft.runtime.backend.Backends;
import org.ssmpeft.runtime.backend.SsmModel;

/** The tiny model on one installed backend; a test of a backend that cannot run here is skipped, not passed. */
record Backend(SsmModel model) implements AutoCloseable {

    static Backend open(String name) {
        BackendProvider p = Backends.forName(name);
        assumeTrue(p.isAvailable(), () -> "backend " + name + " unavailable: " + p.unavailableReason().orElse("?"));
        return new Backend(p.create(TinyMamba.WEIGHTS));
    }

    /** Frees native copies of backends that hold them (djl). */
    @Override
    public void close() {
        if (model instanceof AutoCloseable c) {
            try {
                c.close();
            } catch (Exception e) {
                throw new IllegalStateException("closing the " + model.backend() + " model failed", e);
            }
        }
    }
}
