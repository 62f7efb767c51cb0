package org.ssmpeft.runtime.checkpoint;

/**
 * What every family's configuration says about the language model around its blocks: vocabulary V, residual width
 * d, number of blocks, the RMSNorm eps, and whether the head is the embedding. {@link MambaConfig} and
 * {@link Mamba2Config} implement it with their record components.
 */
public interface LanguageModelConfig {

    /** V, embedding rows (already padded). */
    int vocabSize();

    /** d, the residual-stream width. */
    int dModel();

    /** Number of blocks. */
    int layers();

    /** eps of every RMSNorm (block norms and norm_f). */
    double layerNormEpsilon();

    /** Whether lm_head shares the embedding matrix. */
    boolean tieWordEmbeddings();

    /** Whether in_proj and out_proj have biases (use_bias). */
    boolean useBias();

    /** Whether the depthwise conv has a bias (use_conv_bias). */
    boolean useConvBias();

    /** The dimensions PEFT methods size their parameters from. */
    org.ssmpeft.api.shape.ModelShape toShape();
}
