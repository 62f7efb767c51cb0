package org.ssmpeft.examples.cli;

import java.io.PrintWriter;
import java.util.Optional;
import org.ssmpeft.api.shape.ModelFamily;
import org.ssmpeft.runtime.backend.BackendProvider;
import org.ssmpeft.runtime.backend.Backends;
import org.ssmpeft.runtime.backend.ModelSpec;
import org.ssmpeft.runtime.backend.Precision;
import org.ssmpeft.runtime.backend.SsmModel;
import picocli.CommandLine.Option;

/**
 * {@code --backend NAME} and {@code --precision fp32|tf32|bf16}, shared by every command that computes: the named
 * backend (it must be installed and available), else the best available one for the model's family
 * ({@link Backends#preferred(org.ssmpeft.api.shape.ModelFamily)}: cuda where a GPU answers and it implements the
 * family, else cpu), building the model with its matrix products in the precision asked ({@link Precision}; a backend
 * that cannot honour it refuses, naming what it offers). The command prints which backend ran, in which precision.
 */
final class BackendOption {

    @Option(names = "--backend", paramLabel = "NAME",
            description = "Compute backend (default: the best available: cuda where a GPU answers, else cpu).")
    String name;

    @Option(names = "--precision", paramLabel = "fp32|tf32|bf16", defaultValue = "fp32",
            converter = PrecisionConverter.class,
            description = "Arithmetic of the model's matrix products: fp32 (default), tf32, or bf16 (autocast: both"
                    + " inputs of each product rounded to bf16; scan state, weights, gradients and optimizer state"
                    + " stay float32). cpu and djl compute fp32 only; cuda all three.")
    Precision precision = Precision.FLOAT32;

    /** Parses with {@link Precision#forName}, whose message lists the valid names. */
    static final class PrecisionConverter implements picocli.CommandLine.ITypeConverter<Precision> {
        @Override
        public Precision convert(String value) {
            try {
                return Precision.forName(value);
            } catch (IllegalArgumentException e) {
                throw new picocli.CommandLine.TypeConversionException(e.getMessage());
            }
        }
    }

    /** The provider to use for a model of {@code family}; fails naming the installed or available ones. */
    BackendProvider provider(ModelFamily family) {
        return Backends.load().select(Optional.ofNullable(name), family);
    }

    /**
     * The model of {@code spec} on the chosen backend in the chosen precision, with a line saying which backend runs
     * it, in which precision.
     */
    SsmModel create(ModelSpec spec, PrintWriter out) {
        BackendProvider p = provider(spec.family());
        SsmModel m = p.create(spec.withPrecision(precision));
        out.printf("backend: %s (precision %s%s)%n", m.backend(), describe(precision),
                name == null ? ", the best available backend" : "");
        return m;
    }

    /** The precision as reports print it: {@code fp32}, {@code tf32 products}, {@code bf16 products (autocast)}. */
    static String describe(Precision p) {
        return switch (p) {
            case FLOAT32 -> "fp32";
            case TF32 -> "tf32 products, fp32 elsewhere";
            case BF16 -> "bf16 products (autocast), fp32 elsewhere";
        };
    }
}
