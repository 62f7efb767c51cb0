/**
 * Generation: {@link org.ssmpeft.runtime.generate.Generator} decodes greedily or by beam search
 * ({@link org.ssmpeft.runtime.generate.GenerationOptions}: beams, length penalty, min/max new tokens, stop tokens)
 * through the recurrent step of a {@link org.ssmpeft.runtime.backend.SsmModel}, with constant memory per token.
 */
package org.ssmpeft.runtime.generate;
