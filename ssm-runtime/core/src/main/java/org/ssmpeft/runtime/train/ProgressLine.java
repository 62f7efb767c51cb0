package org.ssmpeft.runtime.train;

import java.io.PrintStream;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * A progress line: {@code step 40/200 [#####...............] loss 2.3142 lr 8.0e-04 1,234 tok/s ETA 2m05s}. On a
 * terminal it is rewritten in place with a carriage return; elsewhere (a log file, CI) one plain line is printed
 * every {@code every} steps and at the last. Evaluations get a line of their own.
 */
public final class ProgressLine implements TrainingListener {

    private static final int BAR = 20;

    private final PrintStream out;
    private final boolean terminal;
    private final int every;
    private int maxSteps;
    private int firstStep;
    private double seconds;
    private long tokens;
    private int lastWidth;

    /**
     * @param terminal rewrite one line in place (a terminal) or print plain lines
     * @param every    print a plain line every this many steps (terminals are updated at every step)
     */
    public ProgressLine(PrintStream out, boolean terminal, int every) {
        if (every < 1) {
            throw new IllegalArgumentException("progress interval must be >= 1, found " + every);
        }
        this.out = out;
        this.terminal = terminal;
        this.every = every;
    }

    /** On standard output, in place when it is a terminal, else a line every 10 steps. */
    public static ProgressLine standardOutput() {
        var console = System.console();
        return new ProgressLine(System.out, console != null && console.isTerminal(), 10);
    }

    @Override
    public void onStart(int firstStep, int maxSteps) {
        this.firstStep = firstStep;
        this.maxSteps = maxSteps;
        this.seconds = 0;
        this.tokens = 0;
    }

    @Override
    public void onStep(StepRecord s) {
        seconds += s.seconds();
        tokens += s.tokens();
        if (!terminal && s.step() % every != 0 && s.step() != maxSteps) {
            return;
        }
        String line = format(s);
        if (terminal) {
            out.print("\r" + line + " ".repeat(Math.max(0, lastWidth - line.length())));
            lastWidth = line.length();
            if (s.step() == maxSteps) {
                out.println();
                lastWidth = 0;
            }
        } else {
            out.println(line);
        }
        out.flush();
    }

    @Override
    public void onEvaluation(EvalRecord e) {
        String scores = e.scores().entrySet().stream()
                .map(x -> x.getKey() + " " + String.format(Locale.ROOT, "%.4f", x.getValue()))
                .collect(Collectors.joining(", "));
        if (terminal && lastWidth > 0) {
            out.println();
            lastWidth = 0;
        }
        out.println("eval at step " + e.step() + ": " + scores);
        out.flush();
    }

    @Override
    public void onEnd(TrainingResult result) {
        if (terminal && lastWidth > 0) {
            out.println();
            lastWidth = 0;
        }
        out.println("stopped after step " + result.steps() + " (" + result.reason().name().toLowerCase(Locale.ROOT)
                .replace('_', ' ') + "); checkpoint " + result.lastCheckpoint());
        out.flush();
    }

    /** The line for a step, without carriage return. */
    String format(StepRecord s) {
        int done = s.step() - firstStep;
        double perStep = done > 0 ? seconds / done : 0;
        double tokensPerSecond = seconds > 0 ? tokens / seconds : 0;
        String bar = "";
        if (terminal) {
            int filled = (int) Math.round(BAR * (double) s.step() / Math.max(1, maxSteps));
            bar = " [" + "#".repeat(filled) + ".".repeat(BAR - filled) + "]";
        }
        return String.format(Locale.ROOT, "step %d/%d%s loss %.4f lr %.1e %,.0f tok/s ETA %s", s.step(), maxSteps, bar,
                s.loss(), s.learningRate(), tokensPerSecond, duration(perStep * (maxSteps - s.step())));
    }

    static String duration(double seconds) {
        long s = Math.round(seconds);
        if (s >= 3600) {
            return String.format(Locale.ROOT, "%dh%02dm", s / 3600, s % 3600 / 60);
        }
        if (s >= 60) {
            return String.format(Locale.ROOT, "%dm%02ds", s / 60, s % 60);
        }
        return s + "s";
    }
}
