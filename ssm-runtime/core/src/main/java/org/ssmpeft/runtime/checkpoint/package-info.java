/**
 * Mamba-1 checkpoint directories (Hugging Face and state-spaces layouts): the config
 * ({@link org.ssmpeft.runtime.checkpoint.MambaConfig}), the weights
 * ({@link org.ssmpeft.runtime.checkpoint.MambaWeights}, {@link org.ssmpeft.runtime.checkpoint.LayerWeights}) and
 * loading/saving them ({@link org.ssmpeft.runtime.checkpoint.MambaCheckpoint}).
 */
package org.ssmpeft.runtime.checkpoint;
