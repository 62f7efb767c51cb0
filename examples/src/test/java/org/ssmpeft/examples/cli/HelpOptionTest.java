package org.ssmpeft.examples.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.ssmpeft.api.registry.PeftMethods;
import picocli.CommandLine;

/**
 * Every registered command, at any depth, answers {@code --help} and {@code -h} with its usage on standard output and
 * exit 0, before any required option or parameter is checked (issue #15: {@code peft train --help} said "Missing
 * required option" and exited 2, {@code peft tasks --help} said "Unknown option").
 */
class HelpOptionTest {

    /** The command paths of the tree ({@code [train]}, {@code [config, validate]}...), read from picocli itself. */
    static Stream<Arguments> everyCommandAndHelpFlag() {
        List<List<String>> paths = new ArrayList<>();
        collect(PeftCommand.commandLine(PeftMethods.load()), List.of(), paths);
        assertThat(paths).as("the tree read from picocli").contains(List.of("train"), List.of("eval"),
                List.of("compare"), List.of("tasks"), List.of("config", "validate"));
        return paths.stream().flatMap(p -> Stream.of(Arguments.of(p, "--help"), Arguments.of(p, "-h")));
    }

    private static void collect(CommandLine cli, List<String> path, List<List<String>> into) {
        into.add(path);
        cli.getSubcommands().forEach((name, sub) -> {
            // aliases would list a command twice; picocli maps each alias to the same CommandLine
            if (sub.getCommandName().equals(name)) {
                List<String> p = new ArrayList<>(path);
                p.add(name);
                collect(sub, p, into);
            }
        });
    }

    @ParameterizedTest(name = "peft {0} {1}")
    @MethodSource("everyCommandAndHelpFlag")
    void printsItsUsageAndExitsZero(List<String> path, String flag) {
        List<String> args = new ArrayList<>(path);
        args.add(flag);
        Cli r = Cli.run(args.toArray(String[]::new));
        assertThat(r.exitCode()).as(r.out() + r.err()).isZero();
        // picocli's own help command prints its description above the usage line
        assertThat(r.out()).contains("Usage: " + String.join(" ", Stream.concat(Stream.of("peft"), path.stream())
                .toList()));
        assertThat(r.out()).contains("-h, --help");
        assertThat(r.err()).isEmpty();
    }
}
