package org.ssmpeft.examples.cli;

import java.io.PrintWriter;
import java.util.Optional;
import org.ssmpeft.api.shape.ModelFamily;
import org.ssmpeft.runtime.backend.BackendProvider;
import org.ssmpeft.runtime.backend.Backends;
import org.ssmpeft.runtime.backend.ModelSpec;
import org.ssmpeft.runtime.backend.SsmModel;
import picocli.CommandLine.Option;

/**
 * {@code --backend NAME}, shared by every command that computes: the named backend (it must be installed and
 * available), else the best available one for the model's family ({@link Backends#preferred(org.ssmpeft.api.shape.ModelFamily)}: cuda where a GPU answers and it implements the family, else cpu). The
 * command prints which backend ran.
 */
final class BackendOption {

    @Option(names = "--backend", paramLabel = "NAME",
            description = "Compute backend (default: the best available: cuda where a GPU answers, else cpu).")
    String name;

    /** The provider to use for a model of {@code family}; fails naming the installed or available ones. */
    BackendProvider provider(ModelFamily family) {
        return Backends.load().select(Optional.ofNullable(name), family);
    }

    /** The model of {@code spec} on the chosen backend, with a line saying which backend runs it. */
    SsmModel create(ModelSpec spec, PrintWriter out) {
        BackendProvider p = provider(spec.family());
        SsmModel m = p.create(spec);
        out.printf("backend: %s (float32%s)%n", m.backend(), name == null ? ", the best available" : "");
        return m;
    }
}
