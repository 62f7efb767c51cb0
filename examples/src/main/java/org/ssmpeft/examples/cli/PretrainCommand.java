package org.ssmpeft.examples.cli;

import java.io.PrintStream;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.OptionalInt;
import java.util.Set;
import java.util.concurrent.Callable;
import org.ssmpeft.api.composition.AdapterSet;
import org.ssmpeft.examples.bundled.PretrainCorpus;
import org.ssmpeft.runtime.backend.Backends;
import org.ssmpeft.runtime.backend.SsmModel;
import org.ssmpeft.runtime.checkpoint.MambaCheckpoint;
import org.ssmpeft.runtime.checkpoint.MambaConfig;
import org.ssmpeft.runtime.checkpoint.MambaInit;
import org.ssmpeft.runtime.checkpoint.MambaWeights;
import org.ssmpeft.runtime.tokenize.ByteTokenizer;
import org.ssmpeft.runtime.train.Batch;
import org.ssmpeft.runtime.train.Evaluator;
import org.ssmpeft.runtime.train.LearningRateSchedule;
import org.ssmpeft.runtime.train.ProgressLine;
import org.ssmpeft.runtime.train.Trainer;
import org.ssmpeft.runtime.train.TrainingOptions;
import org.ssmpeft.runtime.train.TrainingResult;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code peft pretrain}: builds the bundled base model from scratch: a byte-level Mamba-1 initialised as mamba_ssm
 * does ({@link MambaInit}), trained on every weight with the project's trainer on generated text
 * ({@link PretrainCorpus}). Writes config.json, model.safetensors, metrics.jsonl, training-curve.png and
 * pretrain.log into OUT.
 */
@Command(name = "pretrain", mixinStandardHelpOptions = true, version = PeftCommand.VERSION,
        description = "Pre-train the bundled byte-level base model from scratch on generated"
        + " text (the three bundled tasks' pre-training parts and generic sentences).")
final class PretrainCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = "--out", required = true, paramLabel = "DIR", description = "Where the model goes.")
    Path out;

    @Option(names = "--seed", defaultValue = "1", description = "Initialisation and data seed (${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--steps", defaultValue = "900", description = "Optimiser steps (${DEFAULT-VALUE}).")
    int steps;

    @Option(names = "--batch", defaultValue = "16", description = "Rows per step (${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--lr", defaultValue = "3e-3", description = "Peak learning rate (${DEFAULT-VALUE}).")
    double lr;

    @Option(names = "--warmup", defaultValue = "50", description = "Warm-up steps (${DEFAULT-VALUE}).")
    int warmup;

    @Option(names = "--weight-decay", defaultValue = "0.01", description = "AdamW weight decay (${DEFAULT-VALUE}).")
    double weightDecay;

    @Option(names = "--d-model", defaultValue = "128", description = "d_model (${DEFAULT-VALUE}).")
    int dModel;

    @Option(names = "--layers", defaultValue = "2", description = "Mamba blocks (${DEFAULT-VALUE}).")
    int layers;

    @Option(names = "--d-state", defaultValue = "16", description = "N, state size (${DEFAULT-VALUE}).")
    int dState;

    @Option(names = "--vocab", defaultValue = "264",
            description = "Embedding rows: the byte tokenizer's 258 padded up (${DEFAULT-VALUE}).")
    int vocab;

    @Option(names = "--eval-every", defaultValue = "100", description = "Held-out loss every N steps.")
    int evalEvery;

    @Mixin
    BackendOption backend = new BackendOption();

    @Override
    public Integer call() throws Exception {
        PrintWriter w = spec.commandLine().getOut();
        OutputChecks.atLeast(spec, "--steps", steps, 1);
        OutputChecks.atLeast(spec, "--batch", batch, 1);
        OutputChecks.positive(spec, "--lr", lr);
        OutputChecks.atLeast(spec, "--warmup", warmup, 0);
        OutputChecks.nonNegative(spec, "--weight-decay", weightDecay);
        OutputChecks.atLeast(spec, "--d-model", dModel, 1);
        OutputChecks.atLeast(spec, "--layers", layers, 1);
        OutputChecks.atLeast(spec, "--d-state", dState, 1);
        OutputChecks.atLeast(spec, "--eval-every", evalEvery, 0);
        OutputChecks.outputFolder(spec, "--out", out, java.util.Map.of());
        ByteTokenizer tok = ByteTokenizer.standard();
        if (vocab < tok.vocabSize()) {
            throw new picocli.CommandLine.ParameterException(spec.commandLine(), "--vocab: expected an integer >= "
                    + tok.vocabSize() + " (the byte tokenizer's ids), found " + vocab);
        }
        MambaConfig base = MambaConfig.of(vocab, dModel, dState, layers);
        // mamba_ssm's defaults for pre-training: rescale out_proj by 1/sqrt(layers); byte tokenizer's special ids
        MambaConfig config = new MambaConfig(base.vocabSize(), base.dModel(), base.dState(), base.layers(),
                base.layerNormEpsilon(), OptionalInt.of(ByteTokenizer.PAD_ID), OptionalInt.empty(),
                OptionalInt.of(ByteTokenizer.EOS_ID), base.expand(), base.dInner(), base.convKernel(), false, true,
                "silu", base.initializerRange(), true, base.dtRank(), base.timeStepScale(), base.timeStepMin(),
                base.timeStepMax(), base.timeStepInitScheme(), base.timeStepFloor(), true, true, true);
        MambaWeights weights = MambaInit.initialise(config, seed);
        long params = weights.parameters().values().stream().mapToLong(t -> t.data().length).sum();
        Files.createDirectories(out);
        Path log = out.resolve("pretrain.log");
        List<String> lines = new ArrayList<>();
        String header = String.format(Locale.ROOT, "pretrain: %s, %,d parameters, seed %d, %d steps x %d rows,"
                + " lr %.1e (warm-up %d, cosine), weight decay %.3f", describe(config), params, seed, steps, batch,
                lr, warmup, weightDecay);
        w.println(header);
        lines.add(header);

        PretrainCorpus corpus = new PretrainCorpus(tok, batch, Math.max(steps, 1));
        double unigram = unigramEntropy(corpus, seed);
        String uni = String.format(Locale.ROOT, "unigram entropy of the text (bytes of 200 batches): %.3f nats"
                + " (%.3f bits) per token", unigram, unigram / Math.log(2));
        w.println(uni);
        lines.add(uni);
        for (int i = 0; i < 4; i++) {
            String s = "sample: " + corpus.sample(seed * 7919 + i).replace("\n", "\\n");
            w.println(s);
            lines.add(s);
        }
        // held-out loss: batches from another seed (the same distribution, other draws)
        List<Batch> heldOut = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            heldOut.add(corpus.batch(seed + 1_000_003L, 0, i));
        }
        var provider = backend.provider(weights.family());
        SsmModel model = backend.create(weights, w);
        TrainingOptions options = TrainingOptions.builder(steps, lr).schedule(LearningRateSchedule.Kind.COSINE, warmup)
                .weightDecay(weightDecay).seed(seed).evalEvery(evalEvery).checkpointEvery(0).keepCheckpoints(1)
                .build();
        Path work = Files.createTempDirectory("peft-pretrain");
        PrintStream progress = new PrintStream(new TeeStream(w, lines), true, StandardCharsets.UTF_8);
        long start = System.nanoTime();
        TrainingResult result = Trainer.builder(model, new AdapterSet(config.toShape()), options)
                .outputDirectory(work).evaluator(Evaluator.meanLoss(heldOut))
                .listener(new ProgressLine(progress, false, 20))
                .trainBase(weights, weights.parameters().keySet(), provider::create)
                .build().train(corpus);
        double seconds = (System.nanoTime() - start) / 1e9;
        MambaCheckpoint.save(weights, out);
        Files.copy(work.resolve(Trainer.METRICS_FILE), out.resolve(Trainer.METRICS_FILE),
                StandardCopyOption.REPLACE_EXISTING);
        Files.copy(work.resolve(Trainer.CURVE_FILE), out.resolve(Trainer.CURVE_FILE),
                StandardCopyOption.REPLACE_EXISTING);
        String end = String.format(Locale.ROOT, "done: %d steps in %.0f s, last training loss %.4f nats (unigram"
                + " entropy %.3f); weights in %s", result.steps(), seconds, result.lastLoss(), unigram, out);
        w.println(end);
        lines.add(end);
        Files.write(log, lines, StandardCharsets.UTF_8);
        return 0;
    }

    static String describe(MambaConfig c) {
        return String.format(Locale.ROOT, "mamba-1 byte-level, vocab %d, d_model %d, %d layers, d_inner %d,"
                + " d_state %d, dt_rank %d, conv %d, tied head", c.vocabSize(), c.dModel(), c.layers(), c.dInner(),
                c.dState(), c.dtRank(), c.convKernel());
    }

    /** Entropy of the token frequencies over 200 batches of the text (labelled tokens only). */
    static double unigramEntropy(PretrainCorpus corpus, long seed) {
        long[] counts = new long[512];
        long total = 0;
        for (int i = 0; i < 200; i++) {
            Batch b = corpus.batch(seed + 77, 0, i % corpus.batchesPerEpoch());
            for (int[] row : b.labels()) {
                for (int t : row) {
                    if (t >= 0) {
                        counts[t]++;
                        total++;
                    }
                }
            }
        }
        double h = 0;
        for (long c : counts) {
            if (c > 0) {
                double p = (double) c / total;
                h -= p * Math.log(p);
            }
        }
        return h;
    }

    /** Lines written to the command's output and kept for the log file. */
    private static final class TeeStream extends java.io.OutputStream {
        private final PrintWriter w;
        private final List<String> lines;
        private final java.io.ByteArrayOutputStream buf = new java.io.ByteArrayOutputStream();

        TeeStream(PrintWriter w, List<String> lines) {
            this.w = w;
            this.lines = lines;
        }

        @Override
        public void write(int b) {
            if (b == '\n') {
                String line = buf.toString(StandardCharsets.UTF_8);
                buf.reset();
                w.println(line);
                w.flush();
                lines.add(line);
            } else {
                buf.write(b);
            }
        }
    }
}
