package org.ssmpeft.api.composition;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.ssmpeft.api.adapter.Adapter;
import org.ssmpeft.api.hooks.InputHook;

/**
 * The one check of which adapters may act together. Everything that combines adapters goes through it:
 * {@link AdapterSet} (add, activate, enable), {@link AdapterFactory#create(List, org.ssmpeft.api.shape.ModelShape,
 * long)} (what {@code peft train} uses, before any adapter is allocated) and
 * {@link AdapterFactory#compositionProblems} (what {@code peft config validate} reports). It looks only at what an
 * adapter is ({@link Member}), which a config already tells ({@link org.ssmpeft.api.spi.PeftMethodProvider#inputPlacement}),
 * so a config file and the adapters made from it are refused by the same rule with the same message.
 *
 * <p>The rule: at most one acting {@link InputHook} per {@link InputHook.Placement}. Virtual-token sequences do not
 * add up, and the order in which two prompts would be concatenated is not something a sum can express. Everything
 * else composes (offsets, initial states, low-rank and parameter deltas add up; state extensions concatenate).
 * Unique names are checked where names are given: by {@link AdapterSet#add} and by the config reader.
 */
public final class Composition {

    private Composition() {
    }

    /**
     * What composition needs to know of one adapter: its name, and where it prepends virtual tokens (empty when it
     * feeds no {@link InputHook}).
     */
    public record Member(String name, Optional<InputHook.Placement> input) {
    }

    /** The member an adapter is. */
    public static Member of(Adapter adapter) {
        return new Member(adapter.name(), adapter instanceof InputHook in ? Optional.of(in.placement())
                : Optional.empty());
    }

    /** Why these adapters cannot act together, one message per conflict; empty when they can. */
    public static List<String> problems(List<Member> acting) {
        List<String> problems = new ArrayList<>();
        Map<InputHook.Placement, String> inputs = new LinkedHashMap<>();
        for (Member m : acting) {
            if (m.input().isPresent()) {
                InputHook.Placement placement = m.input().get();
                String other = inputs.putIfAbsent(placement, m.name());
                if (other != null) {
                    problems.add("adapters '" + other + "' and '" + m.name() + "' both prepend virtual tokens at the "
                            + placement.name().toLowerCase(java.util.Locale.ROOT) + " input; virtual-token"
                            + " sequences do not add up, so only one of them can act at a time (disable or"
                            + " deactivate one, or keep one of them in the config)");
                }
            }
        }
        return problems;
    }

    /** Refuses, with every conflict in the message, adapters that cannot act together. */
    public static void check(List<Member> acting) {
        List<String> problems = problems(acting);
        if (!problems.isEmpty()) {
            throw new CompositionException(String.join("; ", problems));
        }
    }
}
