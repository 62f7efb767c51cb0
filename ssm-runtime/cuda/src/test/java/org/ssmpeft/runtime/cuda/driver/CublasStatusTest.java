package org.ssmpeft.runtime.cuda.driver;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * cuBLAS's status names: the table written from {@code cublas_api.h}, and, where {@code libcublas.so.13} is found
 * (no GPU needed: e.g. {@code -Dssmpeft.cuda.libraryPath=.../nvidia/cu13/lib} of the nvidia-cublas wheel), that it
 * agrees with the library's own {@code cublasGetStatusName}.
 */
class CublasStatusTest {

    private static final int[] CODES = {0, 1, 3, 7, 8, 11, 13, 14, 15, 16};

    @Test
    void theTableNamesEveryStatusOfTheHeader() {
        assertThat(Cublas.statusName(0)).isEqualTo("CUBLAS_STATUS_SUCCESS");
        assertThat(Cublas.statusName(7)).isEqualTo("CUBLAS_STATUS_INVALID_VALUE");
        assertThat(Cublas.statusName(15)).isEqualTo("CUBLAS_STATUS_NOT_SUPPORTED");
        assertThat(Cublas.statusName(99)).isEqualTo("CUBLAS_STATUS_99");
        for (int code : CODES) {
            assertThat(Cublas.statusName(code)).startsWith("CUBLAS_STATUS_").doesNotEndWith("_" + code);
        }
    }

    /** Tagged gpu: CI has no libcublas (its wheel is 423 MB), the GPU host has it, so this runs in device-run.sh. */
    @Test
    @Tag("gpu")
    void theTableAgreesWithTheLibraryWhereItIsFound() {
        Cublas.Api api;
        try {
            api = Cublas.Api.get();
        } catch (CudaUnavailableException e) {
            assumeTrue(false, e::getMessage);
            return;
        }
        assertThat(api.getStatusName).as("cuBLAS 13 exports cublasGetStatusName").isNotNull();
        for (int code : CODES) {
            assertThat(Cublas.name(api, code)).as("status " + code).isEqualTo(Cublas.statusName(code));
        }
    }
}
