package org.ssmpeft.runtime.cpu;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A consumer of ssm-core and ssm-backend-cpu gets nothing else: this module's test class path is theirs plus the
 * method modules and test libraries, and none of DJL, PyTorch's JNI, SQLite or JFreeChart is on it.
 */
class CpuOnlyClassPathTest {

    @ParameterizedTest
    @ValueSource(strings = {"ai.djl.ndarray.NDArray", "ai.djl.pytorch.jni.JniUtils",
            "ai.djl.huggingface.tokenizers.HuggingFaceTokenizer", "org.sqlite.JDBC", "org.jfree.chart.JFreeChart",
            "org.ssmpeft.runtime.djl.DjlMamba", "org.ssmpeft.runtime.metrics.SqlExecution"})
    void isNotOnTheClassPath(String className) {
        assertThatThrownBy(() -> Class.forName(className, false, getClass().getClassLoader()))
                .isInstanceOf(ClassNotFoundException.class);
    }
}
