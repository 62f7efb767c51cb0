package org.ssmpeft.runtime.adapters;

import java.nio.file.Path;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import org.ssmpeft.api.adapter.Adapter;
import org.ssmpeft.api.composition.AdapterFactory;
import org.ssmpeft.api.composition.AdapterSet;
import org.ssmpeft.runtime.backend.Logits;
import org.ssmpeft.runtime.backend.SsmModel;
import org.ssmpeft.runtime.backend.SsmState;

/**
 * One base model and many named adapters, served to concurrent requests: load adapters from folders, activate one or
 * a stack, disable all, delete one. The base weights are loaded once; switching adapters builds a new
 * {@link AdapterSet} view (a map of a few references) and never touches or reloads the base.
 *
 * <p><b>Threading model.</b>
 * <ul>
 *   <li>The registry (the adapters and the default stack) is an {@link AdapterSet} guarded by this object's lock;
 *       every change ({@link #load}, {@link #add}, {@link #delete}, {@link #activate}, {@link #disableAll},
 *       {@link #enableAll}) takes the lock, applies the change and publishes a new frozen
 *       {@link AdapterSet#snapshot()} (copy on write).</li>
 *   <li>A request works on one frozen view, taken once: {@link #current()} (the default stack at that moment) or
 *       {@link #view(String...)} (exactly the named adapters, in that order, whatever the default is). Changes made
 *       while it runs do not reach it; a deleted adapter stays alive for the requests that already hold it.</li>
 *   <li>The base model is read-only ({@link SsmModel} is thread-safe for concurrent calls with distinct caches);
 *       each request uses its own {@link SsmState}.</li>
 *   <li>Adapters are read-only while served: their tensors are shared by every view. Training or editing an adapter
 *       that is being served is not supported; load (or {@link #add}) a new one and switch. Backends call
 *       {@code refreshDerived()} before each pass; for adapters with derived tensors (prefix with MLP) concurrent
 *       calls rewrite them with the values they already hold, bit for bit, so readers see no change.</li>
 * </ul>
 * Results do not depend on concurrency: a request gives the same logits, bit for bit, as the same request alone.
 *
 * <p><b>Mixed-adapter batches.</b> A request batch may name an adapter stack per row ({@link #views},
 * {@link #forward(int[][], List)}, {@link #forwardPerRow}, {@link #step(int[], List, SsmState)}): served in one call
 * of the model, row b as if alone under its stack (bit for bit on cpu). Rows must agree on what
 * {@link org.ssmpeft.runtime.plan.RowPlans} says they share (prompt length, parameter deltas, state extension widths);
 * the model names the rows that do not.
 */
public final class AdapterServer {

    private final SsmModel model;
    private final AdapterFactory factory;
    private final AdapterSet registry;
    private volatile AdapterSet current;

    public AdapterServer(SsmModel model, AdapterFactory factory) {
        this.model = Objects.requireNonNull(model, "model");
        this.factory = Objects.requireNonNull(factory, "factory");
        this.registry = new AdapterSet(model.shape());
        this.current = registry.snapshot();
    }

    public SsmModel model() {
        return model;
    }

    /**
     * Loads the adapter in {@code dir} under {@code name} and registers it (it joins the default stack, like
     * {@link AdapterSet#add}). Reading and checking happen outside the lock; a name already registered is refused.
     */
    public Adapter load(String name, Path dir) throws AdapterFileException {
        Adapter a = AdapterFiles.load(dir, model.shape(), factory, Optional.of(name));
        add(a);
        return a;
    }

    /** Registers an adapter built elsewhere (it must be sized for this model and not be trained while served). */
    public synchronized AdapterServer add(Adapter adapter) {
        registry.add(adapter);
        publish();
        return this;
    }

    /** Removes an adapter; requests already running with it finish with it. */
    public synchronized Adapter delete(String name) {
        Adapter a = registry.remove(name);
        publish();
        return a;
    }

    /** Makes exactly these adapters the default stack, in this order. */
    public synchronized AdapterServer activate(String... names) {
        registry.activate(names);
        publish();
        return this;
    }

    /** The default becomes the plain base model (adapters stay registered). */
    public synchronized AdapterServer disableAll() {
        registry.disableAll();
        publish();
        return this;
    }

    public synchronized AdapterServer enableAll() {
        registry.enableAll();
        publish();
        return this;
    }

    /** Registered names, in the order they were added. */
    public List<String> names() {
        return current.names();
    }

    /** The default stack now, frozen: pass it to a request. */
    public AdapterSet current() {
        return current;
    }

    /**
     * A frozen view in which exactly {@code names} act, in this order ({@code view()} is the base model). Fails
     * naming the registered adapters when a name is unknown, or with the composition rule a stack breaks.
     */
    public AdapterSet view(String... names) {
        return view(current, names);
    }

    /**
     * One frozen view per row, {@code stacks.get(b)} naming exactly the adapters of row b in order (an empty list is
     * the base model), all taken from the registry at one moment. Fails naming the row and the registered adapters
     * when a name is unknown.
     */
    public List<AdapterSet> views(List<List<String>> stacks) {
        AdapterSet snapshot = current;
        var out = new java.util.ArrayList<AdapterSet>(stacks.size());
        for (int b = 0; b < stacks.size(); b++) {
            try {
                out.add(view(snapshot, stacks.get(b).toArray(String[]::new)));
            } catch (RuntimeException e) {
                throw new IllegalArgumentException("row " + b + " of the request: " + e.getMessage(), e);
            }
        }
        return List.copyOf(out);
    }

    private static AdapterSet view(AdapterSet snapshot, String... names) {
        AdapterSet v = new AdapterSet(snapshot.shape());
        for (String n : names) {
            v.add(snapshot.get(n));
        }
        return v.activate(names).snapshot();
    }

    /** Logits of fresh sequences (B, T) with the adapters of {@code view}. */
    public Logits forward(int[][] tokens, AdapterSet view) {
        return model.forward(tokens, view, model.newState(tokens.length));
    }

    /** Logits of fresh sequences (B, T) with exactly the named adapters acting. */
    public Logits forward(int[][] tokens, String... stack) {
        return forward(tokens, view(stack));
    }

    /** A mixed-adapter batch of fresh sequences (B, T), row b under {@code perRow.get(b)}, in one call. */
    public Logits forward(int[][] tokens, List<AdapterSet> perRow) {
        return model.forward(tokens, perRow, model.newState(tokens.length));
    }

    /**
     * A mixed-adapter batch of fresh sequences (B, T), row b with exactly the one adapter {@code adapterPerRow[b]}
     * acting ({@code ""}: the base model), in one call.
     */
    public Logits forwardPerRow(int[][] tokens, String... adapterPerRow) {
        var stacks = new java.util.ArrayList<List<String>>();
        for (String n : adapterPerRow) {
            stacks.add(n.isEmpty() ? List.of() : List.of(n));
        }
        return forward(tokens, views(stacks));
    }

    /** One decode step of a mixed-adapter batch; use the same views for every step of the sequences. */
    public float[] step(int[] tokens, List<AdapterSet> perRow, SsmState cache) {
        return model.step(tokens, perRow, cache);
    }

    /** A fresh cache for decoding {@code batch} sequences with {@link #step}. */
    public SsmState newState(int batch) {
        return model.newState(batch);
    }

    /** One decode step; use the same view for every step of a sequence. */
    public float[] step(int[] tokens, AdapterSet view, SsmState cache) {
        return model.step(tokens, view, cache);
    }

    private void publish() {
        current = registry.snapshot();
    }
}
