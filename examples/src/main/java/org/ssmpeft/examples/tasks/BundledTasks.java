package org.ssmpeft.examples.tasks;

import java.util.List;
import java.util.Locale;

/** The bundled tasks by name. */
public final class BundledTasks {

    public static final List<BundledTask> ALL = List.of(new SqlTask(), new TriplesTask(), new SentimentTask());

    private BundledTasks() {
    }

    public static List<String> names() {
        return ALL.stream().map(BundledTask::name).toList();
    }

    public static BundledTask forName(String name) {
        String n = name.toLowerCase(Locale.ROOT);
        return ALL.stream().filter(t -> t.name().equals(n)).findFirst().orElseThrow(() -> new IllegalArgumentException(
                "unknown bundled task '" + name + "'; bundled: " + String.join(", ", names())));
    }

    public static <T> T pick(java.util.SplittableRandom rng, List<T> items) {
        return items.get(rng.nextInt(items.size()));
    }
}
