package org.ssmpeft.api.composition;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;
import org.ssmpeft.api.adapter.Adapter;
import org.ssmpeft.api.hooks.Hook;
import org.ssmpeft.api.hooks.InputHook;
import org.ssmpeft.api.shape.ModelShape;

/**
 * The named adapters attached to one base model, and which of them act.
 *
 * <p>An adapter acts when it is <em>active</em> (in the ordered stack set by {@link #activate}) and <em>enabled</em>
 * ({@link #disable} switches one off without losing its place; {@link #disableAll} gives the plain base model).
 * Contributions of acting adapters to the same hook add up: offsets, initial states, low-rank deltas and parameter
 * deltas are summed by the backend. State extensions ({@link org.ssmpeft.api.hooks.StateExtensionHook}) of several
 * acting adapters are concatenated in stack order, N + n'_1 + n'_2 + ... state dimensions per channel, which is what
 * the reference code does with several active {@code DIM_EXTEND} adapters. Their state dimensions are independent, so
 * the output is the sum of each extension's contribution and does not depend on the order; only the layout of the
 * extra state in a generation cache does, so a backend refuses to continue a cache under other acting extensions than
 * the ones that started it.
 *
 * <p>Refused combinations, each with its reason:
 * <ul>
 *   <li>an adapter sized for another model shape than the set's;</li>
 *   <li>two adapters with one name;</li>
 *   <li>adapters that {@link Composition} refuses to act together (two acting {@link InputHook}s with the same
 *       placement: virtual-token sequences do not add up), the check a config file gets too;</li>
 *   <li>activating a name that is not in the set.</li>
 * </ul>
 *
 * <p>Not thread-safe for changes; a backend takes an immutable {@link #acting()} snapshot per forward pass. For
 * several threads, {@link #snapshot()} gives a frozen copy that is safe to share: the same adapter objects (their
 * tensors are not copied), the same stack and switches, and every change method refused.
 */
public final class AdapterSet {

    private final ModelShape shape;
    private final Map<String, Adapter> adapters = new LinkedHashMap<>();
    private final Set<String> disabled = new LinkedHashSet<>();
    private List<String> active = List.of();
    private boolean allDisabled;
    private final boolean frozen;

    public AdapterSet(ModelShape shape) {
        this.shape = shape;
        this.frozen = false;
    }

    private AdapterSet(AdapterSet source) {
        this.shape = source.shape;
        this.adapters.putAll(source.adapters);
        this.disabled.addAll(source.disabled);
        this.active = source.active;
        this.allDisabled = source.allDisabled;
        this.frozen = true;
    }

    /**
     * An immutable copy of this set as it is now: the same adapters (shared, not copied: O(adapters) work), the same
     * active stack, disabled names and all-disabled switch. Later changes to this set do not reach the copy, and the
     * copy refuses every change ({@link UnsupportedOperationException}), so it can be handed to concurrent forward
     * passes. The adapters' tensors stay shared: whoever changes them (a trainer) changes every snapshot too.
     */
    public AdapterSet snapshot() {
        return frozen ? this : new AdapterSet(this);
    }

    /** Whether this is a {@link #snapshot()}, which refuses changes. */
    public boolean isFrozen() {
        return frozen;
    }

    private void checkMutable(String change) {
        if (frozen) {
            throw new UnsupportedOperationException("this adapter set is a frozen snapshot; " + change
                    + " is refused (change the set it was taken from, then take a new snapshot)");
        }
    }

    public ModelShape shape() {
        return shape;
    }

    /**
     * Adds an adapter; it is enabled and joins the end of the active stack if compatible with it (a new adapter
     * acts at once, like the first adapter of a PEFT model).
     */
    public AdapterSet add(Adapter adapter) {
        checkMutable("add");
        if (!adapter.shape().equals(shape)) {
            throw new CompositionException("adapter '" + adapter.name() + "' is sized for " + adapter.shape().describe()
                    + " but this model is " + shape.describe());
        }
        if (adapters.containsKey(adapter.name())) {
            throw new CompositionException("an adapter named '" + adapter.name() + "' is already attached ("
                    + adapters.get(adapter.name()) + "); remove it first or choose another name");
        }
        List<String> stack = new ArrayList<>(active);
        stack.add(adapter.name());
        adapters.put(adapter.name(), adapter);
        try {
            checkWith(disabled, allDisabled, stack);
        } catch (CompositionException e) {
            adapters.remove(adapter.name());
            throw e;
        }
        active = List.copyOf(stack);
        return this;
    }

    /** Removes and returns the adapter; fails naming the attached ones when there is none of that name. */
    public Adapter remove(String name) {
        checkMutable("remove");
        Adapter a = get(name);
        adapters.remove(name);
        disabled.remove(name);
        active = active.stream().filter(n -> !n.equals(name)).toList();
        return a;
    }

    public Adapter get(String name) {
        Adapter a = adapters.get(name);
        if (a == null) {
            throw new CompositionException("no adapter named '" + name + "'; attached: " + namesOrNone());
        }
        return a;
    }

    public Optional<Adapter> find(String name) {
        return Optional.ofNullable(adapters.get(name));
    }

    /** Makes exactly these adapters active, in this order (earlier ones first where order matters). */
    public AdapterSet activate(String... names) {
        checkMutable("activate");
        List<String> stack = List.of(names);
        for (String n : stack) {
            get(n);
        }
        if (new LinkedHashSet<>(stack).size() != stack.size()) {
            throw new CompositionException("adapter names repeat in activation " + stack);
        }
        checkWith(disabled, false, stack);
        active = stack;
        allDisabled = false;
        return this;
    }

    public AdapterSet enable(String name) {
        checkMutable("enable");
        get(name);
        Set<String> after = new LinkedHashSet<>(disabled);
        after.remove(name);
        checkWith(after, allDisabled, active);
        disabled.remove(name);
        return this;
    }

    public AdapterSet disable(String name) {
        checkMutable("disable");
        get(name);
        disabled.add(name);
        return this;
    }

    /** Switches every adapter off: the model computes as the base model, until {@link #enableAll}. */
    public AdapterSet disableAll() {
        checkMutable("disableAll");
        allDisabled = true;
        return this;
    }

    public AdapterSet enableAll() {
        checkMutable("enableAll");
        checkWith(disabled, false, active);
        allDisabled = false;
        return this;
    }

    public boolean isEnabled(String name) {
        get(name);
        return !allDisabled && !disabled.contains(name);
    }

    /** Names in the order they were added. */
    public List<String> names() {
        return List.copyOf(adapters.keySet());
    }

    public List<String> activeNames() {
        return active;
    }

    /** The adapters that act now (active and enabled), in stack order. */
    public List<Adapter> acting() {
        if (allDisabled) {
            return List.of();
        }
        return active.stream().filter(n -> !disabled.contains(n)).map(adapters::get).toList();
    }

    /** The acting adapters that feed hook {@code type}; a backend sums their contributions. */
    public <H extends Hook> List<H> acting(Class<H> type) {
        return acting().stream().filter(type::isInstance).map(type::cast).toList();
    }

    /** Trainable parameters of the acting adapters. */
    public long actingParameterCount() {
        return acting().stream().mapToLong(Adapter::parameterCount).sum();
    }

    /** Checks the adapters that would act with this stack and these disabled names. */
    private void checkWith(Set<String> disabledAfter, boolean allOff, List<String> stack) {
        if (!allOff) {
            check(stack.stream().filter(n -> !disabledAfter.contains(n)).toList());
        }
    }

    private void check(List<String> acting) {
        Composition.check(acting.stream().map(n -> Composition.of(adapters.get(n))).toList());
    }

    private String namesOrNone() {
        return adapters.isEmpty() ? "none" : String.join(", ", adapters.keySet());
    }

    @Override
    public String toString() {
        return adapters.values().stream().map(a -> a + (acting().contains(a) ? " [acting]" : ""))
                .collect(Collectors.joining(", ", "AdapterSet[", "]"));
    }
}
