package org.ssmpeft.runtime.djl;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDManager;
import ai.djl.util.Platform;
import ai.djl.util.Utils;
import java.nio.file.Path;
import java.util.Optional;

/**
 * DJL's PyTorch engine, loaded offline from the native classifier jar on the class path
 * ({@code ai.djl.pytorch:pytorch-native-cpu:2.7.1:linux-x86_64}).
 *
 * <p>Offline by design (DESIGN.md §5): unless the user chose otherwise, the first use sets DJL's offline mode
 * ({@code ai.djl.offline=true}), so the engine never reaches for a download: with the classifier jar present DJL copies
 * libtorch from it into its cache ({@code ~/.djl.ai/pytorch/2.7.1-<build>-cpu-linux-x86_64}, relocatable with
 * {@code DJL_CACHE_DIR}) and loads it; without it, loading fails at once instead of downloading. Computation is
 * float32 on {@link Device#cpu()}: every array this package creates says so explicitly.
 */
public final class DjlEngine {

    /** The DJL engine name of PyTorch. */
    public static final String ENGINE = "PyTorch";

    /** The jar of PyTorch's native library for Linux x86-64: group:artifact:version:classifier. */
    public static final String NATIVE_ARTIFACT = "ai.djl.pytorch:pytorch-native-cpu:2.7.1:linux-x86_64";

    private static final String OFFLINE_PROPERTY = "ai.djl.offline";
    private static final String OFFLINE_ENV = "DJL_OFFLINE";

    private static volatile Engine engine;
    private static volatile Throwable failure;

    static {
        // before DJL reads it: no engine, model or telemetry download unless the user asked for online mode
        if (System.getProperty(OFFLINE_PROPERTY) == null && System.getenv(OFFLINE_ENV) == null) {
            System.setProperty(OFFLINE_PROPERTY, "true");
        }
    }

    private DjlEngine() {
    }

    /** Whether the PyTorch engine loads here (its native library is on the class path and loads). */
    public static boolean isAvailable() {
        return load().isEmpty();
    }

    /**
     * Why the engine does not load, or empty when it does. When the native library jar is missing (ssm-backend-djl declares
     * it optional, so consumers do not get it unless they add it), the reason names the artifact to add.
     */
    public static Optional<String> unavailableReason() {
        return load().map(t -> {
            String failure = t + (t.getCause() == null ? "" : " (cause: " + t.getCause() + ")");
            if (!nativePackageFound()) {
                return "the djl backend needs PyTorch's native library, and its jar is not on the class path: add the"
                        + " dependency " + NATIVE_ARTIFACT + " (groupId ai.djl.pytorch, artifactId pytorch-native-cpu,"
                        + " version 2.7.1, classifier linux-x86_64, scope runtime; ssm-backend-djl declares it optional, so"
                        + " it does not come with ssm-backend-djl). Loading DJL's PyTorch engine failed with: " + failure;
            }
            return "DJL's PyTorch engine cannot be loaded although its native library jar is on the class path: "
                    + failure + "; this build of the djl backend expects " + NATIVE_ARTIFACT;
        });
    }

    /** The engine; fails with the reason when it cannot load. */
    public static Engine pytorch() {
        load().ifPresent(t -> {
            throw new IllegalStateException(unavailableReason().orElseThrow(), t);
        });
        return engine;
    }

    /** A new manager on the CPU of the PyTorch engine. */
    static NDManager newManager() {
        return pytorch().newBaseManager(Device.cpu());
    }

    /**
     * The directory libtorch was loaded from: a folder of DJL's engine cache into which it was extracted from the
     * classifier jar.
     */
    public static Path nativeLibraryDirectory() {
        pytorch();
        try {
            Class<?> libUtils = Class.forName("ai.djl.pytorch.jni.LibUtils");
            return Path.of((String) libUtils.getMethod("getLibtorchPath").invoke(null));
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException("cannot ask DJL's PyTorch engine where libtorch lives", e);
        }
    }

    /** DJL's cache folder of the PyTorch engine, where libraries from the classifier jar are extracted. */
    public static Path engineCacheDirectory() {
        return Utils.getEngineCacheDir("pytorch");
    }

    /**
     * Whether DJL found a real native package (not the placeholder that would trigger a download) on the class
     * path: the {@code native/lib/pytorch.properties} of the classifier jar.
     */
    public static boolean nativePackageOnClassPath() {
        return !Platform.detectPlatform("pytorch").isPlaceholder();
    }

    private static boolean nativePackageFound() {
        try {
            return nativePackageOnClassPath();
        } catch (RuntimeException | LinkageError e) {
            return false;
        }
    }

    /** Whether DJL is in offline mode (no downloads of engines or models). */
    public static boolean isOffline() {
        return Utils.isOfflineMode();
    }

    private static Optional<Throwable> load() {
        if (engine != null) {
            return Optional.empty();
        }
        synchronized (DjlEngine.class) {
            if (engine == null && failure == null) {
                try {
                    engine = Engine.getEngine(ENGINE);
                } catch (Throwable t) { // engine exceptions, UnsatisfiedLinkError, ExceptionInInitializerError
                    failure = t;
                }
            }
            return Optional.ofNullable(failure);
        }
    }
}
