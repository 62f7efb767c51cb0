package org.ssmpeft.runtime.cuda;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ssmpeft.runtime.cuda.driver.CudaUnavailableException;
import org.ssmpeft.runtime.cuda.driver.NativeLibraries;

/** Where the NVIDIA libraries are looked for, what a miss says, and that a toolkit's link-time stubs are skipped. */
class NativeLibrariesTest {

    private static final String MISSING = "libssmpeft-test-missing.so.1";

    private String saved;

    @BeforeEach
    void saveProperty() {
        saved = System.getProperty(NativeLibraries.PROPERTY);
    }

    @AfterEach
    void restoreProperty() {
        if (saved == null) {
            System.clearProperty(NativeLibraries.PROPERTY);
        } else {
            System.setProperty(NativeLibraries.PROPERTY, saved);
        }
    }

    @Test
    void aMissingLibraryListsTheFoldersSearchedAndNamesTheOverride(@TempDir Path dir) {
        System.setProperty(NativeLibraries.PROPERTY, dir.toString());
        List<Path> searched = NativeLibraries.searchFolders();
        assertThat(searched).contains(dir);

        assertThatThrownBy(() -> NativeLibraries.load("the test library", List.of(MISSING)))
                .isInstanceOf(CudaUnavailableException.class)
                .satisfies(e -> {
                    String m = e.getMessage();
                    assertThat(m).startsWith("the test library is not installed here (" + MISSING + ")")
                            .contains("looked in: ")
                            .contains("the dynamic loader (" + MISSING + ")")
                            .contains("-D" + NativeLibraries.PROPERTY + "=DIR")
                            .contains(NativeLibraries.ENV + "=DIR");
                    for (Path p : searched) {
                        assertThat(m).contains(p.toString());
                    }
                });
    }

    @Test
    void theOverridePropertyFolderComesFirst(@TempDir Path dir) throws Exception {
        Path first = Files.createDirectories(dir.resolve("first"));
        Path second = Files.createDirectories(dir.resolve("second"));
        System.setProperty(NativeLibraries.PROPERTY, first + java.io.File.pathSeparator + second);
        List<Path> searched = NativeLibraries.searchFolders();
        assertThat(searched).startsWith(first, second);
    }

    @Test
    void aLibraryInAStubsFolderIsNeverLoaded(@TempDir Path dir) throws Exception {
        Path stubs = Files.createDirectories(dir.resolve("toolkit/lib64/stubs"));
        Files.writeString(stubs.resolve("libfoo.so.1"), "not a library: a link-time stub stands here");

        // the stubs folder itself named in the override, and its parent with the stub reached through it
        System.setProperty(NativeLibraries.PROPERTY, stubs + java.io.File.pathSeparator + stubs.getParent());
        assertThat(NativeLibraries.searchFolders()).doesNotContain(stubs).contains(stubs.getParent());
        for (String soname : List.of("libfoo.so.1", "stubs/libfoo.so.1")) {
            assertThatThrownBy(() -> NativeLibraries.load("foo", List.of(soname)))
                    .isInstanceOf(CudaUnavailableException.class)
                    .hasMessageStartingWith("foo is not installed here")
                    .hasMessageNotContaining("present, failed to load")
                    .hasMessageNotContaining(stubs.toString());
        }
    }

    @Test
    void aLoadableLibraryIsLoadedFromTheOverrideButNotFromItsStubsFolder(@TempDir Path dir) throws Exception {
        Optional<Path> real = loadableSharedLibrary();
        assumeTrue(real.isPresent(), "no small shared library to copy on this machine");
        Path stubs = Files.createDirectories(dir.resolve("stubs"));
        Files.copy(real.get(), stubs.resolve("libssmpeftfoo.so.1"));
        System.setProperty(NativeLibraries.PROPERTY, stubs.toString());
        assertThatThrownBy(() -> NativeLibraries.load("foo", List.of("libssmpeftfoo.so.1")))
                .isInstanceOf(CudaUnavailableException.class);

        Path plain = Files.createDirectories(dir.resolve("lib"));
        Files.copy(real.get(), plain.resolve("libssmpeftfoo.so.1"));
        System.setProperty(NativeLibraries.PROPERTY, plain + java.io.File.pathSeparator + stubs);
        assertThat(NativeLibraries.load("foo", List.of("libssmpeftfoo.so.1"))).isNotNull();
    }

    /** A small real ELF library that loads on its own (glibc's compatibility stubs), to prove the copy is loadable. */
    private static Optional<Path> loadableSharedLibrary() {
        return Stream.of("/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64")
                .flatMap(d -> Stream.of("libanl.so.1", "libdl.so.2", "libutil.so.1").map(n -> Path.of(d, n)))
                .filter(Files::isRegularFile)
                .findFirst();
    }
}
