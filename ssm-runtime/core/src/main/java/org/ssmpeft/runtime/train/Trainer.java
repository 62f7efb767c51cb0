package org.ssmpeft.runtime.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalDouble;
import java.util.Set;
import java.util.function.Function;
import org.ssmpeft.api.adapter.Adapter;
import org.ssmpeft.api.adapter.ParameterSpec;
import org.ssmpeft.api.adapter.WarmUp;
import org.ssmpeft.api.composition.AdapterSet;
import org.ssmpeft.api.tensor.Tensor;
import org.ssmpeft.runtime.backend.SsmModel;
import org.ssmpeft.runtime.backend.TrainingSession;
import org.ssmpeft.runtime.checkpoint.MambaWeights;
import org.ssmpeft.runtime.io.IoMessages;
import org.ssmpeft.runtime.train.TrainingResult.StopReason;

/**
 * Trains the parameters of the acting adapters of an {@link AdapterSet} (and, if asked, named base weights, updated
 * in place) with AdamW on the batches of a {@link BatchSource}.
 *
 * <p>One optimiser step: {@code accumulationSteps} micro-batches through {@code lossAndGradients}, their gradients
 * combined as one batch ({@link GradientAccumulator}); every loss and gradient checked to be finite; the global norm
 * clipped; AdamW at the scheduled learning rate. Then an evaluation when due (early stopping may end the run), and a
 * checkpoint when due and at the end ({@link TrainingCheckpoint}). A run is a pure function of its inputs and seed on
 * one backend: two runs, or a run and a run killed and resumed from a checkpoint, end with the same tensors bit for
 * bit.
 *
 * <pre>{@code
 * TrainingOptions options = TrainingOptions.builder(1000, 4e-4).schedule(Kind.LINEAR, 0).evalEvery(100)
 *         .checkpointEvery(100).earlyStopping("eval_loss", false, 3).build();
 * Trainer trainer = Trainer.builder(model, adapters, options).outputDirectory(Path.of("runs/offset"))
 *         .evaluator(Evaluator.meanLoss(validation)).listener(ProgressLine.standardOutput()).build();
 * TrainingResult r = trainer.train(batches);          // or trainer.resume(batches) after a crash
 * }</pre>
 *
 * <p>Files in the output folder: {@code checkpoint-<step>/} (see {@link TrainingCheckpoint}), {@value #METRICS_FILE}
 * ({@link MetricsLog}) and, at the end, {@value #CURVE_FILE} when a {@link CurvePlotter} is installed (ssm-tasks has one).
 *
 * <p>An acting adapter that is placed by a warm-up ({@link WarmUp}, SDLoRA) gets it first: a run of its warm-up
 * adapters alone in {@code warmup-<adapter>/} with this run's options, seed and data order, stopped after its
 * {@link WarmUp#warmUpSteps()} steps (so on the first steps of this run's schedule); then the adapter selects, and
 * this run starts from step 0 with a fresh optimiser. A killed warm-up is continued, a finished one read back from
 * its checkpoint, by {@link #train} and {@link #resume} alike.
 *
 * <p>A NaN or infinite loss, gradient or updated parameter stops the run with a {@link TrainingDivergedException}
 * naming the step and the parameter; nothing of that step is written, so the newest checkpoint is the last good one.
 * Not thread-safe: one run at a time.
 */
public final class Trainer {

    public static final String METRICS_FILE = "metrics.jsonl";
    public static final String CURVE_FILE = "training-curve.png";
    /** The folder of an adapter's warm-up run: {@code warmup-<adapter name>}. */
    public static final String WARMUP_PREFIX = "warmup-";

    private final SsmModel givenModel;
    private SsmModel model;
    private final AdapterSet adapters;
    private final TrainingOptions options;
    private final Path outputDirectory;
    private final Optional<Evaluator> evaluator;
    private final List<TrainingListener> listeners;
    private final boolean writeMetrics;
    private final boolean drawCurve;
    private final int curveWidth;
    private final int curveHeight;
    private final int stopAfter;
    private final Optional<MambaWeights> baseWeights;
    private final Function<MambaWeights, ? extends SsmModel> backend;
    private final Set<String> baseNames;
    private final List<TrainableParameter> parameters;

    private TrainingSession session;
    private int step;
    private long microBatches;
    private double best = Double.NaN;
    private int bestStep;
    private int evaluationsWithoutImprovement;
    private Optional<Path> lastCheckpoint = Optional.empty();
    private double lastLoss = Double.NaN;

    private Trainer(Builder b) {
        this.givenModel = b.model;
        this.model = b.model;
        this.adapters = b.adapters;
        this.options = b.options;
        this.outputDirectory = Objects.requireNonNull(b.outputDirectory,
                "the trainer needs an output directory (Builder.outputDirectory)");
        this.evaluator = Optional.ofNullable(b.evaluator);
        this.listeners = List.copyOf(b.listeners);
        this.writeMetrics = b.writeMetrics;
        this.drawCurve = b.drawCurve;
        this.curveWidth = b.curveWidth;
        this.curveHeight = b.curveHeight;
        this.stopAfter = b.stopAfter;
        this.baseWeights = Optional.ofNullable(b.baseWeights);
        this.backend = b.backend;
        this.baseNames = Set.copyOf(b.baseNames);
        this.parameters = collectParameters();
        if (options.earlyStoppingMetric().isPresent() && evaluator.isEmpty()) {
            throw new IllegalArgumentException("early stopping on '" + options.earlyStoppingMetric().get()
                    + "' needs an evaluator (Builder.evaluator)");
        }
    }

    /** A trainer of the acting adapters of {@code adapters} on {@code model}. */
    public static Builder builder(SsmModel model, AdapterSet adapters, TrainingOptions options) {
        return new Builder(model, adapters, options);
    }

    private List<TrainableParameter> collectParameters() {
        List<TrainableParameter> out = new ArrayList<>();
        for (Adapter a : adapters.acting()) {
            for (ParameterSpec s : a.parameterSpecs()) {
                out.add(TrainableParameter.ofAdapter(a.name(), s.name(), a.parameter(s.name()), s.weightDecay(),
                        s.learningRateScale()));
            }
        }
        if (!baseNames.isEmpty()) {
            Map<String, Tensor> named = baseWeights.orElseThrow().parameters();
            for (String n : new java.util.TreeSet<>(baseNames)) {
                Tensor t = named.get(n);
                if (t == null) {
                    throw new IllegalArgumentException("no base weight named '" + n + "'; the model has: "
                            + String.join(", ", named.keySet()));
                }
                out.add(TrainableParameter.ofBase(n, t));
            }
        }
        if (out.isEmpty()) {
            throw new IllegalArgumentException("nothing to train: no adapter acts (" + adapters
                    + ") and no base weight was named");
        }
        return List.copyOf(out);
    }

    /** What the optimiser updates, in update order. */
    public List<TrainableParameter> parameters() {
        return parameters;
    }

    public TrainingOptions options() {
        return options;
    }

    public Path outputDirectory() {
        return outputDirectory;
    }

    /** The model as it stands (a new instance after each step when base weights are trained). */
    public SsmModel model() {
        return model;
    }

    /**
     * A new run from step 0 with the parameters as they are now. Fails when the output folder already holds a
     * checkpoint: {@link #resume} continues such a run; choose another folder to start over.
     */
    public TrainingResult train(BatchSource data) {
        recoverCheckpoints();
        Optional<Path> existing = TrainingCheckpoint.latest(outputDirectory);
        if (existing.isPresent()) {
            throw new IllegalStateException(outputDirectory + " already holds a run (" + existing.get().getFileName()
                    + "); continue it with resume(...) or give the trainer an empty output directory");
        }
        warmUp(data);
        step = 0;
        microBatches = 0;
        best = Double.NaN;
        bestStep = 0;
        evaluationsWithoutImprovement = 0;
        lastCheckpoint = Optional.empty();
        lastLoss = Double.NaN;
        try {
            MetricsLog log = writeMetrics ? MetricsLog.create(outputDirectory.resolve(METRICS_FILE)) : null;
            openSession();
            try {
                return run(data, log);
            } finally {
                closeSession();
            }
        } catch (IOException e) {
            throw new UncheckedIOException(IoMessages.describe(e, outputDirectory), e);
        }
    }

    /**
     * The steps where the model computes when its backend offers that for this run
     * ({@link SsmModel#residentTraining}), else on the host: the same formulas either way.
     */
    private void openSession() {
        List<TrainingSession.Trainable> trainables = parameters.stream().map(p -> new TrainingSession.Trainable(
                p.key(), p.value(), p.weightDecay(), p.learningRateScale(), p.adapter(), p.name())).toList();
        var settings = new TrainingSession.Settings(trainables, baseNames, options.beta1(), options.beta2(),
                options.eps(), options.weightDecay());
        session = model.residentTraining(adapters, settings).orElseGet(() -> new HostTrainingSession(
                () -> model, adapters, baseNames, parameters, options.optimizer()));
    }

    /** The trainable tensors brought to the host (where a run stopped, they hold its last values), then closed. */
    private void closeSession() {
        TrainingSession s = session;
        session = null;
        try {
            s.toHost();
        } finally {
            s.close();
        }
    }

    private void recoverCheckpoints() {
        try {
            TrainingCheckpoint.recover(outputDirectory);
        } catch (IOException e) {
            throw new UncheckedIOException(IoMessages.describe(e, outputDirectory), e);
        }
    }

    /** A checkpoint read and checked against this trainer, nothing of it applied yet. */
    private record Resumable(TrainingCheckpoint checkpoint, JsonNode state, Map<String, Tensor> trainable,
                             Map<String, Tensor> optimizerState) {
    }

    /**
     * Checks, without changing anything, that {@link #resume(BatchSource)} can continue from the newest checkpoint
     * of the output folder: its files read whole and finite, its run options, data and trainable tensors are this
     * trainer's. Returns that checkpoint; fails with what differs (or why it cannot be read) before any work. What a
     * killed writer left is recovered first ({@link TrainingCheckpoint#recover}), so that the checkpoint checked is
     * the one {@link #resume(BatchSource)} continues from.
     */
    public Path checkResume(BatchSource data) {
        recoverCheckpoints();
        Path latest = TrainingCheckpoint.latest(outputDirectory).orElseThrow(() -> new IllegalStateException(
                "no checkpoint to resume from in " + outputDirectory + "; start the run without resuming"));
        checkResumable(data, latest);
        return latest;
    }

    private Resumable checkResumable(BatchSource data, Path checkpoint) {
        TrainingCheckpoint c = TrainingCheckpoint.open(checkpoint);
        JsonNode state = c.state();
        List<String> mismatches = new ArrayList<>();
        ObjectNode expected = runIdentity(data);
        JsonNode found = state.path("run");
        expected.properties().forEach(e -> {
            if (!e.getValue().asText().equals(found.path(e.getKey()).asText())) {
                mismatches.add(e.getKey() + ": checkpoint " + found.path(e.getKey()) + ", now " + e.getValue());
            }
        });
        if (!mismatches.isEmpty()) {
            throw new IllegalArgumentException("cannot resume from " + checkpoint + ": the run differs from the one"
                    + " that wrote it; " + String.join("; ", mismatches));
        }
        Map<String, Tensor> saved = c.trainable();
        for (TrainableParameter p : parameters) {
            Tensor t = saved.get(p.key());
            if (t == null || !Arrays.equals(t.shape(), p.value().shape())) {
                throw new IllegalArgumentException("cannot resume from " + checkpoint + ": trainable tensor '"
                        + p.key() + "' of shape " + Tensor.format(p.value().shape()) + (t == null ? " is missing"
                        : " was saved with shape " + Tensor.format(t.shape())) + "; it holds: "
                        + String.join(", ", saved.keySet()));
            }
        }
        if (saved.size() != parameters.size()) {
            Set<String> extra = new LinkedHashSet<>(saved.keySet());
            parameters.forEach(p -> extra.remove(p.key()));
            throw new IllegalArgumentException("cannot resume from " + checkpoint + ": it trains more tensors than"
                    + " this trainer: " + String.join(", ", extra));
        }
        Map<String, Tensor> moments = c.optimizerState();
        for (var e : moments.entrySet()) {
            if (e.getKey().endsWith(".exp_avg_sq")) {
                float[] v = e.getValue().data();
                for (int i = 0; i < v.length; i++) {
                    if (v[i] < 0) {
                        throw new IllegalArgumentException("cannot resume from " + checkpoint + ": "
                                + TrainingCheckpoint.OPTIMIZER_FILE + " tensor '" + e.getKey() + "' holds " + v[i]
                                + " at index " + i + "; expected second moments >= 0");
                    }
                }
            }
        }
        return new Resumable(c, state, saved, moments);
    }

    /** Continues the run of the output folder from its newest checkpoint; fails when there is none. */
    public TrainingResult resume(BatchSource data) {
        recoverCheckpoints();
        Path latest = TrainingCheckpoint.latest(outputDirectory).orElseThrow(() -> new IllegalStateException(
                "no checkpoint to resume from in " + outputDirectory + "; start the run with train(...)"));
        return resume(data, latest);
    }

    /**
     * Continues a run from a checkpoint exactly: the trainable tensors, AdamW's moments and step count, the schedule
     * position, the data position and the early-stopping state are restored, and the run goes on as if it had never
     * stopped. The options, the data's batches per epoch and the trainable tensors must be those of the run.
     */
    public TrainingResult resume(BatchSource data, Path checkpoint) {
        Resumable r = checkResumable(data, checkpoint);
        warmUp(data);
        TrainingCheckpoint c = r.checkpoint();
        JsonNode state = r.state();
        load(r.trainable());
        refreshModel();
        AdamW loaded = options.optimizer();
        loaded.load(r.optimizerState(), state.path("optimizer").path("step").asLong(), parameters);
        step = c.step();
        microBatches = state.path("micro_batches").asLong();
        JsonNode es = state.path("early_stopping");
        best = es.path("best").isNumber() ? es.path("best").asDouble() : Double.NaN;
        bestStep = es.path("best_step").asInt();
        evaluationsWithoutImprovement = es.path("evaluations_without_improvement").asInt();
        lastCheckpoint = Optional.of(checkpoint);
        lastLoss = state.path("last_loss").isNumber() ? state.path("last_loss").asDouble() : Double.NaN;
        try {
            TrainingCheckpoint.recover(outputDirectory);
            MetricsLog log = writeMetrics ? MetricsLog.resume(outputDirectory.resolve(METRICS_FILE), step) : null;
            String ended = state.path("stop_reason").asText("");
            if (!ended.isEmpty() && !ended.equals(StopReason.STOP_AFTER.name())) {
                // the run had ended: nothing to continue
                try {
                    return finish(StopReason.valueOf(ended), log);
                } finally {
                    if (log != null) {
                        log.close();
                    }
                }
            }
            openSession();
            try {
                session.loadOptimizer(loaded.state(), loaded.steps());
                return run(data, log);
            } finally {
                closeSession();
            }
        } catch (IOException e) {
            throw new UncheckedIOException(IoMessages.describe(e, outputDirectory), e);
        }
    }

    private TrainingResult run(BatchSource data, MetricsLog log) throws IOException {
        int perEpoch = data.batchesPerEpoch();
        if (perEpoch < 1) {
            throw new IllegalArgumentException("the batch source has " + perEpoch + " batches per epoch; need >= 1");
        }
        listeners(log).forEach(l -> l.onStart(step, options.maxSteps()));
        LearningRateSchedule schedule = options.learningRateSchedule();
        StopReason reason = step >= options.maxSteps() ? StopReason.MAX_STEPS : null;
        try {
            while (reason == null) {
                long start = System.nanoTime();
                int current = step + 1;
                int epoch = (int) (microBatches / perEpoch);
                long tokens = 0;
                session.beginStep();
                for (int j = 0; j < options.accumulationSteps(); j++) {
                    long m = microBatches + j;
                    int e = (int) (m / perEpoch);
                    int position = (int) (m % perEpoch);
                    Batch batch = data.batch(options.seed(), e, position);
                    TrainingSession.MicroBatch g = session.addMicroBatch(batch.tokens(), batch.labels());
                    String where = "micro-batch " + (j + 1) + "/" + options.accumulationSteps() + ", epoch " + e
                            + " position " + position;
                    if (!Double.isFinite(g.loss())) {
                        throw diverged(current, "loss", "the loss is " + g.loss() + " (" + where + ")", log);
                    }
                    if (g.nonFiniteGradient().isPresent()) {
                        TrainingSession.NonFinite bad = g.nonFiniteGradient().get();
                        String key = parameters.get(bad.trainable()).key();
                        throw diverged(current, key, "the gradient of " + key + " is " + bad.value() + " at element "
                                + bad.element() + " (" + where + ")", log);
                    }
                    tokens += batch.tokenCount();
                }
                double lr = schedule.learningRate(options.learningRate(), step);
                TrainingSession.Update update = session.step(lr, options.maxGradNorm());
                if (update.nonFiniteValue().isPresent()) {
                    TrainingSession.NonFinite bad = update.nonFiniteValue().get();
                    String key = parameters.get(bad.trainable()).key();
                    throw diverged(current, key, "the update made " + key + " " + bad.value() + " at element "
                            + bad.element() + " (learning rate " + lr + "); the tensors in memory are no longer valid",
                            log);
                }
                double norm = update.norm();
                refreshModel();
                microBatches += options.accumulationSteps();
                step = current;
                lastLoss = update.loss();
                var record = new StepRecord(step, epoch, lastLoss, lr, norm, tokens, update.targets(),
                        (System.nanoTime() - start) / 1e9);
                listeners(log).forEach(l -> l.onStep(record));
                if (evaluator.isPresent() && ((options.evalEvery() > 0 && step % options.evalEvery() == 0)
                        || step == options.maxSteps())) {
                    if (evaluate(log)) {
                        reason = StopReason.EARLY_STOPPING;
                    }
                }
                if (reason == null && step >= options.maxSteps()) {
                    reason = StopReason.MAX_STEPS;
                }
                if (reason == null && stopAfter > 0 && step >= stopAfter) {
                    reason = StopReason.STOP_AFTER;
                }
                if (reason != null || (options.checkpointEvery() > 0 && step % options.checkpointEvery() == 0)) {
                    checkpoint(data, reason, log);
                }
            }
            return finish(reason, log);
        } finally {
            if (log != null) {
                log.close();
            }
        }
    }

    private TrainingResult finish(StopReason reason, MetricsLog log) throws IOException {
        Optional<Path> curve = Optional.empty();
        Optional<CurvePlotter> plotter = drawCurve && log != null ? CurvePlotter.installed() : Optional.empty();
        if (plotter.isPresent()) {
            Path png = outputDirectory.resolve(CURVE_FILE);
            plotter.get().plot(log.file(), png, curveWidth, curveHeight);
            curve = Optional.of(png);
        }
        Path last = lastCheckpoint.orElseThrow();
        var result = new TrainingResult(step, reason, lastLoss, Double.isNaN(best) ? OptionalDouble.empty()
                : OptionalDouble.of(best), bestStep, last, curve);
        listeners(log).forEach(l -> l.onEnd(result));
        return result;
    }

    private void load(Map<String, Tensor> saved) {
        for (TrainableParameter p : parameters) {
            float[] src = saved.get(p.key()).data();
            System.arraycopy(src, 0, p.value().data(), 0, src.length);
        }
    }

    /**
     * The warm-up of every acting {@link WarmUp} adapter that needs one, then its selection (see the class comment).
     * The warm-up run has this run's options without evaluation or early stopping.
     */
    private void warmUp(BatchSource data) {
        for (Adapter a : adapters.acting()) {
            if (!(a instanceof WarmUp w) || !w.needsWarmUp()) {
                continue;
            }
            if (w.warmUpSteps() >= options.maxSteps()) {
                throw new IllegalArgumentException("adapter '" + a.name() + "' (" + a.method() + ") warms up for "
                        + w.warmUpSteps() + " steps (warmup_steps), which leaves nothing of a run of "
                        + options.maxSteps() + " steps; lower its warmup_steps or train for more steps");
            }
            List<Adapter> trial = w.warmUpAdapters();
            AdapterSet set = new AdapterSet(adapters.shape());
            trial.forEach(set::add);
            TrainingOptions o = options;
            TrainingOptions warm = new TrainingOptions(o.maxSteps(), o.learningRate(), o.weightDecay(), o.beta1(),
                    o.beta2(), o.eps(), o.schedule(), o.warmupSteps(), o.maxGradNorm(), o.accumulationSteps(),
                    o.seed(), 0, o.checkpointEvery(), 1, Optional.empty(), false, 1);
            Path dir = outputDirectory.resolve(WARMUP_PREFIX + a.name());
            var b = builder(model, set, warm).outputDirectory(dir).stopAfter(w.warmUpSteps()).metricsLog(writeMetrics)
                    .curve(false, curveWidth, curveHeight);
            listeners.forEach(b::listener);
            Trainer run = b.build();
            run.recoverCheckpoints();
            Optional<Path> done = TrainingCheckpoint.latest(dir);
            if (done.isEmpty()) {
                run.train(data);
            } else if (TrainingCheckpoint.stepOf(done.get()).getAsInt() < w.warmUpSteps()) {
                run.resume(data);
            } else {
                run.load(run.checkResumable(data, done.get()).trainable());
            }
            w.select(trial);
        }
    }

    /** Evaluates; true when early stopping ends the run. */
    private boolean evaluate(MetricsLog log) {
        session.toHost();
        Map<String, Double> scores = new LinkedHashMap<>(evaluator.orElseThrow().evaluate(model, adapters, step));
        var record = new EvalRecord(step, scores);
        listeners(log).forEach(l -> l.onEvaluation(record));
        if (options.earlyStoppingMetric().isEmpty()) {
            return false;
        }
        String metric = options.earlyStoppingMetric().get();
        Double score = scores.get(metric);
        if (score == null) {
            throw new IllegalStateException("early stopping watches '" + metric + "' but the evaluator returned only: "
                    + String.join(", ", scores.keySet()));
        }
        boolean improved = Double.isNaN(best) ? !Double.isNaN(score)
                : options.higherIsBetter() ? score > best : score < best;
        if (improved) {
            best = score;
            bestStep = step;
            evaluationsWithoutImprovement = 0;
        } else {
            evaluationsWithoutImprovement++;
        }
        return evaluationsWithoutImprovement >= options.patience();
    }

    private void checkpoint(BatchSource data, StopReason reason, MetricsLog log) throws IOException {
        session.toHost();
        Map<String, Tensor> trainable = new LinkedHashMap<>();
        parameters.forEach(p -> trainable.put(p.key(), p.value()));
        Path dir = TrainingCheckpoint.write(outputDirectory, step, trainable, session.optimizerState(),
                stateJson(data, reason));
        lastCheckpoint = Optional.of(dir);
        if (options.keepCheckpoints() > 0) {
            // keep the newest, the best one (early stopping's) and the newest others up to keepCheckpoints
            List<Path> others = new ArrayList<>(TrainingCheckpoint.list(outputDirectory));
            boolean bestKept = others.removeIf(p -> TrainingCheckpoint.stepOf(p).getAsInt() == bestStep
                    && bestStep > 0 && bestStep != step);
            others.removeIf(p -> p.equals(dir));
            int keepOthers = Math.max(0, options.keepCheckpoints() - 1 - (bestKept ? 1 : 0));
            for (int i = 0; i < others.size() - keepOthers; i++) {
                TrainingCheckpoint.delete(others.get(i));
            }
        }
        listeners(log).forEach(l -> l.onCheckpoint(step, dir));
    }

    /** What must be equal for a checkpoint to be resumed by this trainer. */
    private ObjectNode runIdentity(BatchSource data) {
        ObjectNode n = TrainingCheckpoint.JSON.createObjectNode();
        n.put("max_steps", options.maxSteps());
        n.put("learning_rate", options.learningRate());
        n.put("weight_decay", options.weightDecay());
        n.put("beta1", options.beta1());
        n.put("beta2", options.beta2());
        n.put("eps", options.eps());
        n.put("schedule", options.schedule().configName());
        n.put("warmup_steps", options.warmupSteps());
        n.put("max_grad_norm", options.maxGradNorm());
        n.put("accumulation_steps", options.accumulationSteps());
        n.put("seed", options.seed());
        n.put("batches_per_epoch", data.batchesPerEpoch());
        return n;
    }

    private ObjectNode stateJson(BatchSource data, StopReason reason) {
        int perEpoch = data.batchesPerEpoch();
        ObjectNode n = TrainingCheckpoint.JSON.createObjectNode();
        n.put("format", TrainingCheckpoint.FORMAT);
        n.put("version", TrainingCheckpoint.VERSION);
        n.put("step", step);
        n.put("epoch", (int) (microBatches / perEpoch));
        n.put("position", (int) (microBatches % perEpoch));
        n.put("micro_batches", microBatches);
        n.put("last_loss", lastLoss);
        if (reason == null) {
            n.putNull("stop_reason");
        } else {
            n.put("stop_reason", reason.name());
        }
        n.set("run", runIdentity(data));
        ObjectNode rng = n.putObject("rng");
        rng.put("seed", options.seed());
        rng.put("note", "no random state is carried between steps: micro-batch m is batch(seed, m / batches_per_epoch,"
                + " m % batches_per_epoch), and the backends draw no random numbers while training");
        ObjectNode sched = n.putObject("schedule");
        LearningRateSchedule s = options.learningRateSchedule();
        sched.put("kind", s.kind().configName());
        sched.put("warmup_steps", s.warmupSteps());
        sched.put("total_steps", s.totalSteps());
        sched.put("base_learning_rate", options.learningRate());
        sched.put("next_learning_rate", s.learningRate(options.learningRate(), step));
        ObjectNode opt = n.putObject("optimizer");
        opt.put("name", "adamw");
        opt.put("step", session.optimizerSteps());
        ObjectNode es = n.putObject("early_stopping");
        es.put("metric", options.earlyStoppingMetric().orElse(""));
        es.put("higher_is_better", options.higherIsBetter());
        es.put("patience", options.patience());
        if (Double.isNaN(best)) {
            es.putNull("best");
        } else {
            es.put("best", best);
        }
        es.put("best_step", bestStep);
        es.put("evaluations_without_improvement", evaluationsWithoutImprovement);
        ArrayNode trainable = n.putArray("trainable");
        for (TrainableParameter p : parameters) {
            ObjectNode t = trainable.addObject();
            t.put("key", p.key());
            ArrayNode shape = t.putArray("shape");
            for (int d : p.value().shape()) {
                shape.add(d);
            }
            t.put("weight_decay", p.weightDecay());
        }
        return n;
    }

    private TrainingDivergedException diverged(int failedStep, String parameter, String what, MetricsLog log) {
        String keep = lastCheckpoint.map(p -> "the last good checkpoint is " + p + " (step "
                + TrainingCheckpoint.stepOf(p).getAsInt() + ")").orElse("no checkpoint was written yet");
        String message = String.format(Locale.ROOT, "training diverged at step %d of %d: %s; the run stopped without"
                + " applying or saving step %d, %s (lower the learning rate, clip gradients, or check the data)",
                failedStep, options.maxSteps(), what, failedStep, keep);
        if (log != null) {
            log.diverged(failedStep, message);
        }
        return new TrainingDivergedException(message, failedStep, parameter, lastCheckpoint);
    }

    /** After base weights changed: a model that sees them (backends may derive values from weights when built). */
    private void refreshModel() {
        if (baseNames.isEmpty()) {
            return;
        }
        SsmModel old = model;
        model = backend.apply(baseWeights.orElseThrow());
        if (old != givenModel && old instanceof AutoCloseable c) {
            try {
                c.close();
            } catch (Exception e) {
                throw new IllegalStateException("cannot close the previous model: " + e.getMessage(), e);
            }
        }
    }

    private List<TrainingListener> listeners(MetricsLog log) {
        if (log == null) {
            return listeners;
        }
        List<TrainingListener> all = new ArrayList<>();
        all.add(log);
        all.addAll(listeners);
        return all;
    }

    /** Builds a {@link Trainer}. */
    public static final class Builder {
        private final SsmModel model;
        private final AdapterSet adapters;
        private final TrainingOptions options;
        private Path outputDirectory;
        private Evaluator evaluator;
        private final List<TrainingListener> listeners = new ArrayList<>();
        private boolean writeMetrics = true;
        private boolean drawCurve = true;
        private int curveWidth = CurvePlotter.DEFAULT_WIDTH;
        private int curveHeight = CurvePlotter.DEFAULT_HEIGHT;
        private int stopAfter;
        private MambaWeights baseWeights;
        private Function<MambaWeights, ? extends SsmModel> backend;
        private Set<String> baseNames = Set.of();

        private Builder(SsmModel model, AdapterSet adapters, TrainingOptions options) {
            this.model = Objects.requireNonNull(model, "model");
            this.adapters = Objects.requireNonNull(adapters, "adapters");
            this.options = Objects.requireNonNull(options, "options");
        }

        /** Where checkpoints, the metrics log and the curve go (required). */
        public Builder outputDirectory(Path dir) {
            outputDirectory = dir;
            return this;
        }

        public Builder evaluator(Evaluator e) {
            evaluator = e;
            return this;
        }

        /** Adds a listener (e.g. {@link ProgressLine#standardOutput()}). */
        public Builder listener(TrainingListener l) {
            listeners.add(Objects.requireNonNull(l));
            return this;
        }

        /** Whether to write {@value #METRICS_FILE} (default true; the curve needs it). */
        public Builder metricsLog(boolean on) {
            writeMetrics = on;
            return this;
        }

        /** Whether to draw {@value #CURVE_FILE} at the end, and its size (default 1000 x 600). */
        public Builder curve(boolean on, int width, int height) {
            drawCurve = on;
            curveWidth = width;
            curveHeight = height;
            return this;
        }

        /**
         * Stops after this step (with a checkpoint) although the run has more: a time-boxed part of a run that
         * {@link #resume} continues later. The schedule still spans {@code maxSteps}.
         */
        public Builder stopAfter(int step) {
            if (step < 1) {
                throw new IllegalArgumentException("stopAfter must be >= 1, found " + step);
            }
            stopAfter = step;
            return this;
        }

        /**
         * Also trains these base weights (Hugging Face names, see {@link MambaWeights#parameters()}), updated in
         * place in {@code weights}: full fine-tuning, BitFit. {@code backend} builds the model from the weights (e.g.
         * {@code Backends.forName("cpu")::create}); the trainer rebuilds it after every update because a backend may
         * derive values from the weights when it is built (the cpu backend keeps {@code -exp(A_log)}). The model
         * given to {@link Trainer#builder} must compute these weights.
         */
        public Builder trainBase(MambaWeights weights, Set<String> names,
                                 Function<MambaWeights, ? extends SsmModel> backend) {
            this.baseWeights = Objects.requireNonNull(weights, "weights");
            this.baseNames = Set.copyOf(names);
            this.backend = Objects.requireNonNull(backend, "backend");
            return this;
        }

        public Trainer build() {
            return new Trainer(this);
        }
    }
}
