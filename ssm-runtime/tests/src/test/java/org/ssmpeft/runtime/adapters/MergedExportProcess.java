package org.ssmpeft.runtime.adapters;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.ssmpeft.runtime.checkpoint.MambaConfig;
import org.ssmpeft.runtime.checkpoint.MambaInit;
import org.ssmpeft.runtime.checkpoint.MambaWeights;
import org.ssmpeft.runtime.io.CrashPoints;

/**
 * The child of {@link MergedExportKillTest}: exports merged models ({@link LoraMerge#export}) version after version
 * into one folder, printing {@code saved V} after each. Version v has 1 + v % 2 layers (so the weights of one version
 * beside the config of another do not load) and every float equal to v.
 */
public final class MergedExportProcess {

    private MergedExportProcess() {
    }

    static MambaWeights version(int v) {
        MambaWeights w = MambaInit.initialise(MambaConfig.of(64, 32, 4, 1 + v % 2), 1);
        return w.with((name, a) -> {
            float[] b = new float[a.length];
            Arrays.fill(b, v);
            return b;
        });
    }

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args[0]);
        int first = Integer.parseInt(args[1]);
        MambaWeights[] both = {version(first), version(first + 1)};
        if (Integer.parseInt(args[2]) > 0) {
            CrashPoints.haltAt(Integer.parseInt(args[2]));
        }
        for (int v = first; ; v++) {
            int version = v;
            MambaWeights w = both[(v - first) % 2].with((name, a) -> {
                Arrays.fill(a, version);
                return a;
            });
            LoraMerge.export(w, List.of(), dir);
            System.out.println("saved " + v);
            System.out.flush();
        }
    }
}
