package org.ssmpeft.runtime.generate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.ssmpeft.api.composition.AdapterSet;
import org.ssmpeft.runtime.backend.Logits;
import org.ssmpeft.runtime.backend.LossAndGradients;
import org.ssmpeft.runtime.backend.SsmModel;
import org.ssmpeft.runtime.checkpoint.MambaConfig;
import org.ssmpeft.runtime.cpu.CpuMamba;
import org.ssmpeft.runtime.backend.HostState;
import org.ssmpeft.runtime.backend.SsmState;
import org.ssmpeft.runtime.contract.ForwardingModel;
import org.ssmpeft.runtime.train.TinyMamba;

/** Greedy and beam search on the tiny random model and on a scripted Markov model with a known best sequence. */
class GeneratorTest {

    private static final CpuMamba MODEL = TinyMamba.model(5);
    private static final int[][] PROMPTS = {{3, 7, 1}, {0}, {12, 12, 5, 9}, {23, 4}, {8, 15, 16, 2, 11}};

    /** Prompt tuning (virtual tokens on a fresh cache) and LoRA + state offset, all acting, randomised. */
    private static AdapterSet adapters() {
        AdapterSet set = TinyMamba.promptAdapter(3);
        TinyMamba.adapters(4).acting().forEach(a -> {
            a.parameters().values().forEach(t -> {
                var rng = new java.util.Random(t.size());
                for (int i = 0; i < t.size(); i++) {
                    t.data()[i] = (float) (0.1 * rng.nextGaussian());
                }
            });
            set.add(a);
        });
        return set;
    }

    private static int argmax(float[] a) {
        int best = 0;
        for (int i = 1; i < a.length; i++) {
            if (a[i] > a[best]) {
                best = i;
            }
        }
        return best;
    }

    @Test
    void greedyEqualsTheArgmaxOfAFullForwardAtEveryStep() {
        AdapterSet adapters = adapters();
        var gen = new Generator(MODEL, adapters);
        for (int[] prompt : PROMPTS) {
            Generation g = gen.greedy(prompt, GenerationOptions.greedy(8));
            // independently: the whole sequence through forward on a fresh cache, every time
            List<Integer> seq = new ArrayList<>(Arrays.stream(prompt).boxed().toList());
            int[] expected = new int[8];
            for (int n = 0; n < 8; n++) {
                int[][] rows = {seq.stream().mapToInt(Integer::intValue).toArray()};
                Logits l = MODEL.forward(rows, adapters, MODEL.newState(1));
                expected[n] = argmax(l.at(0, l.length() - 1));
                seq.add(expected[n]);
            }
            assertThat(g.tokens()).as(Arrays.toString(prompt)).containsExactly(expected);
            assertThat(g.stopToken()).isEmpty();
        }
    }

    @Test
    void beamSearchWithOneBeamEqualsGreedy() {
        var gen = new Generator(MODEL, adapters());
        for (int[] prompt : PROMPTS) {
            GenerationOptions o = GenerationOptions.greedy(10);
            Generation greedy = gen.greedy(prompt, o);
            Generation beam = gen.beamSearch(prompt, o.withBeams(1));
            assertThat(beam.tokens()).containsExactly(greedy.tokens());
            assertThat(beam.logProbability()).isCloseTo(greedy.logProbability(), within(1e-9));
            assertThat(beam.score()).isCloseTo(greedy.score(), within(1e-9));
        }
    }

    @Test
    void beamSearchNeverScoresBelowGreedyOnTheTinyModel() {
        var gen = new Generator(MODEL, adapters());
        for (int[] prompt : PROMPTS) {
            GenerationOptions o = GenerationOptions.greedy(6);
            Generation greedy = gen.generate(prompt, o);
            Generation beam = gen.generate(prompt, o.withBeams(4));
            assertThat(beam.score()).as(Arrays.toString(prompt)).isGreaterThanOrEqualTo(greedy.score() - 1e-12);
        }
    }

    @Test
    void beamSearchFindsTheLikelierSequenceGreedyMisses() {
        // greedy takes 1 (0.5) and then wanders (0.2 per step); 2 (0.4) -> 3 (0.9) -> EOS (0.6) is far likelier
        var gen = new Generator(new ScriptedModel(), new AdapterSet(ScriptedModel.CONFIG.toShape()));
        GenerationOptions o = GenerationOptions.greedy(4, ScriptedModel.EOS);
        Generation greedy = gen.generate(new int[] {5}, o);
        assertThat(greedy.tokens()).containsExactly(1, 1, 1, 1);
        assertThat(greedy.stopToken()).isEmpty();
        assertThat(greedy.logProbability()).isCloseTo(Math.log(0.5) + 3 * Math.log(0.2), within(1e-5));

        Generation beam = gen.generate(new int[] {5}, o.withBeams(2));
        assertThat(beam.tokens()).containsExactly(2, 3);
        assertThat(beam.stopToken()).hasValue(ScriptedModel.EOS);
        double logP = Math.log(0.4) + Math.log(0.9) + Math.log(0.6);
        assertThat(beam.logProbability()).isCloseTo(logP, within(1e-5));
        assertThat(beam.score()).isCloseTo(logP / 3, within(1e-5));   // length 3: two tokens and EOS
        assertThat(beam.score()).isGreaterThan(greedy.score());
    }

    @Test
    void theLengthPenaltyDividesBySequenceLengthToThePower() {
        // with penalty 0 the raw sum decides: [2, 3] + EOS (log 0.216) beats [2, 3, 4] + EOS (log 0.0972)
        var gen = new Generator(new ScriptedModel(), new AdapterSet(ScriptedModel.CONFIG.toShape()));
        GenerationOptions o = GenerationOptions.greedy(4, ScriptedModel.EOS).withBeams(2).withLengthPenalty(0);
        Generation g = gen.generate(new int[] {5}, o);
        assertThat(g.tokens()).containsExactly(2, 3);
        assertThat(g.score()).isCloseTo(g.logProbability(), within(1e-12));
    }

    @Test
    void stopTokensEndTheSequenceAndAreMaskedUntilTheMinimumLength() {
        var gen = new Generator(new ScriptedModel(), new AdapterSet(ScriptedModel.CONFIG.toShape()));
        // after 3, EOS is likeliest (0.6): it ends at once ...
        for (int beams : new int[] {1, 3}) {
            GenerationOptions o = GenerationOptions.greedy(5, ScriptedModel.EOS).withBeams(beams);
            Generation now = gen.generate(new int[] {3}, o);
            assertThat(now.tokens()).as("beams " + beams).isEmpty();
            assertThat(now.stopToken()).hasValue(ScriptedModel.EOS);
            // ... unless masked for one token: 4 (0.3), then EOS (0.9)
            Generation later = gen.generate(new int[] {3}, o.withMinNewTokens(1));
            assertThat(later.tokens()).as("beams " + beams).containsExactly(4);
            assertThat(later.stopToken()).hasValue(ScriptedModel.EOS);
            assertThat(later.logProbability()).isCloseTo(Math.log(0.3) + Math.log(0.9), within(1e-5));
        }
    }

    @Test
    void onTheTinyModelAStopTokenCutsTheGreedySequenceAndMinLengthDefersIt() {
        var gen = new Generator(MODEL, adapters());
        for (int[] prompt : PROMPTS) {
            int[] free = gen.greedy(prompt, GenerationOptions.greedy(12)).tokens();
            int cut = 1;
            while (cut < free.length && contains(Arrays.copyOf(free, cut), free[cut])) {
                cut++;
            }
            if (cut == free.length) {
                continue;
            }
            int stop = free[cut];
            Generation g = gen.greedy(prompt, GenerationOptions.greedy(12, stop));
            assertThat(g.tokens()).containsExactly(Arrays.copyOf(free, cut));
            assertThat(g.stopToken()).hasValue(stop);
            for (int beams : new int[] {1, 3}) {
                Generation min = gen.generate(prompt, GenerationOptions.greedy(12, stop).withMinNewTokens(cut + 1)
                        .withBeams(beams));
                assertThat(min.tokens().length).isGreaterThanOrEqualTo(cut + 1);
                assertThat(min.tokens()).doesNotContain(stop);
                assertThat(min.length()).isLessThanOrEqualTo(12);
            }
        }
    }

    @Test
    void generationIsDeterministic() {
        var gen = new Generator(MODEL, adapters());
        GenerationOptions o = GenerationOptions.paper(0).withMaxNewTokens(10);
        assertThat(gen.generate(PROMPTS[2], o)).isEqualTo(gen.generate(PROMPTS[2], o));
        assertThat(new Generator(MODEL, adapters()).generate(PROMPTS[2], o)).isEqualTo(gen.generate(PROMPTS[2], o));
    }

    @Test
    void beamSearchPrefillsThePromptOnceThenStepsOneStateRowPerBeam() {
        var counting = new CountingModel(MODEL);
        var gen = new Generator(counting, adapters());
        gen.generate(PROMPTS[4], GenerationOptions.greedy(20).withBeams(4));
        assertThat(counting.forwardRows).containsExactly(1);            // the prefill, once, not once per beam
        assertThat(counting.stepRows).hasSize(19).containsOnly(4);       // no recomputation of the sequence
        assertThat(counting.caches).containsExactly(1);                  // fanned out by the state itself
        counting.clear();
        gen.generate(PROMPTS[4], GenerationOptions.greedy(20));
        assertThat(counting.forwardRows).containsExactly(1);
        assertThat(counting.stepRows).hasSize(19).containsOnly(1);
    }

    @Test
    void reorderingCopiesStateRowsFromTheirSourceBeams() {
        HostState cache = TinyMamba.model(1).newState(3);
        for (int l = 0; l < cache.layers(); l++) {
            fillRows(cache.convState(l), 3);
            fillRows(cache.ssmState(l), 3);
        }
        cache.reorder(new int[] {2, 0, 0});
        for (int l = 0; l < cache.layers(); l++) {
            for (float[] a : new float[][] {cache.convState(l), cache.ssmState(l)}) {
                int row = a.length / 3;
                assertThat(a[0]).isEqualTo(2f);
                assertThat(a[row]).isEqualTo(0f);
                assertThat(a[2 * row + row - 1]).isEqualTo(0f);
            }
        }
    }

    private static void fillRows(float[] a, int rows) {
        int row = a.length / rows;
        for (int i = 0; i < a.length; i++) {
            a[i] = i / row;
        }
    }

    private static boolean contains(int[] a, int v) {
        return Arrays.stream(a).anyMatch(x -> x == v);
    }

    /** Counts what the generator asks of the model. */
    private static final class CountingModel extends ForwardingModel {
        final List<Integer> forwardRows = new ArrayList<>();
        final List<Integer> stepRows = new ArrayList<>();
        final List<Integer> caches = new ArrayList<>();

        CountingModel(SsmModel inner) {
            super(inner);
        }

        void clear() {
            forwardRows.clear();
            stepRows.clear();
            caches.clear();
        }

        @Override
        public SsmState newState(int batch) {
            caches.add(batch);
            return inner.newState(batch);
        }

        @Override
        public Logits forward(int[][] tokens, AdapterSet adapters, SsmState cache) {
            forwardRows.add(tokens.length);
            return inner.forward(tokens, adapters, cache);
        }

        @Override
        public float[] step(int[] tokens, AdapterSet adapters, SsmState cache) {
            stepRows.add(tokens.length);
            return inner.step(tokens, adapters, cache);
        }
    }
}
