package org.ssmpeft.runtime.djl;

import org.ssmpeft.runtime.contract.BackendContract;

/**
 * The djl reference backend passes the whole backend contract; under {@code CI=true} it must run (PyTorch's native
 * library ships with the build), so a native library that does not load fails the build instead of skipping.
 */
class DjlBackendTest extends BackendContract {

    @Override
    protected String backend() {
        return DjlBackendProvider.NAME;
    }
}
