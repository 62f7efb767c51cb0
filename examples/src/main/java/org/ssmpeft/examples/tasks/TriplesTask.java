package org.ssmpeft.examples.tasks;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.ssmpeft.runtime.data.Example;
import org.ssmpeft.runtime.data.PromptFormat;

/**
 * Data-to-text from RDF-style triples about a small synthetic world (DART's task kind), scored by BLEU and ROUGE-L
 * against two reference sentences per triple set.
 *
 * <p>Prompt: DART's, character for character: prefix {@code "Generate text for the following RDF triples:\n"},
 * input the triples linearised {@code "s : p : o | s : p : o"}, then {@code ###}, label the sentence + eos. One or two
 * triples about one person; six predicates, each with two verb phrases; reference 1 uses the first phrasing of
 * each predicate, reference 2 the second. Training has one example per reference. The base model is pre-trained on
 * single triples of the first four predicates only.
 */
public final class TriplesTask implements BundledTask {

    static final List<String> FIRST = List.of("Anna", "Boris", "Clara", "David", "Elsa", "Felix", "Greta", "Henrik",
            "Iris", "Jakob", "Karin", "Lars", "Mira", "Nils", "Olga", "Pavel");
    static final List<String> LAST = List.of("Berg", "Novak", "Lind", "Moreau", "Costa", "Weber", "Dahl", "Rossi");
    static final List<String> CITIES = List.of("Lyon", "Oslo", "Porto", "Riga", "Turin", "Ghent", "Bern", "Kyiv",
            "Cork", "Graz");
    static final List<String> JOBS = List.of("painter", "doctor", "pilot", "teacher", "chemist", "baker", "lawyer",
            "writer");
    static final List<String> FIRMS = List.of("Acme", "Globex", "Initech", "Umbrella", "Hooli", "Vandelay");
    static final List<String> HOBBIES = List.of("chess", "tennis", "sailing", "poetry", "cycling", "jazz");

    /** Predicate, its objects, and its two verb phrases ({@code %s} = the object). */
    record Predicate(String name, List<String> objects, String phrase1, String phrase2) {
    }

    static final List<Predicate> PREDICATES = List.of(
            new Predicate("birth place", CITIES, "was born in %s", "is a native of %s"),
            new Predicate("occupation", JOBS, "works as a %s", "is a %s by profession"),
            new Predicate("residence", CITIES, "lives in %s", "resides in %s"),
            new Predicate("employer", FIRMS, "works for %s", "is employed by %s"),
            new Predicate("spouse", FIRST, "is married to %s", "has %s as a spouse"),
            new Predicate("hobby", HOBBIES, "enjoys %s", "likes %s in their free time"));

    static final int PRETRAIN_PREDICATES = 4;

    @Override
    public String name() {
        return "triples";
    }

    @Override
    public String description() {
        return "data-to-text: 1-2 RDF triples about a person -> a sentence (DART prompt); BLEU, ROUGE-L";
    }

    @Override
    public PromptFormat format() {
        return PromptFormat.generation(PromptFormat.DART_PREFIX);
    }

    @Override
    public String mainScore() {
        return "bleu";
    }

    @Override
    public boolean classification() {
        return false;
    }

    @Override
    public Example draw(SplittableRandom rng, boolean pretraining) {
        String subject = BundledTasks.pick(rng, FIRST) + " " + BundledTasks.pick(rng, LAST);
        int n = pretraining ? 1 : 1 + rng.nextInt(2);
        int limit = pretraining ? PRETRAIN_PREDICATES : PREDICATES.size();
        List<Predicate> ps = new ArrayList<>();
        while (ps.size() < n) {
            Predicate p = PREDICATES.get(rng.nextInt(limit));
            if (!ps.contains(p)) {
                ps.add(p);
            }
        }
        List<String> triples = new ArrayList<>();
        List<String> vp1 = new ArrayList<>();
        List<String> vp2 = new ArrayList<>();
        for (Predicate p : ps) {
            String o = BundledTasks.pick(rng, p.objects());
            triples.add(subject + " : " + p.name() + " : " + o);
            vp1.add(String.format(p.phrase1(), o));
            vp2.add(String.format(p.phrase2(), o));
        }
        String ref1 = subject + " " + String.join(" and ", vp1) + ".";
        String ref2 = subject + " " + String.join(" and ", vp2) + ".";
        return new Example(String.join(" | ", triples), ref1, List.of(ref1, ref2), Map.of());
    }

    @Override
    public String sentence(SplittableRandom rng) {
        String subject = BundledTasks.pick(rng, FIRST) + " " + BundledTasks.pick(rng, LAST);
        Predicate p = PREDICATES.get(rng.nextInt(PREDICATES.size()));
        String o = BundledTasks.pick(rng, p.objects());
        return subject + " " + String.format(rng.nextBoolean() ? p.phrase1() : p.phrase2(), o) + ".";
    }
}
