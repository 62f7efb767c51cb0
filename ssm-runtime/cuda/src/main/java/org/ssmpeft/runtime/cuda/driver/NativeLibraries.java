package org.ssmpeft.runtime.cuda.driver;

import java.lang.foreign.Arena;
import java.lang.foreign.SymbolLookup;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * Finds the NVIDIA shared libraries without JNI and without vendored binaries. Search order, first hit wins:
 * <ol>
 *   <li>the folders named by the system property {@value #PROPERTY} or the environment variable {@value #ENV}
 *       (a path list, {@code :}-separated);</li>
 *   <li>{@code $CUDA_HOME} and {@code $CUDA_PATH}: their {@code lib64}, {@code lib} and {@code targets/x86_64-linux/lib};</li>
 *   <li>the toolkit's usual roots: {@code /usr/local/cuda}, {@code /usr/local/cuda-*}, {@code /opt/cuda};</li>
 *   <li>the NVIDIA Python wheels' {@code nvidia/cu13/lib} in the Python environments of this machine (PyTorch's
 *       environment carries cuBLAS and NVRTC there);</li>
 *   <li>the dynamic loader by soname ({@code LD_LIBRARY_PATH} and the loader cache).</li>
 * </ol>
 * A toolkit's {@code stubs/} folder holds link-time stubs of the same names; those are never loaded. A failure
 * lists every place that was looked at, so an unavailable reason says where to put the library.
 */
public final class NativeLibraries {

    public static final String PROPERTY = "ssmpeft.cuda.libraryPath";
    public static final String ENV = "SSMPEFT_CUDA_LIBRARY_PATH";

    private NativeLibraries() {
    }

    /** Loads the first of {@code sonames} that is found (they are alternatives, e.g. two major versions). */
    public static SymbolLookup load(String what, List<String> sonames) throws CudaUnavailableException {
        return load(what, sonames, List.of());
    }

    /**
     * As {@link #load(String, List)}; {@code companions} are loaded first from the same folder when present there
     * (NVRTC's {@code libnvrtc-builtins}, which NVRTC opens by soname at compile time: once loaded from the folder it
     * is found without {@code LD_LIBRARY_PATH}).
     */
    public static SymbolLookup load(String what, List<String> sonames, List<String> companions)
            throws CudaUnavailableException {
        List<String> looked = new ArrayList<>();
        for (Path dir : searchFolders()) {
            for (String soname : sonames) {
                Path file = dir.resolve(soname);
                if (Files.isRegularFile(file) && !isStub(file)) {
                    for (String companion : companions) {
                        Path c = dir.resolve(companion);
                        if (Files.isRegularFile(c)) {
                            try {
                                SymbolLookup.libraryLookup(c, Arena.global());
                            } catch (IllegalArgumentException e) {
                                looked.add(c + " (present, failed to load: " + e.getMessage() + ")");
                            }
                        }
                    }
                    try {
                        return SymbolLookup.libraryLookup(file, Arena.global());
                    } catch (IllegalArgumentException e) {
                        looked.add(file + " (present, failed to load: " + e.getMessage() + ")");
                    }
                }
            }
            looked.add(dir.toString());
        }
        for (String soname : sonames) {
            try {
                return SymbolLookup.libraryLookup(soname, Arena.global());
            } catch (IllegalArgumentException e) {
                looked.add("the dynamic loader (" + soname + ")");
            }
        }
        throw new CudaUnavailableException(what + " is not installed here (" + String.join(" or ", sonames) + "); looked in: "
                + String.join(", ", looked) + "; name its folder with -D" + PROPERTY + "=DIR or " + ENV + "=DIR");
    }

    private static boolean isStub(Path file) {
        for (Path p = file.getParent(); p != null; p = p.getParent()) {
            if (p.getFileName() != null && p.getFileName().toString().equals("stubs")) {
                return true;
            }
        }
        return false;
    }

    /** The folders searched, in order, that exist on this machine. */
    public static List<Path> searchFolders() {
        Set<Path> dirs = new LinkedHashSet<>();
        for (String list : new String[] {System.getProperty(PROPERTY), System.getenv(ENV)}) {
            if (list != null && !list.isBlank()) {
                for (String s : list.split(java.io.File.pathSeparator)) {
                    if (!s.isBlank()) {
                        dirs.add(Path.of(s.trim()));
                    }
                }
            }
        }
        List<Path> roots = new ArrayList<>();
        for (String var : new String[] {"CUDA_HOME", "CUDA_PATH"}) {
            String v = System.getenv(var);
            if (v != null && !v.isBlank()) {
                roots.add(Path.of(v));
            }
        }
        roots.add(Path.of("/usr/local/cuda"));
        roots.addAll(children(Path.of("/usr/local"), "cuda-"));
        roots.add(Path.of("/opt/cuda"));
        for (Path root : roots) {
            dirs.add(root.resolve("targets/x86_64-linux/lib"));
            dirs.add(root.resolve("lib64"));
            dirs.add(root.resolve("lib"));
        }
        // the driver's own folder on GPU containers
        dirs.add(Path.of("/usr/local/nvidia/lib64"));
        dirs.add(Path.of("/usr/lib/x86_64-linux-gnu"));
        for (Path site : pythonSitePackages()) {
            dirs.add(site.resolve("nvidia/cu13/lib"));
            dirs.add(site.resolve("nvidia/cublas/lib"));
            dirs.add(site.resolve("nvidia/cuda_nvrtc/lib"));
        }
        List<Path> existing = new ArrayList<>();
        for (Path d : dirs) {
            if (Files.isDirectory(d) && !isStub(d.resolve("x"))) {
                existing.add(d);
            }
        }
        return existing;
    }

    // site-packages of the Python environments usually found on GPU hosts and developer machines
    private static List<Path> pythonSitePackages() {
        List<Path> envs = new ArrayList<>();
        String venv = System.getenv("VIRTUAL_ENV");
        if (venv != null) {
            envs.add(Path.of(venv));
        }
        envs.add(Path.of("/usr"));
        envs.add(Path.of("/usr/local"));
        envs.addAll(children(Path.of("/opt"), ""));
        List<Path> more = new ArrayList<>();
        for (Path e : List.copyOf(envs)) {
            more.add(e.resolve(".venv"));
        }
        envs.addAll(more);
        List<Path> sites = new ArrayList<>();
        for (Path env : envs) {
            for (Path lib : children(env.resolve("lib"), "python3")) {
                sites.add(lib.resolve("site-packages"));
                sites.add(lib.resolve("dist-packages"));
            }
        }
        return sites;
    }

    private static List<Path> children(Path dir, String prefix) {
        List<Path> out = new ArrayList<>();
        if (!Files.isDirectory(dir)) {
            return out;
        }
        try (DirectoryStream<Path> s = Files.newDirectoryStream(dir)) {
            for (Path p : s) {
                String name = p.getFileName().toString().toLowerCase(Locale.ROOT);
                if (name.startsWith(prefix) && Files.isDirectory(p)) {
                    out.add(p);
                }
            }
        } catch (java.io.IOException e) {
            // an unreadable folder is simply not searched
        }
        out.sort(null);
        return out;
    }
}
