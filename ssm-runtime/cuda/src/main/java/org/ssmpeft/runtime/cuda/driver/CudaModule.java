package org.ssmpeft.runtime.cuda.driver;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A module of kernels: a {@code .cu} resource compiled by NVRTC for the device's architecture and loaded into the
 * context. Compiled images are cached on disk under {@link #cacheFolder()}, keyed by the SHA-256 of the source,
 * the options, the architecture, NVRTC's version and the driver's version, so a second run loads in microseconds
 * and any change to one of them compiles afresh. The cache file is written to a temporary name and moved into
 * place, so a crash never leaves a half-written image.
 */
public final class CudaModule {

    /** System property naming the cache folder; default {@code $XDG_CACHE_HOME/ssm-peft/cuda} or {@code ~/.cache/ssm-peft/cuda}. */
    public static final String CACHE_PROPERTY = "ssmpeft.cuda.cacheDir";

    private final CudaContext context;
    private final long module;
    private final String name;
    private final Map<String, Kernel> kernels = new ConcurrentHashMap<>();

    private CudaModule(CudaContext context, long module, String name) {
        this.context = context;
        this.module = module;
        this.name = name;
    }

    static CudaModule load(CudaContext context, String resource, List<String> options) {
        String source = source(resource);
        String arch = context.architecture();
        List<String> all = compileOptions(arch, options);
        String key = key(source, all, arch, context.nvrtc().version(), context.driver().driverVersion());
        Path cached = cacheFolder().resolve(key + ".cubin");
        byte[] cubin = null;
        if (Files.isRegularFile(cached)) {
            try {
                cubin = Files.readAllBytes(cached);
            } catch (IOException e) {
                cubin = null; // an unreadable cache entry is compiled again
            }
        }
        if (cubin == null) {
            cubin = context.nvrtc().compile(source, resource, all).cubin();
            store(cached, cubin);
        }
        try (Arena a = Arena.ofConfined()) {
            MemorySegment image = a.allocate(cubin.length + 1L, 16);
            MemorySegment.copy(cubin, 0, image, ValueLayout.JAVA_BYTE, 0, cubin.length);
            context.bind();
            return new CudaModule(context, context.driver().moduleLoadData(image), resource);
        }
    }

    /** The options every kernel is compiled with, for {@code arch}, plus the caller's (defines, ...). */
    public static List<String> compileOptions(String arch, List<String> options) {
        List<String> all = new ArrayList<>();
        all.add("--gpu-architecture=" + arch);
        all.add("--std=c++17");
        all.add("-default-device");
        all.addAll(options);
        return all;
    }

    /**
     * A kernel shipped as a resource under {@code org/ssmpeft/runtime/cuda/kernels/}, its local includes
     * ({@code #include "name.cuh"} on a line of its own, resources of the same folder) expanded in place between
     * {@code #line} directives, so NVRTC's messages name the right file and line and the cache key (the hash of this
     * text) changes when an included file does. Shared device helpers live in such headers, one definition for every
     * module.
     */
    public static String source(String resource) {
        return source(resource, 0);
    }

    private static final java.util.regex.Pattern LOCAL_INCLUDE =
            java.util.regex.Pattern.compile("^\\s*#include\\s+\"([A-Za-z0-9_.-]+)\"\\s*$");

    private static String source(String resource, int depth) {
        if (depth > 8) {
            throw new IllegalArgumentException("kernel source " + resource + ": includes nested deeper than 8 (a cycle?)");
        }
        String path = "/org/ssmpeft/runtime/cuda/kernels/" + resource;
        String text;
        try (InputStream in = CudaModule.class.getResourceAsStream(path)) {
            if (in == null) {
                throw new IllegalArgumentException("no kernel source " + path + " on the class path");
            }
            text = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        if (!text.contains("#include \"")) {
            return text;
        }
        StringBuilder out = new StringBuilder(text.length() + 4096);
        String[] lines = text.split("\n", -1);
        for (int i = 0; i < lines.length; i++) {
            var m = LOCAL_INCLUDE.matcher(lines[i]);
            if (m.matches()) {
                out.append("#line 1 \"").append(m.group(1)).append("\"\n");
                out.append(source(m.group(1), depth + 1));
                if (out.charAt(out.length() - 1) != '\n') {
                    out.append('\n');
                }
                out.append("#line ").append(i + 2).append(" \"").append(resource).append("\"");
            } else {
                out.append(lines[i]);
            }
            if (i < lines.length - 1) {
                out.append('\n');
            }
        }
        return out.toString();
    }

    public static Path cacheFolder() {
        String p = System.getProperty(CACHE_PROPERTY);
        if (p != null && !p.isBlank()) {
            return Path.of(p);
        }
        String xdg = System.getenv("XDG_CACHE_HOME");
        Path base = xdg != null && !xdg.isBlank() ? Path.of(xdg) : Path.of(System.getProperty("user.home"), ".cache");
        return base.resolve("ssm-peft").resolve("cuda");
    }

    static String key(String source, List<String> options, String arch, int nvrtcVersion, int driverVersion) {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            md.update(source.getBytes(StandardCharsets.UTF_8));
            md.update((byte) 0);
            md.update(String.join("\u0001", options).getBytes(StandardCharsets.UTF_8));
            md.update((byte) 0);
            md.update((arch + "|" + nvrtcVersion + "|" + driverVersion).getBytes(StandardCharsets.UTF_8));
            return HexFormat.of().formatHex(md.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static void store(Path target, byte[] cubin) {
        try {
            Files.createDirectories(target.getParent());
            Path tmp = Files.createTempFile(target.getParent(), target.getFileName().toString(), ".tmp");
            Files.write(tmp, cubin);
            try {
                Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
            }
        } catch (IOException e) {
            // the cache is an optimisation: a read-only home only means compiling again next time
        }
    }

    public Kernel kernel(String function) {
        return kernels.computeIfAbsent(function,
                f -> new Kernel(context, context.driver().moduleGetFunction(module, f), name + ":" + f));
    }

    public void unload() {
        context.driver().moduleUnload(module);
    }
}
