package org.ssmpeft.runtime.contract;

import java.util.List;
import java.util.Set;
import org.ssmpeft.api.composition.AdapterSet;
import org.ssmpeft.runtime.backend.HostState;
import org.ssmpeft.runtime.backend.Logits;
import org.ssmpeft.runtime.backend.LossAndGradients;
import org.ssmpeft.runtime.backend.ModelSpec;
import org.ssmpeft.runtime.backend.SsmModel;
import org.ssmpeft.runtime.backend.SsmState;

/**
 * A model that forwards every call to another one: tests override the calls they count, poison or mutate (Guava's
 * {@code ForwardingObject} pattern), so the delegation is written once.
 */
public abstract class ForwardingModel implements SsmModel {

    protected final SsmModel inner;

    protected ForwardingModel(SsmModel inner) {
        this.inner = inner;
    }

    @Override
    public String backend() {
        return inner.backend();
    }

    @Override
    public ModelSpec spec() {
        return inner.spec();
    }

    @Override
    public SsmState newState(int batch) {
        return inner.newState(batch);
    }

    @Override
    public SsmState importState(HostState host) {
        return inner.importState(host);
    }

    @Override
    public Logits forward(int[][] tokens, AdapterSet adapters, SsmState state) {
        return inner.forward(tokens, adapters, state);
    }

    @Override
    public List<float[]> hiddenStates(int[][] tokens, AdapterSet adapters) {
        return inner.hiddenStates(tokens, adapters);
    }

    @Override
    public float[] step(int[] tokens, AdapterSet adapters, SsmState state) {
        return inner.step(tokens, adapters, state);
    }

    @Override
    public double loss(int[][] tokens, int[][] labels, AdapterSet adapters) {
        return inner.loss(tokens, labels, adapters);
    }

    @Override
    public LossAndGradients lossAndGradients(int[][] tokens, int[][] labels, AdapterSet adapters,
                                             Set<String> trainableBaseNames) {
        return inner.lossAndGradients(tokens, labels, adapters, trainableBaseNames);
    }
}
