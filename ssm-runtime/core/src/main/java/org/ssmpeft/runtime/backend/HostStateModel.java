package org.ssmpeft.runtime.backend;

/**
 * A model whose backend computes on the host, so its recurrent state is a {@link HostState} owned by it (cpu, djl on
 * PyTorch's CPU build). The state handling such backends share is written once here.
 */
public interface HostStateModel extends SsmModel {

    @Override
    default HostState newState(int batch) {
        return HostState.zeros(shape(), batch, backend());
    }

    @Override
    default HostState importState(HostState host) {
        return host.importedBy(backend(), shape());
    }

    /**
     * {@code state} as this backend's host state for a call on {@code batch} rows; fails naming the owner, the shape
     * or the batch that does not fit, and how to fix it.
     */
    default HostState own(SsmState state, int batch) {
        if (!(state instanceof HostState h)) {
            throw new IllegalArgumentException(HostState.ownerMessage(state, backend()));
        }
        return h.requireFits(backend(), shape(), batch);
    }
}
