package org.ssmpeft.examples.cli;

/** The arguments of the README's first command (after {@code java -jar peft.jar}). */
final class ReadmeCommand {

    static final String[] ARGS = {"compare", "--task", "triples"};

    private ReadmeCommand() {
    }
}
