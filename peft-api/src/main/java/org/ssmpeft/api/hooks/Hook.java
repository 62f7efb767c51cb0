package org.ssmpeft.api.hooks;

import java.util.EnumSet;
import java.util.Set;

/**
 * A hook point an adapter feeds. An adapter implements only the hook interfaces it uses (JUnit-extension style);
 * a backend asks each active adapter {@code instanceof StateOffsetHook} and so on, adds up the contributions of all
 * adapters to the same hook, and computes the gradient with respect to every tensor a hook handed it.
 *
 * <p>Tensors returned by hooks are the adapter's own parameter tensors (or tensors derived from them, see
 * {@link org.ssmpeft.api.adapter.Adapter#parameterGradients}); a backend must not write to them.
 */
public sealed interface Hook permits InputHook, InitialStateHook, StateOffsetHook, OutputOffsetHook, ProjectionHook,
        ParameterHook, StateExtensionHook {

    /** The hook kinds an object feeds, from the interfaces it implements. */
    static Set<HookKind> kindsOf(Object adapter) {
        Set<HookKind> kinds = EnumSet.noneOf(HookKind.class);
        for (HookKind k : HookKind.values()) {
            if (k.type().isInstance(adapter)) {
                kinds.add(k);
            }
        }
        return kinds;
    }
}
