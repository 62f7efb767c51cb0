package org.ssmpeft.runtime.cpu;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.concurrent.ForkJoinPool;
import org.junit.jupiter.api.Test;
import org.ssmpeft.runtime.checkpoint.MambaCheckpoint;
import org.ssmpeft.runtime.contract.BackendContract;
import org.ssmpeft.runtime.fixtures.Fixtures;

/** The cpu backend passes the whole backend contract; and its thread count does not change a result. */
class CpuBackendTest extends BackendContract {

    @Override
    protected String backend() {
        return CpuBackendProvider.NAME;
    }

    /** The one pass sums every row of every product in a fixed order (MixedAdapterBatchTest has more cases). */
    @Override
    protected boolean mixedBatchesExact() {
        return true;
    }

    @Test
    void aSingleThreadedPoolGivesTheSameLogitsBitForBit() throws Exception {
        var weights = MambaCheckpoint.load(Fixtures.mambaTiny());
        int[][] tokens = {{1, 2, 3, 4, 5, 6, 7, 8}, {9, 8, 7, 6, 5, 4, 3, 2}};
        var pool = new ForkJoinPool(1);
        try {
            float[] serial = new CpuMamba(weights, pool).forward(tokens).logits();
            float[] parallel = new CpuMamba(weights).forward(tokens).logits();
            assertThat(serial).isEqualTo(parallel);
        } finally {
            pool.shutdown();
        }
    }
}
