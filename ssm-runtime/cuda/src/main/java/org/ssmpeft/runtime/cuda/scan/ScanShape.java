package org.ssmpeft.runtime.cuda.scan;

/** Sizes of one scan: batch rows, time steps, channels D (d_inner), base states N and extension states n'. */
public record ScanShape(int batch, int len, int channels, int states, int extStates) {

    public ScanShape {
        if (batch < 1 || len < 1 || channels < 1 || states < 1 || extStates < 0) {
            throw new IllegalArgumentException("scan shape: batch " + batch + ", length " + len + ", channels "
                    + channels + ", states " + states + ", extension states " + extStates
                    + " (each at least 1; the extension at least 0)");
        }
        if (states + extStates > SelectiveScanKernels.MAX_STATES) {
            throw new IllegalArgumentException("the cuda scan holds at most " + SelectiveScanKernels.MAX_STATES
                    + " state dimensions per channel (N + n'); asked for " + states + " + " + extStates);
        }
    }

    public int totalStates() {
        return states + extStates;
    }
}
