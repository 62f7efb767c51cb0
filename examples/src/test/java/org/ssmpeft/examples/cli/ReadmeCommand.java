package org.ssmpeft.examples.cli;

/** The arguments of the README's first command (after {@code java -jar peft.jar}). */
final class ReadmeCommand {

    static final String[] ARGS = {"compare", "--task", "triples", "--steps", "30", "--lr-grid", "1,3",
            "--seeds", "1,2"};

    private ReadmeCommand() {
    }
}
